"""Plans: the price list admins edit (name, prices, limits), kept in step with Stripe.

What a plan's limits allow is decided in `instances.admission`; enforcing them after a
downgrade is `billing.limits`.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from railsaas.billing import gateway
from railsaas.errors import NotFound, ValidationFailed
from railsaas.models import Plan, Subscription, Tenant
from railsaas.models.catalog import TIERS
from railsaas.platform import audit

INTERVALS = ("month", "year")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


# --- the price list ---------------------------------------------------------------------------


def active_plans(session: Session) -> list[Plan]:
    return list(
        session.scalars(
            select(Plan).where(Plan.is_active.is_(True)).order_by(Plan.sort_order, Plan.price_cents)
        )
    )


def all_plans(session: Session) -> list[Plan]:
    return list(
        session.scalars(
            select(Plan).order_by(Plan.is_active.desc(), Plan.sort_order, Plan.price_cents)
        )
    )


def get(session: Session, plan_id: Any) -> Plan:
    try:
        plan = session.get(Plan, uuid.UUID(str(plan_id)))
    except ValueError:
        plan = None
    if plan is None:
        raise NotFound("No such plan.")
    return plan


def _cents(value: Any) -> int:
    if value is None or str(value).strip() == "":
        raise ValueError("required")
    try:
        amount = Decimal(str(value).strip().replace(",", "").lstrip("$"))
    except InvalidOperation:
        raise ValueError("enter an amount in dollars, like 19 or 19.99") from None
    if not amount.is_finite():  # "NaN", "Infinity": comparing them would raise
        raise ValueError("enter an amount in dollars, like 19 or 19.99")
    if amount < 0 or amount > 1_000_000:
        raise ValueError("between 0 and 1,000,000")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals")
    return int(amount * 100)


class PlanInput(BaseModel):
    """An admin's plan form (dollars in, cents stored)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    slug: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    price_cents: int
    currency: str = "usd"
    interval: str = "month"
    max_instances: int = Field(ge=0, le=10_000)
    allowed_tiers: list[str] = Field(min_length=1)
    included_usage_cents: int = 0
    spend_cap_default_cents: int
    trial_days: int = Field(default=0, ge=0, le=365)
    sort_order: int = Field(default=0, ge=-1000, le=1000)
    is_active: bool = True
    stripe_price_id: str | None = Field(default=None, max_length=255)
    sync_stripe: bool = True

    @field_validator(
        "price_cents", "included_usage_cents", "spend_cap_default_cents", mode="before"
    )
    @classmethod
    def _money(cls, v: Any) -> int:
        return v if isinstance(v, int) else _cents(v)

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError("lowercase letters, digits and dashes")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if not re.fullmatch(r"[a-zA-Z]{3}", v):
            raise ValueError("a three-letter code, like usd")
        return v.lower()

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        if v not in INTERVALS:
            raise ValueError("month or year")
        return v

    @field_validator("allowed_tiers")
    @classmethod
    def _tiers(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in TIERS]
        if unknown:
            raise ValueError(f"unknown tier {unknown[0]}")
        return [t for t in TIERS if t in v]

    @field_validator("stripe_price_id")
    @classmethod
    def _price(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"price_[A-Za-z0-9_]+", v):
            raise ValueError("a Stripe price id, like price_123")
        return v or None


def parse_form(form: dict[str, Any]) -> PlanInput:
    data = {k: v for k, v in form.items() if v is not None}
    for flag in ("is_active", "sync_stripe"):
        data[flag] = str(form.get(flag, "")).lower() in ("1", "on", "true", "yes")
    for key in ("price", "included_usage", "spend_cap_default"):
        if key in data:
            data[f"{key}_cents"] = data.pop(key)
    try:
        return PlanInput.model_validate(data)
    except ValidationError as exc:
        details = {}
        for err in exc.errors(include_input=False, include_url=False):
            field = str(err["loc"][0]) if err["loc"] else "form"
            field = field.removesuffix("_cents")
            details.setdefault(field, err["msg"].removeprefix("Value error, "))
        raise ValidationFailed("Some fields need another look.", details=details) from None


def _check_unique(session: Session, data: PlanInput, plan_id: uuid.UUID | None) -> None:
    for column, value, label in (
        (Plan.slug, data.slug, "slug"),
        (Plan.stripe_price_id, data.stripe_price_id, "stripe_price_id"),
    ):
        if value is None:
            continue
        other = session.scalar(select(Plan.id).where(column == value))
        if other is not None and other != plan_id:
            raise ValidationFailed(
                "Some fields need another look.", details={label: "another plan uses it"}
            )


def _sync(plan: Plan, data: PlanInput) -> None:
    """Create or check the plan's Stripe price (before anything is written), and make sure
    the meter and metered overage price exist, so Checkout only reads them."""
    if data.sync_stripe or data.stripe_price_id:
        plan.stripe_usage_price_id = gateway.usage_price_id(plan.interval)
    if data.stripe_price_id and not data.sync_stripe:
        price = gateway.retrieve_price(data.stripe_price_id)
        if price is None:
            raise ValidationFailed(
                "Stripe has no such price.", details={"stripe_price_id": "not found in Stripe"}
            )
        if not gateway.price_matches(price, plan):
            raise ValidationFailed(
                "That Stripe price has another amount, currency or interval than the plan.",
                details={"stripe_price_id": "does not match the plan's price"},
            )
        return
    if data.sync_stripe:
        plan.stripe_price_id = gateway.sync_plan_price(plan)


FIELDS = (
    "name",
    "slug",
    "description",
    "price_cents",
    "currency",
    "interval",
    "max_instances",
    "allowed_tiers",
    "included_usage_cents",
    "spend_cap_default_cents",
    "trial_days",
    "sort_order",
    "is_active",
    "stripe_price_id",
)


def create(session: Session, data: PlanInput) -> Plan:
    _check_unique(session, data, None)
    plan = Plan(id=uuid.uuid4(), **{f: getattr(data, f) for f in FIELDS})
    _sync(plan, data)
    session.add(plan)
    session.flush()
    audit.record(
        session,
        "plan.create",
        target_type="plan",
        target_id=plan.id,
        tenant_id=None,
        details={f: _jsonable(getattr(plan, f)) for f in FIELDS},
    )
    return plan


def update(session: Session, plan_id: Any, data: PlanInput) -> Plan:
    plan = get(session, plan_id)
    _check_unique(session, data, plan.id)
    before = {f: _jsonable(getattr(plan, f)) for f in FIELDS}
    for f in FIELDS:
        if f == "stripe_price_id" and data.sync_stripe and not data.stripe_price_id:
            continue  # keep the current price; _sync replaces it if it no longer matches
        setattr(plan, f, getattr(data, f))
    _sync(plan, data)
    session.flush()
    after = {f: _jsonable(getattr(plan, f)) for f in FIELDS}
    changed = {f: {"from": before[f], "to": after[f]} for f in FIELDS if before[f] != after[f]}
    audit.record(
        session,
        "plan.update",
        target_type="plan",
        target_id=plan.id,
        tenant_id=None,
        details={"changed": changed},
    )
    return plan


def set_active(session: Session, plan_id: Any, active: bool) -> Plan:
    plan = get(session, plan_id)
    if plan.is_active != active:
        plan.is_active = active
        audit.record(
            session,
            "plan.activate" if active else "plan.archive",
            target_type="plan",
            target_id=plan.id,
            tenant_id=None,
            details={"name": plan.name},
        )
    return plan


def delete(session: Session, plan_id: Any) -> None:
    """Only a plan nobody ever subscribed to can go; others are archived."""
    plan = get(session, plan_id)
    used = (
        session.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.plan_id == plan.id)
        )
        or 0
    )
    used += (
        session.scalar(select(func.count()).select_from(Tenant).where(Tenant.plan_id == plan.id))
        or 0
    )
    if used:
        raise ValidationFailed(
            "Workspaces use this plan: archive it instead.", details={"plan": "in use"}
        )
    audit.record(
        session,
        "plan.delete",
        target_type="plan",
        target_id=plan.id,
        tenant_id=None,
        details={"name": plan.name, "slug": plan.slug},
    )
    session.delete(plan)
    session.flush()


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


def backfill_usage_prices(session: Session) -> list[uuid.UUID]:
    """Plans saved before the overage price was made at plan sync get theirs (the
    `billing.sync_plan_prices` task); the ids of the plans changed."""
    done = []
    for plan in session.scalars(
        select(Plan).where(Plan.stripe_price_id.isnot(None), Plan.stripe_usage_price_id.is_(None))
    ):
        plan.stripe_usage_price_id = gateway.usage_price_id(plan.interval)
        done.append(plan.id)
    session.flush()
    return done
