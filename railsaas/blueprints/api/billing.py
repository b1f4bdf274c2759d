"""GET/POST /api/billing/subscription, GET /api/billing/invoices, GET /api/billing/usage.

Any member of the workspace reads; only its owner changes the subscription. Another
workspace's ids are simply not found (404), as everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, g

from railsaas.billing import overview, plans, subscriptions, usage
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate_items
from railsaas.errors import NotFound
from railsaas.extensions import db
from railsaas.schemas.billing import (
    CheckoutOut,
    InvoiceOut,
    PlanList,
    PublicPlanOut,
    SubscriptionChange,
    SubscriptionOut,
    UsageOut,
    UsageQuery,
)
from railsaas.schemas.common import Page, PageQuery

# Stripe's page size cap: the newest 100 invoices (eight years of monthly bills) are listed.
INVOICES_FETCHED = 100


def _workspace():
    if g.get("workspace") is None:
        raise NotFound("No workspace: send X-Workspace-ID.")
    return g.workspace


def _subscription_out(workspace) -> SubscriptionOut:
    return SubscriptionOut.model_validate(overview.subscription(db.session, workspace))


@bp.get("/plans")
@operation(auth="public", responses={200: PlanList}, tags=["billing"])
def plans_index():
    """The active plans, in the order the pricing page shows them: each one's id (what
    POST /api/billing/subscription takes as `plan_id`), price and limits. No token needed."""
    return PlanList(
        items=[
            PublicPlanOut.model_validate(p, from_attributes=True)
            for p in plans.active_plans(db.session)
        ]
    )


@bp.get("/billing/subscription")
@operation(responses={200: SubscriptionOut}, tags=["billing"])
def billing_subscription():
    """The workspace's plan, subscription, dunning state and spend cap."""
    return _subscription_out(_workspace())


@bp.post("/billing/subscription")
@operation(
    scope="admin",
    body=SubscriptionChange,
    responses={200: SubscriptionOut, 201: CheckoutOut},
    errors=(409, 503),
    tags=["billing"],
)
def billing_subscription_change(body: SubscriptionChange):
    """Subscribe, switch plans, or cancel at the period's end (the workspace owner).

    Without a live subscription, `plan_id` starts a Stripe Checkout (201: send the customer
    to `checkout_url`); with one, it switches plans now with a prorated invoice (200).
    `cancel_at_period_end` cancels at the period's end, or undoes that (200)."""
    workspace = _workspace()
    if body.cancel_at_period_end is not None:
        subscriptions.set_cancel_at_period_end(db.session, workspace, body.cancel_at_period_end)
        db.session.commit()
        return _subscription_out(workspace), 200
    current = subscriptions.current(db.session, workspace.id)
    if current is not None and current.status in usage.LIVE_STATUSES:
        subscriptions.change_plan(db.session, workspace, body.plan_id, user=g.user)
        db.session.commit()
        return _subscription_out(workspace), 200
    base = current_app.config["BASE_URL"].rstrip("/")
    cs = subscriptions.start_checkout(
        db.session,
        workspace,
        g.user,
        body.plan_id,
        success_url=f"{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/billing/cancel",
    )
    db.session.commit()
    return CheckoutOut(checkout_session_id=cs["id"], checkout_url=cs["url"]), 201


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


@bp.get("/billing/invoices")
@operation(query=PageQuery, responses={200: Page[InvoiceOut]}, errors=(503,), tags=["billing"])
def billing_invoices(query: PageQuery):
    """The workspace's invoices from Stripe, newest first, with links to pay or download."""
    items = overview.invoices(_workspace(), limit=INVOICES_FETCHED)
    invoices = [
        InvoiceOut(
            id=i["id"],
            number=i.get("number"),
            status=i.get("status"),
            currency=i.get("currency") or "usd",
            total_cents=i.get("total") or 0,
            amount_due_cents=i.get("amount_due") or 0,
            amount_paid_cents=i.get("amount_paid") or 0,
            created=_ts(i["created"]),
            period_start=_ts(overview.service_period(i)[0]),
            period_end=_ts(overview.service_period(i)[1]),
            hosted_invoice_url=i.get("hosted_invoice_url"),
            invoice_pdf=i.get("invoice_pdf"),
        )
        for i in items
    ]
    page = paginate_items(invoices, query, key=lambda i: (i.created, i.id))
    return Page[InvoiceOut](items=page.rows, next_cursor=page.next_cursor)


@bp.get("/billing/usage")
@operation(query=UsageQuery, responses={200: UsageOut}, tags=["billing"])
def billing_usage(query: UsageQuery):
    """This billing period's usage and its cost, in total and per instance."""
    data = overview.current_usage(
        db.session,
        _workspace(),
        now=datetime.now(UTC),
        markup_percent=current_app.config["USAGE_MARKUP_PERCENT"],
    )
    if query.instance_id is not None:
        wanted_id = str(query.instance_id)
        data["instances"] = [i for i in data["instances"] if i["id"] == wanted_id]
        if not data["instances"]:
            raise NotFound("No such instance.")
    return UsageOut.model_validate(data)
