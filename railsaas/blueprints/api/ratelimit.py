"""Rate limits of the JSON API: per client IP (every /api request, signed in or not) and per
credential (an API token, or all of one user's session tokens). The limits themselves, their
windows and what happens when Redis is down (skipped, with a warning) are
railsaas.platform.throttles' `API_PER_IP` and `API_PER_TOKEN`.

Every /api answer carries the tighter of its limits:
    X-RateLimit-Limit      requests allowed in the window
    X-RateLimit-Remaining  requests left in it
    X-RateLimit-Reset      seconds until it starts afresh
and going over answers 429 with `Retry-After` (seconds) and the JSON error body.
"""

from __future__ import annotations

from flask import Response, g, request

from railsaas.blueprints.api.blueprint import bp
from railsaas.errors import RateLimited
from railsaas.platform import throttles
from railsaas.platform.throttles import Window


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _enforce(window: Window | None, what: str) -> None:
    if window is None:
        return
    g.setdefault("rate_windows", []).append(window)
    if window.exceeded:
        g.rate_limited_by = window
        raise RateLimited(
            f"Too many requests {what}: try again in {window.reset} s.", retry_after=window.reset
        )


@bp.before_app_request
def _limit_ip() -> None:
    if not _is_api():
        return
    ip = request.remote_addr or "unknown"
    _enforce(throttles.take(throttles.API_PER_IP, ip), "from this address")


def limit_credential(principal) -> None:
    """Count the request against its credential (called once authentication succeeded)."""
    if principal.api_token_id is not None:
        subject = f"token:{principal.api_token_id}"
    else:
        subject = f"user:{principal.user_id}"
    _enforce(throttles.take(throttles.API_PER_TOKEN, subject), "with this credential")


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
