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

    from railsaas.catalog.templates import CACHE_KEY

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


# --- the lifecycle against the Railway emulator, with a real Celery worker -----------------

@dataclass
class Lifecycle:
    """A customer, a template from the emulator's catalog, a signed-in browser, and helpers
    that drive the poll (beat is not running in tests) until something is true."""

    app: object
    emulator: object
    factory: object
    user: object
    tenant: object
    template: object
    browser: object

    def csrf(self) -> str:
        from tests.conftest import csrf_from

        return csrf_from(self.browser.get("/instances/").get_data(as_text=True))

    def deploy(self, name: str, template=None, **variables) -> str:
        template = template or self.template
        resp = self.browser.post(
            f"/templates/{template.id}/deploy",
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf()},
            data={"name": name, **{f"variables.{k}": v for k, v in variables.items()}})
        assert resp.status_code == 204, resp.get_data(as_text=True)
        return resp.headers["HX-Redirect"].rsplit("/", 1)[1]

    def act(self, instance_id: str, action: str) -> None:
        resp = self.browser.post(f"/instances/{instance_id}/actions/{action}",
                                 headers={"X-CSRFToken": self.csrf()})
        assert resp.status_code == 303, resp.get_data(as_text=True)

    def instance(self, instance_id):
        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Instance

        with db.scope(SYSTEM) as s:
            inst = s.get(Instance, instance_id)
            s.expunge(inst)
            return inst

    def steps(self, instance_id) -> list[tuple[str, str]]:
        from sqlalchemy import select

        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Deployment

        with db.scope(SYSTEM) as s:
            return [(d.kind, d.status) for d in s.scalars(
                select(Deployment).where(Deployment.instance_id == instance_id)
                .order_by(Deployment.created_at))]

    def email_subjects(self) -> list[str]:
        from sqlalchemy import select

        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Email

        with db.scope(SYSTEM) as s:
            return list(s.scalars(select(Email.subject).where(
                Email.tenant_id == self.tenant.id)))

    def poll(self) -> None:
        from railsaas.instances import poll

        with self.app.app_context():
            poll.poll()

    def wait_for(self, instance_ids, statuses, timeout: float = 45.0) -> dict:
        """Poll until every instance is in one of `statuses`; return {id: status}."""
        import time

        ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        deadline = time.monotonic() + timeout
        seen = {}
        while True:
            self.poll()
            seen = {i: self.instance(i).status for i in ids}
            if all(s in wanted for s in seen.values()):
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"still {seen}, waiting for {wanted}")
            time.sleep(0.3)

    def projects_named(self, instance_id) -> list[dict]:
        return [p for p in self.emulator.state()["projects"]
                if p["name"] == f"railsaas-{instance_id}" and not p["deleted"]]


def railway_template(emulator, factory, code: str, **kw):
    from railsaas.catalog.variables import propose_specs

    found = next(t for t in emulator.templates() if t["code"] == code)
    fields = dict(railway_template_id=found["id"], code=code, name=found["name"],
                  category=found["category"].lower(), price_tier="starter",
                  serialized_config=found["serializedConfig"],
                  setup_config={"variables": propose_specs(found["serializedConfig"])})
    fields.update(kw)
    return factory.template(**fields)


@pytest.fixture
def lifecycle(app, celery_worker, committed_factory, railway_emulator):
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Tenant

    railway_emulator.configure(deploy_seconds=1.0, deploy_jitter=0.0, workflow_seconds=0.3,
                               log_interval=0.2, crash_after=0.5, removal_seconds=0.2)
    saved = app.config["DEPLOY_TIMEOUT_SECONDS"]
    plan = committed_factory.plan(max_instances=20)
    user, tenant = committed_factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = railway_template(railway_emulator, committed_factory, "ghost")
    browser = app.test_client()
    login_as(app, browser, user)
    yield Lifecycle(app=app, emulator=railway_emulator, factory=committed_factory, user=user,
                    tenant=tenant, template=template, browser=browser)
    app.config["DEPLOY_TIMEOUT_SECONDS"] = saved
