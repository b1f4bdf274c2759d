"""railsaas.db picks the database login from the context's role: web by default, admin for
'platform_admin', system for SYSTEM; a unit of work never changes login after it has
written. Real engines and logins (`committed`), not the test's switching connection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from railsaas.db import SYSTEM, LoginChangeAfterWrite, TenantContext, set_context
from railsaas.extensions import db
from railsaas.models import Template


def _who(session) -> str:
    return session.scalar(sa.text("SELECT session_user"))


@pytest.mark.parametrize(
    ("role", "setting"),
    [("", "APP_DB_USER"), ("platform_admin", "ADMIN_DB_USER"), ("system", "SYSTEM_DB_USER")],
)
def test_each_context_runs_as_its_own_login(app, committed, role, setting):
    with db.scope(TenantContext(role=role)) as s:
        assert _who(s) == app.config[setting]


def test_a_read_only_transaction_moves_to_the_admin_login(app, committed):
    with db.scope(TenantContext()) as s:
        assert _who(s) == app.config["APP_DB_USER"]
        set_context(s, TenantContext(role="platform_admin"))
        assert _who(s) == app.config["ADMIN_DB_USER"]


def test_a_transaction_that_wrote_cannot_change_login(app, committed):
    with db.scope(SYSTEM) as s:
        s.add(
            Template(
                railway_template_id="t-login",
                name="T",
                category="cms",
                price_tier="starter",
                resources={},
            )
        )
        s.flush()
        with pytest.raises(LoginChangeAfterWrite):
            set_context(s, TenantContext())
        assert _who(s) == app.config["SYSTEM_DB_USER"]
        s.rollback()
