"""Extensions created once at import and initialised in create_app (the Flask pattern)."""

from __future__ import annotations

import redis
from flask import current_app
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from railsaas.db import db

login_manager = LoginManager()
csrf = CSRFProtect()

__all__ = ["cache_redis", "csrf", "db", "login_manager", "redis_client"]

_redis: dict[str, redis.Redis] = {}


def redis_client(url: str | None = None) -> redis.Redis:
    """One pooled client per URL per process; the current app's REDIS_URL by default."""
    if url is None:
        url = current_app.config["REDIS_URL"]
    client = _redis.get(url)
    if client is None:
        client = _redis[url] = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=30,
            retry_on_timeout=True,
        )
    return client


def cache_redis() -> redis.Redis:
    """The current app's cache Redis: CACHE_REDIS_URL, or REDIS_URL when that is empty. Only
    what can be rebuilt from the database goes there (an evicting instance will do)."""
    cfg = current_app.config
    return redis_client(cfg["CACHE_REDIS_URL"] or cfg["REDIS_URL"])
