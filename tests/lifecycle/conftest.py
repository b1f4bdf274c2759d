"""Fixtures for the catalog and instance lifecycle tests."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from sqlalchemy import event

from tests.support import login_as

GHOST_CONFIG = {
    "services": {
        "svc-ghost": {
            "name": "ghost",
            "source": {"image": "ghost:5"},
            "networking": {"serviceDomains": {"ghost": {"port": 2368}}},
            "variables": {
                "ADMIN_EMAIL": {"description": "Your login", "isOptional": False},
                "SITE_TITLE": {"defaultValue": "My blog", "isOptional": True},
                "DB_PASSWORD": {"defaultValue": "${{ secret(32) }}"},
                "url": {"defaultValue": "https://${{RAILWAY_PUBLIC_DOMAIN}}"},
            },
        },
        "svc-db": {"name": "mysql", "source": {"image": "mysql:8"},
                   "variables": {"MYSQL_ROOT_PASSWORD": {"defaultValue": "${{ secret(32) }}"}}},
    }
}

GHOST_VARIABLES = [
    {"name": "ADMIN_EMAIL", "label": "Admin email", "required": True,
     "pattern": r"[^@\s]+@[^@\s]+\.[^@\s]+", "help": "you@example.com"},
    {"name": "SITE_TITLE", "label": "Site title", "default": "My blog"},
    {"name": "API_KEY", "label": "API key", "generate": "secret"},
]


@pytest.fixture(autouse=True)
def _fresh_catalog_cache(servers):
    import redis

    from railsaas.services.catalog import CACHE_KEY

    r = redis.Redis.from_url(servers.redis_url)
    r.delete(CACHE_KEY)
    yield
    r.delete(CACHE_KEY)
    r.close()


@dataclass
class Customer:
    user: object
    tenant: object
    plan: object


@pytest.fixture
def make_customer(app, factory):
    """A signed-in customer with a workspace on a plan (3 instances, starter + standard)."""

    def make(client, *, role: str = "owner", **plan_kw) -> Customer:
        plan = factory.plan(**plan_kw)
        user, tenant = factory.workspace(role=role)
        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Tenant

        with db.scope(SYSTEM) as s:
            s.get(Tenant, tenant.id).plan_id = plan.id
        login_as(app, client, user)
        return Customer(user=user, tenant=tenant, plan=plan)

    return make


@pytest.fixture
def ghost(factory):
    return factory.template(name="Ghost", code="ghost", category="cms", price_tier="starter",
                            description="Publishing platform",
                            setup_config={"variables": GHOST_VARIABLES},
                            serialized_config=GHOST_CONFIG, monthly_estimate_cents=700,
                            resources={"cpu": 1, "memory_mb": 512})


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Counts SQL statements sent while the block runs (the per-transaction set_config that
    binds the RLS context included)."""
    from railsaas.extensions import db

    @contextlib.contextmanager
    def counting():
        counter = QueryCounter()

        def _before(conn, cursor, statement, parameters, context, executemany):
            counter.statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", _before)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", _before)

    return counting
