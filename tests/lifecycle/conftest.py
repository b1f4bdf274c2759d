"""Fixtures for the catalog and instance lifecycle tests."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.support import login_as
from tests.support.lifecycle import GHOST_CONFIG, GHOST_VARIABLES, Lifecycle, railway_template


@pytest.fixture(autouse=True)
def _fresh_catalog_cache(redis_conn):
    redis_conn.forget_catalog()
    yield
    redis_conn.forget_catalog()


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
    return factory.template(
        name="Ghost",
        code="ghost",
        category="cms",
        price_tier="starter",
        description="Publishing platform",
        setup_config={"variables": GHOST_VARIABLES},
        serialized_config=GHOST_CONFIG,
        monthly_estimate_cents=700,
        resources={"cpu": 1, "memory_mb": 512},
    )


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Counts SQL statements sent while the block runs (the per-transaction set_config that
    binds the RLS context included)."""

    @contextlib.contextmanager
    def counting():
        counter = QueryCounter()

        def _before(conn, cursor, statement, parameters, context, executemany):
            # SET LOCAL ROLE: how the test connection acts as each login (`dbconn`).
            if not statement.startswith("SET LOCAL ROLE"):
                counter.statements.append(statement)

        # Every engine: under `dbconn` the app's sessions run on the test's own connection.
        event.listen(Engine, "before_cursor_execute", _before)
        try:
            yield counter
        finally:
            event.remove(Engine, "before_cursor_execute", _before)

    return counting


# --- the lifecycle against the Railway emulator, with a real Celery worker -----------------


@pytest.fixture
def lifecycle(app, celery_worker, committed_factory, railway_emulator):
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Tenant

    railway_emulator.configure(
        deploy_seconds=1.0,
        deploy_jitter=0.0,
        workflow_seconds=0.3,
        log_interval=0.2,
        crash_after=0.5,
        removal_seconds=0.2,
    )
    saved = app.config["DEPLOY_TIMEOUT_SECONDS"]
    plan = committed_factory.plan(max_instances=20)
    user, tenant = committed_factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = railway_template(railway_emulator, committed_factory, "ghost")
    browser = app.test_client()
    login_as(app, browser, user)
    yield Lifecycle(
        app=app,
        emulator=railway_emulator,
        factory=committed_factory,
        user=user,
        tenant=tenant,
        template=template,
        browser=browser,
    )
    app.config["DEPLOY_TIMEOUT_SECONDS"] = saved
