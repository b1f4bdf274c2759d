"""Billing test helpers: plans priced in the Stripe emulator, signed webhook deliveries, the
app on a real port (so the emulator can deliver webhooks to it), and polling for effects
that happen in Celery."""

from __future__ import annotations

import threading

import pytest
import stripe
from werkzeug.serving import make_server

from tests.support.billing import (
    make_plans,
)


@pytest.fixture
def sc(stripe_emulator) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_emulator", base_addresses={"api": stripe_emulator.url}, max_network_retries=0
    )


@pytest.fixture
def plans(app, stripe_emulator, dbconn):
    return make_plans(app)


@pytest.fixture
def committed_plans(app, stripe_emulator, committed):
    return make_plans(app)


class LiveServer:
    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server(app, committed):
    """The app on a real port, with real commits, for the emulator's webhook deliveries."""
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def webhooks_to_app(stripe_emulator, live_server):
    """The emulator delivers its webhooks to the live app (signed with the app's secret)."""
    stripe_emulator.configure_webhooks(
        url=f"{live_server.url}/api/stripe/webhook", retry_base_seconds=0.2
    )
    return stripe_emulator
