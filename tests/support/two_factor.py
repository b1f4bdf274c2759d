"""Two-factor sign-in in tests: platform admins must have it (railsaas.accounts.two_factor),
so every helper that signs someone in (web.login_as, api.session_token, api.make_token,
browser.sign_in) enrols an admin with the known secret ADMIN_TOTP_SECRET first, and answers
the second step with a code from it. Tests of 2FA itself enrol through the pages instead."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pyotp
from sqlalchemy import select, update

from railsaas.accounts import two_factor
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import TwoFactor, User

ADMIN_TOTP_SECRET = "RAILSAASTESTADMINTOTPSECRETBASE"  # base32


def is_admin(user_id: uuid.UUID) -> bool:
    """The user's platform role as stored now (tests promote people after creating them)."""
    with db.scope(SYSTEM) as s:
        return s.scalar(select(User.role).where(User.id == user_id)) == "admin"


def enrol(user_id: uuid.UUID, secret: str = ADMIN_TOTP_SECRET) -> None:
    """Turn 2FA on for the user with `secret` (as a confirmed enrolment would), unless it
    already is."""
    with db.scope(SYSTEM) as s:
        if s.get(TwoFactor, user_id) is None:
            s.add(
                TwoFactor(
                    user_id=user_id,
                    # The test app's SECRET_KEY (tests/conftest.py sets it in the environment).
                    secret_encrypted=two_factor.seal(secret, os.environ["SECRET_KEY"]),
                    enabled_at=datetime.now(UTC),
                )
            )


def enrol_if_admin(user_id: uuid.UUID) -> bool:
    if is_admin(user_id):
        enrol(user_id)
        return True
    return False


def fresh_code(user_id: uuid.UUID, secret: str = ADMIN_TOTP_SECRET) -> str:
    """A code the app accepts now: the current one, with the user's last accepted step
    forgotten first (a test signing in twice within 30 seconds would otherwise reuse it, as
    a person would wait for the next code)."""
    with db.scope(SYSTEM) as s:
        s.execute(update(TwoFactor).where(TwoFactor.user_id == user_id).values(last_step=None))
    return pyotp.TOTP(secret).now()
