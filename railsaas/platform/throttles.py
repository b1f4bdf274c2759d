"""Throttles: every rate limit of the app, named once here, counted in Redis by the `limits`
library (fixed windows).

A `Limit` names its Redis namespace and where its amount and window come from (a setting in
railsaas/config.py, or a constant); callers pass the keys it is counted by:

    if not throttles.hit(throttles.MAIL_RESEND, purpose, digest):
        ...  # over the limit: say so, with throttles.reset_after(...) seconds to wait

    hit(limit, *keys) -> bool     count one attempt; False once over the limit
    test(limit, *keys) -> bool    whether one more attempt would be allowed (counts nothing)
    take(limit, *keys) -> Window  count one attempt and report limit/remaining/reset (the
                                  API's X-RateLimit-* headers); None when off or unknown
    clear(limit, *keys)           forget the count (a successful sign-in clears its account)
    reset_after(limit, *keys)     seconds until the window starts afresh (Retry-After)

A window starts at its first hit and lasts `window` seconds; a limit counted per calendar
day (`per_utc_day`) starts afresh at midnight UTC instead. A window's edge lets a client
spend up to twice its amount across two windows: the price of one round trip per hit (a
sliding log would store every request). Changing an amount starts its counts afresh (the
amount is part of the key). An amount or window of 0 turns a limit off.

Redis down: every throttle here fails open, with a warning in the log ("redis unavailable:
... skipped"): sign-in still works rather than locking everyone out, email and invitations
still go out, the API answers without X-RateLimit-* headers, sign-up and password reset go
on. These were each area's behaviour before the throttles moved here, and they stay so: a
Redis outage must not take sign-in and the API down with it. `hit` and `test` then say
allowed, `take` says None, `clear` does nothing, `reset_after` says 0.

Keys live under `throttle:<namespace>/...` in REDIS_URL's database (never the cache's: a
throttle evicted by an LRU cache would be no throttle).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from flask import current_app
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from railsaas.extensions import redis_client

log = logging.getLogger(__name__)

KEY_PREFIX = "throttle"
DAY = 86400

Amount = Callable[[Mapping[str, Any]], int]


def _setting(name: str, times: int = 1) -> Amount:
    return lambda config: int(config[name]) * times


def _fixed(value: int) -> Amount:
    return lambda _config: value


@dataclass(frozen=True)
class Limit:
    namespace: str  # e.g. "auth:login-account": the Redis keys' namespace and the log's name
    amount: Amount  # attempts allowed per window, from the app's config
    window: Amount  # seconds
    per_utc_day: bool = False  # counted per calendar day (UTC) rather than from the first hit

    def item(self, config: Mapping[str, Any]) -> RateLimitItem | None:
        amount, window = self.amount(config), self.window(config)
        if amount <= 0 or window <= 0:
            return None
        return RateLimitItemPerSecond(amount, window, namespace=self.namespace)


# --- the limits ---------------------------------------------------------------------------------

# Failed sign-ins (and re-authentications) per account, keyed by a digest of the email, and
# per client IP (4x as many, as offices share an address); the account's count is cleared by
# a successful sign-in.
LOGIN_PER_ACCOUNT = Limit(
    "auth:login-account", _setting("LOGIN_MAX_ATTEMPTS"), _setting("LOGIN_LOCK_SECONDS")
)
LOGIN_PER_IP = Limit(
    "auth:login-ip", _setting("LOGIN_MAX_ATTEMPTS", 4), _setting("LOGIN_LOCK_SECONDS")
)
# Wrong second-factor codes per user (two_factor), in the sign-in lock's window.
TWO_FACTOR_PER_USER = Limit(
    "auth:two-factor-user", _setting("TWO_FACTOR_MAX_ATTEMPTS"), _setting("LOGIN_LOCK_SECONDS")
)
# One verification or reset email per address (and purpose) a minute.
MAIL_RESEND = Limit("auth:mail", _fixed(1), _fixed(60))
# Per client IP, on the forms anyone may post (pages and API alike).
SIGNUP_PER_IP = Limit("auth:signup-ip", _setting("SIGNUPS_PER_IP_PER_HOUR"), _fixed(3600))
FORGOT_PER_IP = Limit("auth:forgot-ip", _setting("FORGOT_PER_IP_PER_HOUR"), _fixed(3600))
VERIFY_RESEND_PER_IP = Limit(
    "auth:verify-resend-ip", _setting("VERIFY_RESEND_PER_IP_PER_HOUR"), _fixed(3600)
)
# One resend of an invitation a minute; invitation emails per workspace per (UTC) day.
INVITATION_RESEND = Limit("teams:resend", _fixed(1), _fixed(60))
INVITATIONS_PER_DAY = Limit(
    "teams:invitations", _setting("INVITATIONS_PER_DAY"), _fixed(DAY), per_utc_day=True
)
# The JSON API: requests per credential (an API token, or one user's session tokens) and per
# client IP, signed in or not.
API_PER_TOKEN = Limit(
    "api:credential", _setting("API_RATE_LIMIT_PER_TOKEN"), _setting("API_RATE_WINDOW_SECONDS")
)
API_PER_IP = Limit("api:ip", _setting("API_RATE_LIMIT_PER_IP"), _setting("API_RATE_WINDOW_SECONDS"))


# --- counting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset: int  # seconds until the window starts afresh
    exceeded: bool


_limiters: dict[str, FixedWindowRateLimiter] = {}
_limiters_lock = threading.Lock()


def _limiter() -> FixedWindowRateLimiter:
    """One limiter per Redis URL per process, on the app's pooled client for that URL (the
    URL is read per call: tests point REDIS_URL at a dead port to see Redis fail)."""
    url = current_app.config["REDIS_URL"]
    limiter = _limiters.get(url)
    if limiter is None:
        with _limiters_lock:
            limiter = _limiters.get(url)
            if limiter is None:
                pool = redis_client(url).connection_pool
                storage = RedisStorage(url, connection_pool=pool, key_prefix=KEY_PREFIX)
                limiter = _limiters[url] = FixedWindowRateLimiter(storage)
    return limiter


def _keys(limit: Limit, keys: tuple[Any, ...]) -> tuple[str, ...]:
    out = tuple(str(k) for k in keys)
    if limit.per_utc_day:
        out += (f"{datetime.now(UTC):%Y%m%d}",)
    return out


def _unavailable(limit: Limit, what: str) -> None:
    log.warning(
        "redis unavailable: %s throttle %s skipped",
        limit.namespace,
        what,
        extra={"throttle": limit.namespace},
    )


def hit(limit: Limit, *keys: Any) -> bool:
    """Count one attempt; False once the window's amount is spent (each further attempt
    still counts). True when the limit is off or Redis is down."""
    item = limit.item(current_app.config)
    if item is None:
        return True
    try:
        return _limiter().hit(item, *_keys(limit, keys))
    except redis.RedisError:
        _unavailable(limit, "hit")
        return True


def test(limit: Limit, *keys: Any) -> bool:
    """Whether one more attempt would be allowed, counting nothing."""
    item = limit.item(current_app.config)
    if item is None:
        return True
    try:
        return _limiter().test(item, *_keys(limit, keys))
    except redis.RedisError:
        _unavailable(limit, "check")
        return True


def take(limit: Limit, *keys: Any) -> Window | None:
    """Count one attempt and report the window (for rate-limit headers)."""
    item = limit.item(current_app.config)
    if item is None:
        return None
    ids = _keys(limit, keys)
    limiter = _limiter()
    try:
        allowed = limiter.hit(item, *ids)
        stats = limiter.get_window_stats(item, *ids)
    except redis.RedisError:
        _unavailable(limit, "hit")
        return None
    return Window(
        limit=item.amount,
        remaining=stats.remaining,
        reset=max(1, math.ceil(stats.reset_time - time.time())),
        exceeded=not allowed,
    )


def clear(limit: Limit, *keys: Any) -> None:
    item = limit.item(current_app.config)
    if item is None:
        return
    try:
        _limiter().clear(item, *_keys(limit, keys))
    except redis.RedisError:
        _unavailable(limit, "clear")


def reset_after(limit: Limit, *keys: Any) -> int:
    """Seconds until the window starts afresh (at least 1 while counted; 0 when unknown)."""
    item = limit.item(current_app.config)
    if item is None:
        return 0
    if limit.per_utc_day:
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, math.ceil((midnight - now).total_seconds()))
    try:
        stats = _limiter().get_window_stats(item, *_keys(limit, keys))
    except redis.RedisError:
        _unavailable(limit, "read")
        return 0
    return max(1, math.ceil(stats.reset_time - time.time()))
