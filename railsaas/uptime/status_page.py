"""A workspace's public status page (/status/<slug>): the instances its members chose to
show, each with its current state and 30-day uptime. Nothing else: no ids, domains or
internal states leave through it.

Read with nobody signed in: the slug is turned into the workspace's id by the narrow
SECURITY DEFINER function status_page_workspace (sql/rls_policies.sql), which answers only
for an active workspace that turned its page on; the rest is read with the RLS context
scoped to exactly that workspace. An unknown slug and a page that is off are the same 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from railsaas.context import Workspace
from railsaas.db import TenantContext, get_context, set_context
from railsaas.errors import NotFound
from railsaas.models import Instance, Tenant, UptimeMonitor
from railsaas.permissions import authorize
from railsaas.platform import audit
from railsaas.uptime import figures

MAX_SLUG = 100


@dataclass(frozen=True)
class Row:
    name: str
    state: str  # "operational", "down", "degraded", "unknown"
    uptime_30d: figures.Ratio


@dataclass(frozen=True)
class Page:
    name: str
    rows: list[Row]
    checked_at: datetime | None

    @property
    def all_operational(self) -> bool:
        return bool(self.rows) and all(r.state == "operational" for r in self.rows)


def _state(inst_status: str, mon: UptimeMonitor) -> str:
    if mon.down_since is not None or inst_status == "crashed":
        return "down"
    if mon.last_up is None:
        return "unknown"
    return "operational" if mon.last_up else "degraded"


def read(session: Session, slug: str, now: datetime | None = None) -> Page:
    slug = (slug or "").strip().lower()
    if not slug or len(slug) > MAX_SLUG:
        raise NotFound("No such status page.")
    tenant_id = session.scalar(text("SELECT status_page_workspace(:slug)"), {"slug": slug})
    if tenant_id is None:
        raise NotFound("No such status page.")
    caller = get_context(session)
    set_context(session, TenantContext(tenant_id=tenant_id))
    try:
        return _page(session, tenant_id, now or datetime.now(UTC))
    finally:
        set_context(session, caller)  # the scope to that workspace ends with this read


def _page(session: Session, tenant_id: uuid.UUID, now: datetime) -> Page:
    name = session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    rows = session.execute(
        select(Instance.id, Instance.name, Instance.status, UptimeMonitor)
        .join(UptimeMonitor, UptimeMonitor.instance_id == Instance.id)
        .where(
            Instance.tenant_id == tenant_id,
            UptimeMonitor.public.is_(True),
            Instance.status != "deleted",
        )
        .order_by(Instance.name)
    ).all()
    uptime = figures.uptime_by_instance(session, tenant_id, [r.id for r in rows], now)
    checked = [r.UptimeMonitor.last_checked_at for r in rows if r.UptimeMonitor.last_checked_at]
    return Page(
        name or "",
        [Row(r.name, _state(r.status, r.UptimeMonitor), uptime[r.id]["30d"]) for r in rows],
        max(checked) if checked else None,
    )


def set_enabled(session: Session, workspace: Workspace, enabled: bool) -> None:
    """Turn the workspace's public status page on or off (managers)."""
    authorize(workspace, "workspace.update")
    tenant = session.scalar(
        select(Tenant).where(Tenant.id == workspace.tenant.id).with_for_update(of=Tenant)
    )
    if tenant is None:
        raise NotFound("No such workspace.")
    tenant.status_page_enabled = enabled
    audit.record(
        session,
        "workspace.status_page",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        details={"enabled": enabled},
    )
    session.flush()
