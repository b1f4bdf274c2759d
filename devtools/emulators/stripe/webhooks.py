"""Webhook delivery: signed exactly as Stripe signs, retried on failure, and on request
duplicated, delayed, held back and released in another order, or replayed.

Signature: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed
with the endpoint secret (the whole `whsec_...` string), computed at each attempt with the
wall clock (not the emulated one: receivers check it against their own clock).
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import httpx

from devtools.emulators.stripe.store import Store
from railsaas.outbound import tls_context

log = logging.getLogger(__name__)
# The app's development default for STRIPE_WEBHOOK_SECRET: public, like the test keys.
DEFAULT_SECRET = "whsec_emulator"  # noqa: S105


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class Settings:
    url: str | None = None
    secret: str = DEFAULT_SECRET
    enabled: bool = True  # False: the endpoint is "down"; events wait for replay
    duplicates: int = 1  # copies of each delivery, sent at the same moment
    delay_seconds: float = 0.0  # wait before the first attempt
    hold: bool = False  # keep deliveries back until release()
    max_attempts: int = 5
    retry_base_seconds: float = 0.5
    timeout_seconds: float = 10.0

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown webhook setting {key!r}")
            current = getattr(self, key)
            if isinstance(current, bool):
                value = value if isinstance(value, bool) else str(value).lower() == "true"
            elif isinstance(current, int) and not isinstance(current, bool):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self, key, value)


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    event_id: str = field(compare=False)
    attempt: int = field(compare=False, default=1)
    copies: int = field(compare=False, default=1)


class Dispatcher:
    """One background thread sends due deliveries; copies of one delivery go out from
    parallel threads so they really arrive together."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings()
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._held: list[str] = []
        self._in_flight = 0
        self._seq = itertools.count()
        self.deliveries: list[dict[str, Any]] = []
        self._stop = False
        self._http = httpx.Client(timeout=self.settings.timeout_seconds, verify=tls_context())
        self._thread = threading.Thread(
            target=self._run, name="stripe-emulator-webhooks", daemon=True
        )
        self._thread.start()

    # --- called by the store when an event is recorded -----------------------------------

    def enqueue(self, event: dict[str, Any]) -> None:
        with self._cond:
            if not self.settings.url:
                return
            event["pending_webhooks"] = 1
            if not self.settings.enabled:
                return
            if self.settings.hold:
                self._held.append(event["id"])
                return
            self._push(
                event["id"],
                time.monotonic() + self.settings.delay_seconds,
                copies=max(1, self.settings.duplicates),
            )

    def _push(self, event_id: str, due: float, attempt: int = 1, copies: int = 1) -> None:
        heapq.heappush(self._queue, _Job(due, next(self._seq), event_id, attempt, copies))
        self._cond.notify_all()

    # --- control -------------------------------------------------------------------------

    def configure(self, **values: Any) -> Settings:
        with self._cond:
            self.settings.update(values)
            self._http.timeout = httpx.Timeout(self.settings.timeout_seconds)
            return self.settings

    def release(self, order: str = "fifo", seed: int | None = None) -> list[str]:
        """Send held deliveries now, in arrival order, reversed, or shuffled."""
        with self._cond:
            held, self._held = self._held, []
            if order == "reverse":
                held.reverse()
            elif order == "shuffle":
                random.Random(seed).shuffle(held)
            elif order != "fifo":
                raise ValueError("order must be fifo, reverse or shuffle")
            now = time.monotonic()
            for event_id in held:
                self._push(event_id, now, copies=max(1, self.settings.duplicates))
            return held

    def replay(self, event_ids: list[str]) -> list[str]:
        """Deliver these events again (new attempts, new signatures)."""
        with self._cond:
            now = time.monotonic()
            for event_id in event_ids:
                self._push(event_id, now, copies=max(1, self.settings.duplicates))
            return event_ids

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (held deliveries don't count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def reset(self, settings: Settings | None = None) -> None:
        with self._cond:
            self._queue.clear()
            self._held.clear()
            self.deliveries.clear()
            if settings is not None:
                self.settings = settings

    @property
    def held(self) -> list[str]:
        with self._cond:
            return list(self._held)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._http.close()

    # --- the delivery loop ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(wait if wait is None else max(0.0, min(wait, 0.5)))
                if self._stop:
                    return
                job = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                if job.copies > 1:
                    threads = [
                        threading.Thread(target=self._attempt, args=(job,), daemon=True)
                        for _ in range(job.copies)
                    ]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                else:
                    self._attempt(job)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        with self.store.lock:
            event = self.store.find(job.event_id)
            if event is None:
                return
            body = json.dumps(self.store.render(event), indent=2)
        settings = self.settings
        if not settings.url:
            return
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(body, settings.secret),
        }
        started = time.monotonic()
        status, error = None, None
        try:
            response = self._http.post(settings.url, content=body.encode(), headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        with self._cond:
            self.deliveries.append(
                {
                    "event_id": job.event_id,
                    "type": event["type"],
                    "attempt": job.attempt,
                    "status": status,
                    "error": error,
                    "ok": ok,
                    "duration_ms": int((time.monotonic() - started) * 1000),
                    "at": time.time(),
                }
            )
            if ok:
                event["pending_webhooks"] = 0
            elif job.attempt < settings.max_attempts:
                backoff = settings.retry_base_seconds * 2 ** (job.attempt - 1)
                self._push(job.event_id, time.monotonic() + backoff, attempt=job.attempt + 1)
            else:
                log.warning("webhook %s gave up after %s attempts", job.event_id, job.attempt)
