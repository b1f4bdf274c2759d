"""Readiness checks: can this process reach what it needs to serve? (database, Redis, the
Celery broker). Run in parallel, each held to a deadline, so a black-holed server makes the
probe answer "not ready" in about two seconds rather than hang it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from sqlalchemy import text

from railsaas.extensions import db, redis_client

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 2.0
# Shared, so a probe every few seconds does not create threads; a check stuck past its
# deadline keeps its thread until the driver gives up, and the others still have room.
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="readyz")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    error: str | None = None  # the exception's class name only: messages can hold URLs


def check_database(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def check_redis(url: str) -> None:
    redis_client(url).ping()


def check_broker(celery) -> None:
    conn = celery.connection_for_write()
    try:
        # Connecting to a Redis broker opens a channel, which pings the server.
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=DEADLINE_SECONDS
        )
    finally:
        conn.release()


def _timed(name: str, fn: Callable[[], None]) -> Check:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:
        log.warning(
            "readiness check %s failed: %s", name, type(exc).__name__, extra={"check": name}
        )
        return Check(name, False, _ms(started), type(exc).__name__)
    return Check(name, True, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def run_checks(
    checks: dict[str, Callable[[], None]], deadline: float = DEADLINE_SECONDS
) -> list[Check]:
    futures = {name: _pool.submit(_timed, name, fn) for name, fn in checks.items()}
    wait(futures.values(), timeout=deadline)
    results = []
    for name, fut in futures.items():
        if fut.done():
            results.append(fut.result())
        else:
            log.warning("readiness check %s timed out", name, extra={"check": name})
            results.append(Check(name, False, deadline * 1000, "Timeout"))
    return results


def app_checks(app) -> dict[str, Callable[[], None]]:
    celery = app.extensions["celery"]
    redis_url = app.config["REDIS_URL"]
    return {
        "database": lambda: check_database(db.engine),
        "redis": lambda: check_redis(redis_url),
        "broker": lambda: check_broker(celery),
    }
