"""Redis for the tests, in one place: which databases a test session owns, and one client
that knows the app's key namespaces.

Each pytest-xdist worker (PYTEST_XDIST_WORKER=gw0, gw1, ...) gets its own pair of Redis
database numbers, counted from the database in TEST_REDIS_URL (0 when it names none):

    app   = base + 2 * worker       REDIS_URL: Celery's broker, throttles (API rate limits
                                    included), the Railway budget and breaker, locks
    cache = base + 2 * worker + 1   CACHE_REDIS_URL: caches (the template catalog)

A session flushes its own databases when it starts and touches no other. Tests clear what
they used through `RedisForTests.forget(...)` / `.forget_catalog()`, never with raw
`scan_iter` loops of their own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import redis

DATABASES = 16  # Redis' default `databases`; more workers need a redis.conf that says more

# The app's key namespaces, so a test names what it clears.
# Throttles (railsaas.platform.throttles) live under throttle:<namespace>/...
THROTTLES = "throttle:*"
AUTH = "throttle:auth:*"  # sign-in failures and locks, email and per-IP form limits (accounts)
TEAMS = "throttle:teams:*"  # invitation throttles (teams)
API_RATE_LIMITS = "throttle:api:*"
RAILWAY = "railway:*"  # the shared rate budget and circuit breaker
# In the cache database: drawn fragments and the dashboard's figures (versioned, see
# railsaas.versions).
# Drawn fragments, dashboard figures and signed-in request contexts (railsaas.context_cache).
CACHED_PAGES = ("fragment:*", "dashboard:*", "ctx:*")
SCAN_STEP = 1000


def worker_index() -> int:
    """gw3 -> 3; no xdist (or a name that is not gwN, as when set by hand) -> 0."""
    m = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(m.group(1)) if m else 0


def with_db(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


@dataclass(frozen=True)
class RedisDatabases:
    app_url: str
    cache_url: str

    @classmethod
    def for_this_worker(cls, base_url: str) -> RedisDatabases:
        path = urlsplit(base_url).path.strip("/")
        base = int(path) if path.isdigit() else 0
        app_db = base + 2 * worker_index()
        if app_db + 1 >= DATABASES:
            raise RuntimeError(
                f"Redis database {app_db + 1} is past the {DATABASES} a default "
                f"Redis has: use a lower database in TEST_REDIS_URL ({base_url})"
                " or fewer xdist workers"
            )
        return cls(app_url=with_db(base_url, app_db), cache_url=with_db(base_url, app_db + 1))

    def flush(self) -> None:
        for url in (self.app_url, self.cache_url):
            client = redis.Redis.from_url(url)
            try:
                client.flushdb()
            finally:
                client.close()


class RedisForTests(redis.Redis):
    """A Redis client on the app's database with helpers to clear its namespaces (and the
    cache database's, through `cache_url`)."""

    cache_url: str = ""

    def forget(self, *patterns: str) -> int:
        # SCAN walks the whole database (every test's sessions pile up in it): in big steps,
        # not redis-py's default of ten keys a round trip.
        keys = [key for pattern in patterns for key in self.scan_iter(pattern, count=SCAN_STEP)]
        return self.delete(*keys) if keys else 0

    def forget_catalog(self) -> None:
        """The catalog's cached reads: rows a test makes bypass the catalog's invalidation,
        and cached rows would outlive a rolled-back or truncated test."""
        from railsaas.catalog.templates import CACHE_KEY  # noqa: PLC0415 - needs railsaas

        if not self.cache_url:
            self.delete(CACHE_KEY)
            return
        cache = redis.Redis.from_url(self.cache_url)
        try:
            cache.delete(CACHE_KEY)
        finally:
            cache.close()

    def forget_cached_pages(self) -> None:
        """Drawn fragments, dashboard figures and request contexts (railsaas.context,
        reporting.dashboard, railsaas.context_cache): rows a test makes outside the app bump
        no version token."""
        cache = redis.Redis.from_url(self.cache_url) if self.cache_url else self
        try:
            for pattern in CACHED_PAGES:
                keys = list(cache.scan_iter(pattern, count=SCAN_STEP))
                if keys:
                    cache.delete(*keys)
        finally:
            if cache is not self:
                cache.close()


def connect(url: str, cache_url: str = "") -> RedisForTests:
    """A client on `url` (the app's database) whose `forget_catalog` clears `cache_url` (the
    app's CACHE_REDIS_URL; empty: the same database)."""
    client = RedisForTests.from_url(url, decode_responses=True)
    client.cache_url = cache_url
    return client


def forget_cached_catalog(redis_url: str, cache_url: str = "") -> None:
    client = connect(redis_url, cache_url)
    try:
        client.forget_catalog()
    finally:
        client.close()
