"""A Stripe stand-in that the unmodified stripe-python client talks to.

    python -m devtools.emulators.stripe --port 12111 \
        --webhook-url http://localhost:5000/api/stripe/webhook --webhook-secret whsec_...

Point stripe-python at it with `StripeClient(key, base_addresses={"api": url})` (the app
does this when STRIPE_API_BASE is set). See server.StripeEmulator for use in tests.
"""

from devtools.emulators.stripe.server import StripeEmulator
from devtools.emulators.stripe.webhooks import sign

__all__ = ["StripeEmulator", "sign"]
