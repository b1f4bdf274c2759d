"""Rate limits of the JSON API: per client IP (every /api request, signed in or not) and per
credential (an API token, or all of one user's session tokens), in Redis.

Fixed windows of API_RATE_WINDOW_SECONDS: one INCR per limit per request, shared by every web
process. A window's edge lets a client spend up to twice its limit across two windows; that
is the accepted price of one round trip (a sliding log would store every request).

Every /api answer carries the tighter of its limits:
    X-RateLimit-Limit      requests allowed in the window
    X-RateLimit-Remaining  requests left in it
    X-RateLimit-Reset      seconds until it starts afresh
and going over answers 429 with `Retry-After` (seconds) and the JSON error body.

Redis being down does not take the API down with it: limits are skipped, with a warning.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis
from flask import Response, current_app, g, request

from railsaas.blueprints.api.blueprint import bp
from railsaas.errors import ServiceError
from railsaas.extensions import redis_client

log = logging.getLogger(__name__)

KEY_PREFIX = "ratelimit:api"


class RateLimited(ServiceError):
    status, code = 429, "rate_limited"


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset: int  # seconds until the window starts afresh
    exceeded: bool


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def hit(subject: str, limit: int) -> Window | None:
    """Count one request against `subject`'s window; None when limits are off or Redis is
    unreachable."""
    window = int(current_app.config["API_RATE_WINDOW_SECONDS"])
    if limit <= 0 or window <= 0:
        return None
    now = time.time()
    start = int(now // window) * window
    key = f"{KEY_PREFIX}:{subject}:{start}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 1)
        count = int(pipe.execute()[0])
    except redis.RedisError:
        log.warning("redis unavailable: API rate limit skipped")
        return None
    reset = max(1, math.ceil(start + window - now))
    return Window(limit=limit, remaining=max(0, limit - count), reset=reset,
                  exceeded=count > limit)


def _enforce(window: Window | None, what: str) -> None:
    if window is None:
        return
    g.setdefault("rate_windows", []).append(window)
    if window.exceeded:
        g.rate_limited_by = window
        raise RateLimited(f"Too many requests {what}: try again in {window.reset} s.",
                          details={"retry_after": window.reset})


@bp.before_app_request
def _limit_ip() -> None:
    if not _is_api():
        return
    ip = request.remote_addr or "unknown"
    _enforce(hit(f"ip:{ip}", int(current_app.config["API_RATE_LIMIT_PER_IP"])),
             "from this address")


def limit_credential(principal) -> None:
    """Count the request against its credential (called once authentication succeeded)."""
    if principal.api_token_id is not None:
        subject = f"token:{principal.api_token_id}"
    else:
        subject = f"user:{principal.user_id}"
    _enforce(hit(subject, int(current_app.config["API_RATE_LIMIT_PER_TOKEN"])),
             "with this credential")


@bp.after_app_request
def _headers(response: Response) -> Response:
    windows: list[Window] = g.get("rate_windows") or []
    if not windows or not _is_api():
        return response
    tightest = g.get("rate_limited_by") or min(windows, key=lambda w: (w.remaining, -w.reset))
    response.headers["X-RateLimit-Limit"] = str(tightest.limit)
    response.headers["X-RateLimit-Remaining"] = str(tightest.remaining)
    response.headers["X-RateLimit-Reset"] = str(tightest.reset)
    over = g.get("rate_limited_by")
    if response.status_code == 429 and over is not None:  # not another area's own 429
        response.headers["Retry-After"] = str(over.reset)
    return response
