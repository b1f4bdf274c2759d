"""`python -m devtools.emulators.stripe --port N [--webhook-url URL] [--webhook-secret S]`"""

from __future__ import annotations

import argparse
import logging

from devtools.emulators.stripe.server import StripeEmulator
from devtools.emulators.stripe.webhooks import DEFAULT_SECRET


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.emulators.stripe", description="A local Stripe for stripe-python."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", help="where to POST signed events")
    parser.add_argument(
        "--webhook-secret",
        default=DEFAULT_SECRET,
        help="endpoint signing secret (the app's STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument("--api-key", help="accept only this secret key (default: any sk_*)")
    parser.add_argument("--public-url", help="base URL browsers reach the hosted pages at")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="stripe-emulator %(message)s")
    emulator = StripeEmulator(
        args.host,
        args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        api_key=args.api_key,
        public_url=args.public_url,
    )
    print(
        f"Stripe emulator on {emulator.url} (webhooks -> {args.webhook_url or 'none'})", flush=True
    )
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.dispatcher.close()


if __name__ == "__main__":
    main()
