"""Operations endpoints: /healthz (the process is up), /readyz (it can reach the database,
Redis and the broker) and /metrics (Prometheus; a bearer token or a platform admin)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from redis.exceptions import RedisError

from railsaas.db import SYSTEM
from railsaas.extensions import db, redis_client
from railsaas.observability import health, metrics
from railsaas.railway.breaker import CLOSED, CircuitBreaker

bp = Blueprint("ops", __name__)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz():
    results = health.run_checks(health.app_checks(current_app))
    ready = all(c.ok for c in results)
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {
            c.name: {"ok": c.ok, "ms": c.ms, **({"error": c.error} if c.error else {})}
            for c in results
        },
    }
    return _no_store(jsonify(body)), 200 if ready else 503


def _is_loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def metrics_allowed() -> bool:
    """A matching METRICS_TOKEN bearer, or a signed-in platform admin. With no token
    configured, a direct local scraper (loopback, not forwarded by a proxy) may read too."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    auth = request.headers.get("Authorization", "")
    if token and auth.startswith("Bearer "):
        return hmac.compare_digest(auth[7:].strip().encode(), token.encode())
    if current_user.is_authenticated and current_user.is_platform_admin:
        return True
    return (
        not token and _is_loopback(request.remote_addr) and "X-Forwarded-For" not in request.headers
    )


def _railway_breaker_open() -> int | None:
    """1 while the shared Railway circuit breaker is open or probing, 0 when closed; None
    when Redis cannot say (the alert then stays silent rather than guess)."""
    prefix = current_app.config["RAILWAY_CLIENT_OPTIONS"].get("key_prefix", "railway")
    try:
        state = CircuitBreaker(redis_client(), prefix=prefix).state()
    except RedisError:
        return None
    return 0 if state == CLOSED else 1


@bp.get("/metrics", endpoint="metrics")
def metrics_view():
    if not metrics_allowed():
        status = 403 if current_user.is_authenticated else 401
        response = Response(
            "metrics require a bearer token or a platform admin\n",
            status=status,
            mimetype="text/plain",
        )
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _no_store(response)
    metrics.sample_process(force=True)
    with db.scope(SYSTEM) as session:
        counts = metrics.instance_counts(session)
    open_ = _railway_breaker_open()
    if open_ is not None:
        counts.readings["railway_breaker_open"] = open_
    body, content_type = metrics.render(counts)
    return _no_store(Response(body, content_type=content_type))
