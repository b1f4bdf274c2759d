"""Run the emulator: in a thread (tests, `make dev`) or in the foreground (the CLI)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
from werkzeug.serving import BaseWSGIServer, make_server

from devtools.emulators.stripe.account import Stripe
from devtools.emulators.stripe.app import create_app
from devtools.emulators.stripe.store import Store
from devtools.emulators.stripe.webhooks import DEFAULT_SECRET, Dispatcher, Settings
from railsaas.outbound import tls_context


class StripeEmulator:
    """The emulated Stripe account behind an HTTP server.

    `url` is what stripe-python's `api` base address should be. The helpers below are the
    Python twins of the `/_emulator/...` control endpoints."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_SECRET,
        api_key: str | None = None,
        public_url: str | None = None,
    ) -> None:
        self.store = Store()
        self.stripe = Stripe(self.store)
        self._defaults = Settings(url=webhook_url, secret=webhook_secret)
        self.dispatcher = Dispatcher(self.store, Settings(**vars(self._defaults)))
        self.store.on_event = self.dispatcher.enqueue
        self.app = create_app(self.store, self.stripe, self.dispatcher, api_key)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self.store.public_url = (public_url or self.url).rstrip("/")
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> StripeEmulator:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stripe-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.dispatcher.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every object, event and delivery; the clock and webhook settings return
        to how the emulator started."""
        self.dispatcher.wait_idle(30)
        self.store.reset()
        self.dispatcher.reset(Settings(**vars(self._defaults)))

    def now(self) -> int:
        return self.store.clock.now()

    def advance(self, *, days: float = 0, hours: float = 0, seconds: float = 0) -> int:
        """Move the clock forward and do what became due; returns how many things ran."""
        total = int(days * 86400 + hours * 3600 + seconds)
        with self.store.lock:
            self.store.clock.advance(total)
            return self.stripe.process_due(self.store.clock.now())

    def configure_webhooks(self, **settings: Any) -> Settings:
        return self.dispatcher.configure(**settings)

    def wait_for_webhooks(self, timeout: float = 30.0) -> bool:
        return self.dispatcher.wait_idle(timeout)

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Recorded events, oldest first, as Stripe would send them."""
        with self.store.lock:
            return [
                self.store.render(e)
                for e in self.store.all("event")
                if type is None or e["type"] == type
            ]

    def set_card(self, customer_id: str, number: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/_emulator/customers/{customer_id}/card",
            json={"number": number},
            timeout=10,
            verify=tls_context(),
        )
        response.raise_for_status()
        return response.json()
