"""Each Railway workspace's spend this month against Railway's usage limit.

Railway caps spending per workspace only, and at its usage limit it stops every workload in
it: every customer placed there at once. So, hourly (`refresh`), each entry's usage since
the start of the month is priced at Railway's unit prices (billing.usage) and kept on the
entry; the share of the limit is a metric (`railsaas_railway_workspace_spend_ratio`, the
alert RailsaasRailwayWorkspaceNearUsageLimit) and, once a month when it reaches WARN_AT, an
email to every platform admin. A workspace whose usage cannot be read keeps its last figure.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.billing.usage import RAILWAY_CENTS_PER_UNIT
from railsaas.fleet.admin import WARN_AT
from railsaas.models import RailwayWorkspace, User
from railsaas.observability import metrics
from railsaas.platform import audit, mail
from railsaas.railway import errors as rw
from railsaas.railway import pool

log = logging.getLogger(__name__)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend_cents(client, workspace_id: str | None, start: datetime, end: datetime) -> int:
    """This period's usage of the whole Railway workspace, at Railway's prices (one request)."""
    total = Decimal(0)
    for value in client.usage(
        start=start,
        end=end,
        workspace_id=workspace_id,
        measurements=tuple(RAILWAY_CENTS_PER_UNIT),
        group_by=None,
        include_deleted=True,
    ):
        price = RAILWAY_CENTS_PER_UNIT.get(value.measurement)
        if price is not None and value.value:
            total += Decimal(str(value.value)) * price
    return int(total.to_integral_value())


def refresh(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every entry that is not closed: its spend now; the admins told once a month when it
    nears Railway's usage limit. Returns {name: spend in cents} of those read."""
    now = now or datetime.now(UTC)
    start = month_start(now)
    out: dict[str, int] = {}
    for entry in pool.entries(session):
        if entry.state == "closed":
            continue
        try:
            client = pool.client_for(entry.id)
            cents = spend_cents(client, client.workspace_id, start, now)
        except rw.RailwayError as exc:
            log.warning("spend of Railway workspace %s not read: %s", entry.name, exc)
            continue
        row = session.get(RailwayWorkspace, entry.id, with_for_update=True)
        row.spend_cents, row.spend_checked_at = cents, now
        out[row.name] = cents
        metrics.railway_workspace_spend(row.name, cents, row.usage_limit_cents)
        limit = row.usage_limit_cents
        if (
            limit
            and Decimal(cents) >= WARN_AT * limit
            and (row.spend_alerted_at is None or row.spend_alerted_at < start)
        ):
            row.spend_alerted_at = now
            _tell_admins(session, row, cents)
    session.flush()
    return out


def _tell_admins(session: Session, row: RailwayWorkspace, cents: int) -> None:
    share = Decimal(cents) / Decimal(row.usage_limit_cents) * 100
    title = f"Railway workspace {row.name} is at {share:.0f}% of its usage limit"
    body = (
        f"It has spent ${cents / 100:,.2f} of its ${row.usage_limit_cents / 100:,.2f} "
        "usage limit this month. At the limit Railway stops every workload in it, for every "
        "customer placed there. Raise the limit in Railway (then here), or drain it so new "
        "workspaces go elsewhere."
    )
    admins = session.execute(
        select(User.id, User.email, User.name).where(
            User.role == "admin", User.is_suspended.is_(False)
        )
    ).all()
    for user_id, email, name in admins:
        mail.queue(
            session,
            to=email,
            kind="admin/railway_usage_limit",
            subject=title,
            user_id=user_id,
            name=name,
            title=title,
            body=body,
            link="/admin/railway",
        )
    audit.record(
        session,
        "railway_workspace.near_usage_limit",
        target_type="railway_workspace",
        target_id=row.id,
        tenant_id=None,
        actor_user_id=None,
        details={"name": row.name, "spend_cents": cents, "limit_cents": row.usage_limit_cents},
    )
