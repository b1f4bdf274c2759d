"""Print the demo platform admin's current two-factor code (`make dev` enrols that admin
with devtools.seed.DEMO_ADMIN_TOTP_SECRET): `.venv/bin/python -m devtools.totp`."""

from __future__ import annotations

import pyotp

from devtools.seed import ADMIN, DEMO_ADMIN_TOTP_SECRET

if __name__ == "__main__":
    print(f"{ADMIN[1]}: {pyotp.TOTP(DEMO_ADMIN_TOTP_SECRET).now()}")
    print(f"Key for an authenticator app: {DEMO_ADMIN_TOTP_SECRET}")
