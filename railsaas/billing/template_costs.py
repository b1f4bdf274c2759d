"""What each template really costs on the platform: the median, over its instances that had
usage in the last 30 complete days, of each one's monthly cost (its Railway cost on the days
it ran, scaled to 30 days, at the customer's prices), shown beside the catalog's estimate.

Usage rows belong to workspaces, and the catalog is public: a system job computes the
medians across workspaces and stores only them on the template (templates are a catalog
table everyone reads), once at least COST_MEDIAN_MIN_INSTANCES instances have usage. A
median of fewer says more about one customer than about the template, so it is not shown.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from railsaas.billing.usage import price_cents
from railsaas.models import Template

WINDOW_DAYS = 30

_MEDIANS = text("""
WITH per_instance AS (
    SELECT i.template_id, r.instance_id,
           sum(r.cost_cents) / count(DISTINCT r.day) * :days AS monthly
    FROM usage_rollups r JOIN instances i ON i.id = r.instance_id
    WHERE r.day >= :since AND r.day < :until
    GROUP BY i.template_id, r.instance_id
)
SELECT template_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY monthly) AS median,
       count(*) AS instances
FROM per_instance GROUP BY template_id
""")


def medians(session: Session, today: date, markup_percent: int) -> dict[uuid.UUID, tuple[int, int]]:
    """{template id: (median monthly cents at the customer's prices, instances)}."""
    rows = session.execute(
        _MEDIANS,
        {"days": WINDOW_DAYS, "until": today, "since": today - timedelta(days=WINDOW_DAYS)},
    ).all()
    return {
        tid: (price_cents(Decimal(str(median)), markup_percent), int(n)) for tid, median, n in rows
    }


def refresh(session: Session, today: date, *, markup_percent: int, min_instances: int) -> int:
    """Store each template's median (NULL below the minimum). System context. Returns how
    many templates show one."""
    found = {
        tid: v
        for tid, v in medians(session, today, markup_percent).items()
        if v[1] >= min_instances
    }
    session.execute(
        update(Template)
        .values(median_monthly_cents=None, median_instances=None)
        .where(Template.median_instances.isnot(None))
    )
    for tid, (cents, n) in found.items():
        session.execute(
            update(Template)
            .where(Template.id == tid)
            .values(median_monthly_cents=cents, median_instances=n)
        )
    return len(found)
