"""The pool of Railway workspaces on the admin page: what each holds and uses, and the
admins' changes (add, drain, reopen, close), each audited. Bad input is refused whole, with
every field's problem named (ValidationFailed, 422), and nothing is written."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from railsaas.errors import Conflict, Forbidden, NotFound, ValidationFailed
from railsaas.extensions import redis_client
from railsaas.models import Instance, RailwayWorkspace, Tenant, User
from railsaas.platform import audit
from railsaas.railway import pool
from railsaas.railway.breaker import CircuitBreaker
from railsaas.railway.ratelimit import PLAN_LIMITS, RateBudget, limits_for

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_RAILWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_DOLLARS = re.compile(r"^\d{1,9}(?:\.\d{1,2})?$")
MAX_TOKEN = 500
TOKEN_NEEDED = "The workspace token from Railway's account settings."  # noqa: S105 - a message
TOKEN_MALFORMED = "That does not look like a Railway token."  # noqa: S105 - a message
# Spend at this share of Railway's usage limit warns (the page, the alert, the email).
WARN_AT = Decimal("0.8")
TRANSITIONS = {"open": ("draining",), "draining": ("open", "closed")}


def require_admin(actor: User | None) -> None:
    if not getattr(actor, "is_platform_admin", False):
        raise Forbidden("Only platform admins manage the Railway workspaces.")


@dataclass(frozen=True)
class NewWorkspace:
    name: str
    railway_workspace_id: str
    token: str
    plan: str
    usage_limit_cents: int | None

    def __repr__(self) -> str:  # the token never reaches a log line or an error report
        return (
            f"NewWorkspace(name={self.name!r}, railway_workspace_id={self.railway_workspace_id!r})"
        )


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_limit(value: Any) -> int | None:
    """Dollars ("1200" or "1200.50") -> cents; empty: no limit. Raises ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lstrip("$").replace(",", "")
    if not _DOLLARS.match(text):
        raise ValueError("A dollar amount, like 500 or 1200.50.")
    try:
        cents = int(Decimal(text) * 100)
    except InvalidOperation:
        raise ValueError("A dollar amount, like 500 or 1200.50.") from None
    if cents <= 0:
        raise ValueError("More than zero, or empty for no limit.")
    return cents


def parse_new(values: Mapping[str, Any]) -> NewWorkspace:
    errors: dict[str, str] = {}
    name = _text(values, "name").lower()
    if not _NAME.match(name):
        errors["name"] = "Lower-case letters, digits, dots, dashes (up to 100)."
    railway_id = _text(values, "railway_workspace_id")
    if not _RAILWAY_ID.match(railway_id):
        errors["railway_workspace_id"] = "Railway's workspace id (letters, digits, dashes)."
    token = values.get("token") if isinstance(values.get("token"), str) else ""
    token = token.strip()
    if not token:
        errors["token"] = TOKEN_NEEDED
    elif len(token) > MAX_TOKEN or any(c.isspace() or ord(c) < 32 for c in token):
        errors["token"] = TOKEN_MALFORMED
    plan = _text(values, "plan").lower() or "pro"
    if plan not in PLAN_LIMITS:
        errors["plan"] = f"One of {', '.join(sorted(PLAN_LIMITS))}."
    limit = None
    try:
        limit = parse_limit(values.get("usage_limit"))
    except ValueError as exc:
        errors["usage_limit"] = str(exc)
    if any("\x00" in v for v in values.values() if isinstance(v, str)):
        errors["form"] = "The input contains a NUL character."
    if errors:
        raise ValidationFailed("Some fields need another look.", details=errors)
    return NewWorkspace(name, railway_id, token, plan, limit)


def add(session: Session, actor: User, data: NewWorkspace) -> RailwayWorkspace:
    """A new open entry; its token encrypted with RAILWAY_TOKEN_KEY (refused without one)."""
    require_admin(actor)
    errors = {}
    if session.scalar(select(RailwayWorkspace.id).where(RailwayWorkspace.name == data.name)):
        errors["name"] = "Another entry has this name."
    if session.scalar(
        select(RailwayWorkspace.id).where(
            RailwayWorkspace.railway_workspace_id == data.railway_workspace_id
        )
    ):
        errors["railway_workspace_id"] = "This Railway workspace is in the pool already."
    if errors:
        raise ValidationFailed("Some fields need another look.", details=errors)
    try:
        ciphertext = pool.encrypt_token(data.token)
    except pool.TokenKeyMissing:
        raise ValidationFailed(
            "Tokens cannot be stored: RAILWAY_TOKEN_KEY is not set.",
            details={"token": "Set RAILWAY_TOKEN_KEY on every process, then add it again."},
        ) from None
    row = RailwayWorkspace(
        name=data.name,
        railway_workspace_id=data.railway_workspace_id,
        token_source=pool.STORED,
        token_ciphertext=ciphertext,
        plan=data.plan,
        usage_limit_cents=data.usage_limit_cents,
        state="open",
    )
    session.add(row)
    session.flush()
    _audit(session, "railway_workspace.added", row, plan=row.plan)
    return row


def _audit(session: Session, action: str, row: RailwayWorkspace, **details: Any) -> None:
    audit.record(
        session,
        action,
        target_type="railway_workspace",
        target_id=row.id,
        tenant_id=None,
        details={"name": row.name, **details},
    )


def _get(session: Session, entry_id: uuid.UUID) -> RailwayWorkspace:
    row = session.scalar(
        select(RailwayWorkspace).where(RailwayWorkspace.id == entry_id).with_for_update()
    )
    if row is None:
        raise NotFound("No such Railway workspace in the pool.")
    return row


def live_instances(session: Session, row: RailwayWorkspace) -> int:
    here = Instance.railway_workspace_id == row.id
    if row.token_source == pool.ENVIRONMENT:
        here = or_(here, Instance.railway_workspace_id.is_(None))
    return session.scalar(select(func.count()).where(here, Instance.status != "deleted")) or 0


def set_state(session: Session, actor: User, entry_id: uuid.UUID, state: str) -> RailwayWorkspace:
    """draining: no new workspaces are placed there (its own keep deploying there); open
    again; closed: retired, only once it holds no live instance."""
    require_admin(actor)
    row = _get(session, entry_id)
    if state not in TRANSITIONS.get(row.state, ()):
        raise Conflict(f"A {row.state} Railway workspace cannot become {state}.")
    if state == "closed" and (n := live_instances(session, row)):
        raise Conflict(
            f"{n} live instance{'s' if n != 1 else ''} still run there; drain it and wait "
            "until they are deleted before closing it."
        )
    before = row.state
    row.state = state
    session.flush()
    _audit(session, f"railway_workspace.{state}", row, before=before)
    pool.forget(row.id)
    return row


def set_usage_limit(
    session: Session, actor: User, entry_id: uuid.UUID, value: Any
) -> RailwayWorkspace:
    require_admin(actor)
    try:
        cents = parse_limit(value)
    except ValueError as exc:
        raise ValidationFailed(
            "Check the usage limit.", details={"usage_limit": str(exc)}
        ) from None
    row = _get(session, entry_id)
    before = row.usage_limit_cents
    row.usage_limit_cents = cents
    session.flush()
    _audit(session, "railway_workspace.usage_limit", row, before=before, after=cents)
    return row


# --- the page ---------------------------------------------------------------------------------


def overview(session: Session, actor: User, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each entry with its instances and workspaces placed, its budget use in the last hour
    and breaker state (from Redis), and its spend against Railway's usage limit."""
    require_admin(actor)
    rows = pool.entries(session)
    counts = dict(
        session.execute(
            select(Instance.railway_workspace_id, func.count())
            .where(Instance.status != "deleted")
            .group_by(Instance.railway_workspace_id)
        ).all()
    )
    tenants = dict(
        session.execute(
            select(Tenant.railway_workspace_id, func.count())
            .where(Tenant.railway_workspace_id.isnot(None))
            .group_by(Tenant.railway_workspace_id)
        ).all()
    )
    stored = {
        r.id: r
        for r in session.scalars(
            select(RailwayWorkspace).where(RailwayWorkspace.id.in_([e.id for e in rows]))
        )
    }
    try:
        redis = redis_client()
    except Exception:  # noqa: BLE001 - the page shows the pool without live figures
        redis = None
    out = []
    for e in rows:
        row = stored[e.id]
        instances = counts.get(e.id, 0) + (counts.get(None, 0) if e.is_environment else 0)
        if e.is_environment:
            plan = config.get("RAILWAY_PLAN") or "pro"
            limits = limits_for(
                plan, config.get("RAILWAY_RATE_PER_HOUR"), config.get("RAILWAY_RATE_PER_SECOND")
            )
            railway_id = config.get("RAILWAY_WORKSPACE_ID") or ""
        else:
            plan = e.plan
            limits = limits_for(plan, e.rate_per_hour, e.rate_per_second)
            railway_id = e.railway_workspace_id or ""
        budget, breaker = {}, "unknown"
        if redis is not None:
            prefix = pool.key_prefix(e.id)
            try:
                budget = RateBudget(redis, limits, prefix=prefix).snapshot()
                breaker = CircuitBreaker(redis, prefix=prefix).state()
            except Exception:  # noqa: BLE001 - Redis down: figures unknown, page still renders
                budget, breaker = {}, "unknown"
        limit = row.usage_limit_cents
        spend = row.spend_cents
        ratio = (Decimal(spend) / Decimal(limit)) if (limit and spend is not None) else None
        out.append(
            {
                "id": e.id,
                "name": e.name,
                "railway_workspace_id": railway_id,
                "from_environment": e.is_environment,
                "state": e.state,
                "plan": plan,
                "instances": instances,
                "workspaces": tenants.get(e.id, 0),
                "per_hour": limits.per_hour,
                "last_hour": budget.get("last_hour"),
                "budget_share": (budget["last_hour"] / limits.per_hour) if budget else None,
                "breaker": breaker,
                "usage_limit_cents": limit,
                "spend_cents": spend,
                "spend_checked_at": row.spend_checked_at,
                "spend_ratio": ratio,
                "near_limit": ratio is not None and ratio >= WARN_AT,
                "transitions": TRANSITIONS.get(e.state, ()),
            }
        )
    return out
