"""Helpers shared by the tests: server handles, a factory for rows, signing in and posting
forms (`web`), waiting for a signal (`waiting`), Redis isolation, and per-area helpers in
`tests.support.<area>`. Test modules import helpers from here, never from a conftest."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import bcrypt
from sqlalchemy import text

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Instance, Membership, Plan, Template, Tenant, User
from tests.support.redis import forget_cached_catalog
from tests.support.waiting import wait_until
from tests.support.web import CsrfClient, csrf_from, login_as

__all__ = [
    "CsrfClient",
    "Factory",
    "Servers",
    "csrf_from",
    "forget_cached_catalog",
    "login_as",
    "wait_until",
]

DEFAULT_PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


@dataclass(frozen=True)
class Servers:
    admin_url: str
    database_url: str
    redis_url: str  # the app's REDIS_URL: this worker's database (tests.support.redis)
    cache_redis_url: str = ""  # this worker's cache database (CACHE_REDIS_URL)


def truncate_all(database_url: str) -> None:
    from railsaas import dbadmin

    engine = dbadmin.admin_engine(database_url)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
    engine.dispose()


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


_PASSWORD_HASH = hash_password(DEFAULT_PASSWORD)


class Factory:
    """Creates rows with the system role and commits them (inside the test's outer
    transaction when the dbconn fixture is active). Returns detached, loaded objects."""

    def _save(self, obj: Any) -> Any:
        with db.scope(SYSTEM) as s:
            s.add(obj)
            s.flush()
            s.refresh(obj)
        return obj

    def plan(self, **kw) -> Plan:
        n = next(_seq)
        fields = dict(
            name=f"Plan {n}",
            slug=f"plan-{n}",
            price_cents=1900,
            max_instances=3,
            allowed_tiers=["starter", "standard"],
            spend_cap_default_cents=5000,
            stripe_price_id=f"price_test_{n}",
        )
        fields.update(kw)
        return self._save(Plan(**fields))

    def tenant(self, **kw) -> Tenant:
        n = next(_seq)
        fields = dict(name=f"Workspace {n}", slug=f"workspace-{n}-{uuid.uuid4().hex[:6]}")
        fields.update(kw)
        return self._save(Tenant(**fields))

    def user(self, password: str | None = None, **kw) -> User:
        n = next(_seq)
        fields = dict(
            email=f"user{n}-{uuid.uuid4().hex[:6]}@example.com",
            name=f"User {n}",
            email_verified=True,
            password_hash=hash_password(password) if password else _PASSWORD_HASH,
        )
        fields.update(kw)
        return self._save(User(**fields))

    def member(self, tenant: Tenant, user: User, role: str = "owner") -> Membership:
        return self._save(Membership(tenant_id=tenant.id, user_id=user.id, role=role))

    def workspace(self, role: str = "owner", **user_kw) -> tuple[User, Tenant]:
        """A user with a workspace of their own (the shape every sign-up produces)."""
        user = self.user(**user_kw)
        tenant = self.tenant(name=f"{user.name}'s workspace")
        self.member(tenant, user, role)
        return user, tenant

    def template(self, **kw) -> Template:
        n = next(_seq)
        fields = dict(
            railway_template_id=f"tpl-{n}-{uuid.uuid4().hex[:6]}",
            code=f"code-{n}",
            name=f"Template {n}",
            description="A test template",
            category="cms",
            price_tier="starter",
            resources={"cpu": 1, "memory_mb": 512},
            setup_config={"variables": []},
            monthly_estimate_cents=500,
        )
        fields.update(kw)
        return self._save(Template(**fields))

    def instance(self, tenant: Tenant, template: Template | None = None, **kw) -> Instance:
        template = template or self.template()
        n = next(_seq)
        fields = dict(
            tenant_id=tenant.id,
            template_id=template.id,
            name=f"app-{n}",
            status="running",
            config={},
        )
        fields.update(kw)
        return self._save(Instance(**fields))
