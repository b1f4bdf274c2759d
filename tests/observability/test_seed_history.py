"""The demo history `make dev` seeds gives the admin's metrics something to show."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from devtools import seed
from devtools.seed_history import WORKSPACES, seed_business_history
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Tenant
from railsaas.reporting import business as mb


@pytest.mark.parametrize(
    "today",
    # The first of a month is when twelve calendar months reach back least (334 days).
    [None, datetime(2027, 3, 1, 0, 5, tzinfo=UTC), datetime(2026, 12, 3, 12, tzinfo=UTC)],
    ids=["now", "first-of-march", "december"],
)
def test_demo_history_fills_every_business_metric_and_seeds_once(app_ctx, dbconn, today):
    with db.scope(SYSTEM) as s:
        seed.seed_plans(s)
        seed_business_history(s, now=today)
        seed_business_history(s, now=today)  # a second `make dev` adds nothing
        assert (
            s.scalar(
                select(func.count()).select_from(Tenant).where(Tenant.slug.like("demo-history-%"))
            )
            == WORKSPACES
        )
        assert mb.mrr(s, today) > 0
        assert any(c.churned for c in mb.churn_series(s, 12, today))
        assert any(t.ended for t in mb.trial_conversion_series(s, 12, today))
        assert sum(m.value for m in mb.signups_series(s, 12, today)) >= WORKSPACES
        assert mb.template_popularity(s, now=today)[0].active > 0
        months = mb.margin_series(s, 3, today)
        assert all(m.cost_cents > 0 and m.revenue_cents > 0 for m in months)
        assert mb.margin_by_template(s, today)
        assert mb.margin_by_workspace(s, today)
