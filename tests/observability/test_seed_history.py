"""The demo history `make dev` seeds gives the admin's metrics something to show."""

from __future__ import annotations

from sqlalchemy import func, select

from devtools import seed
from devtools.seed_history import WORKSPACES, seed_business_history
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Tenant
from railsaas.reporting import business as mb


def test_demo_history_fills_every_business_metric_and_seeds_once(app_ctx, dbconn):
    with db.scope(SYSTEM) as s:
        seed.seed_plans(s)
        seed_business_history(s)
        seed_business_history(s)  # a second `make dev` adds nothing
        assert (
            s.scalar(
                select(func.count()).select_from(Tenant).where(Tenant.slug.like("demo-history-%"))
            )
            == WORKSPACES
        )
        assert mb.mrr(s) > 0
        assert any(c.churned for c in mb.churn_series(s, 12))
        assert any(t.ended for t in mb.trial_conversion_series(s, 12))
        assert sum(m.value for m in mb.signups_series(s, 12)) >= WORKSPACES
        assert mb.template_popularity(s)[0].active > 0
        months = mb.margin_series(s, 3)
        assert all(m.cost_cents > 0 and m.revenue_cents > 0 for m in months)
        assert mb.margin_by_template(s)
        assert mb.margin_by_workspace(s)
