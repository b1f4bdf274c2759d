"""Billing over JSON: the workspace's plan and subscription, its invoices, its usage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from railsaas.schemas.common import Body, Query


class PlanOut(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    price_cents: int
    currency: str
    interval: Literal["month", "year"]
    max_instances: int
    allowed_tiers: list[str]
    included_usage_cents: int


class PublicPlanOut(PlanOut):
    """A plan as anyone may read it: what it costs and what it allows."""

    description: str | None = None
    spend_cap_default_cents: int = Field(
        description="The spend cap a new subscription starts with (the owner may change it)."
    )
    trial_days: int = Field(description="Free days before the first charge (0: none).")


class PlanList(BaseModel):
    """The active plans in price-list order (a short list: not paginated)."""

    items: list[PublicPlanOut]


class SubscriptionState(BaseModel):
    id: uuid.UUID
    status: str  # Stripe's: trialing, active, past_due, unpaid, canceled, incomplete, ...
    plan_name: str
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool
    trial_end: datetime | None = None
    canceled_at: datetime | None = None


class SubscriptionOut(BaseModel):
    plan: PlanOut | None = None
    subscription: SubscriptionState | None = None
    payment_failed_at: datetime | None = None
    dunning_stage: Literal["notified", "suspended", "deleted"] | None = None
    spend_cap_cents: int | None = None
    spend_cap_state: Literal["ok", "warned", "capped"]


class SubscriptionChange(Body):
    """Exactly one of: `plan_id` (subscribe through Checkout, or switch plans now with a
    prorated invoice) or `cancel_at_period_end` (cancel at the period's end, or undo it)."""

    plan_id: uuid.UUID | None = None
    cancel_at_period_end: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> SubscriptionChange:
        if (self.plan_id is None) == (self.cancel_at_period_end is None):
            raise ValueError("send exactly one of plan_id and cancel_at_period_end")
        return self


class CheckoutOut(BaseModel):
    """Send the customer to `checkout_url`; the subscription appears once they pay."""

    checkout_session_id: str
    checkout_url: str


class InvoiceOut(BaseModel):
    id: str
    number: str | None = None
    status: str | None = None
    currency: str
    total_cents: int
    amount_due_cents: int
    amount_paid_cents: int
    created: datetime
    # The service period the plan line covers (from the lines; Stripe's invoice-level
    # period is when usage accrued, the previous period for a renewal).
    period_start: datetime | None = None
    period_end: datetime | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None


class UsageQuery(Query):
    instance_id: uuid.UUID | None = Field(default=None, description="Only this instance.")


class WebhookReceived(BaseModel):
    received: bool
    duplicate: bool = Field(
        description="The event had been received before: nothing new was stored."
    )


class InstanceUsageOut(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    cost_cents: int  # this period, at the customer's prices
    usage: dict[str, float]  # measurement -> quantity, in `units`


class UsageOut(BaseModel):
    period_start: datetime
    period_end: datetime
    currency: str
    markup_percent: int
    usage_cents: int
    included_cents: int
    overage_cents: int
    spend_cap_cents: int | None = None
    totals: dict[str, float]
    units: dict[str, str]
    instances: list[InstanceUsageOut]
