"""A tiny HTTP endpoint that records what the Stripe emulator posts to it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    body: str
    signature: str | None
    at: float


class WebhookReceiver:
    """`together=N`: each request waits (up to `wait_seconds`) until N requests are in the
    handler at once, so a test proves concurrency by rendezvous instead of by timing."""

    def __init__(self, together: int = 0, wait_seconds: float = 30.0) -> None:
        self.received: list[Received] = []
        self.fail_next = 0  # answer 500 to this many requests first
        self.hold = threading.Event()
        self.hold.set()
        self.barrier = threading.Barrier(together) if together > 1 else None
        self.met = 0  # requests that found all their partners in the handler
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        self.hold.wait(self._wait)
        if self.barrier is not None:
            try:
                self.barrier.wait(self._wait)
            except threading.BrokenBarrierError:
                pass
            else:
                with self._lock:
                    self.met += 1
        with self._lock:
            self.received.append(
                Received(
                    request.get_data(as_text=True),
                    request.headers.get("Stripe-Signature"),
                    time.monotonic(),
                )
            )
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
        response = Response("no" if failing else "ok", status=500 if failing else 200)
        return response(environ, start_response)

    def events(self) -> list[dict]:
        import json

        return [json.loads(r.body) for r in self.received]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
