"""GET/POST /api/billing/subscription, GET /api/billing/invoices, GET /api/billing/usage.

Any member of the workspace reads; only its owner changes the subscription. Another
workspace's ids are simply not found (404), as everywhere.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import current_app, g, request

from railsaas import stripe_gateway as gateway
from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required
from railsaas.blueprints.api.validation import dump, parse_body
from railsaas.errors import NotFound
from railsaas.extensions import db
from railsaas.schemas.billing import (
    CheckoutOut,
    InvoiceList,
    SubscriptionChange,
    SubscriptionOut,
    UsageOut,
)
from railsaas.services import spend_caps, subscriptions, usage


def _workspace():
    if g.get("workspace") is None:
        raise NotFound("No workspace: send X-Workspace-ID.")
    return g.workspace


def _subscription_out(tenant) -> dict:
    row = subscriptions.current(db.session, tenant.id)
    data = subscriptions.subscription_dict(tenant, row)
    data["spend_cap_cents"] = spend_caps.cap_cents(tenant)
    return dump(SubscriptionOut.model_validate(data))


@bp.get("/billing/subscription")
@api_login_required()
def billing_subscription():
    return _subscription_out(_workspace().tenant)


@bp.post("/billing/subscription")
@api_login_required()
def billing_subscription_change():
    workspace = _workspace()
    subscriptions.require_owner(workspace)
    body = parse_body(SubscriptionChange)
    if body.cancel_at_period_end is not None:
        subscriptions.set_cancel_at_period_end(db.session, workspace.id,
                                               body.cancel_at_period_end)
        db.session.commit()
        return _subscription_out(workspace.tenant)
    current = subscriptions.current(db.session, workspace.id)
    if current is not None and current.status in usage.LIVE_STATUSES:
        subscriptions.change_plan(db.session, workspace.id, body.plan_id)
        db.session.commit()
        return _subscription_out(workspace.tenant)
    tenant = subscriptions.lock_tenant(db.session, workspace.id)
    base = current_app.config["BASE_URL"].rstrip("/")
    cs = subscriptions.start_checkout(
        db.session, tenant, g.user, body.plan_id,
        success_url=f"{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/billing/cancel")
    db.session.commit()
    return dump(CheckoutOut(checkout_session_id=cs["id"], checkout_url=cs["url"])), 201


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


@bp.get("/billing/invoices")
@api_login_required()
def billing_invoices():
    tenant = _workspace().tenant
    items = gateway.list_invoices(tenant.stripe_customer_id) if tenant.stripe_customer_id \
        else []
    return dump(InvoiceList(invoices=[{
        "id": i["id"], "number": i.get("number"), "status": i.get("status"),
        "currency": i.get("currency") or "usd", "total_cents": i.get("total") or 0,
        "amount_due_cents": i.get("amount_due") or 0,
        "amount_paid_cents": i.get("amount_paid") or 0, "created": _ts(i["created"]),
        "period_start": _ts(i.get("period_start")), "period_end": _ts(i.get("period_end")),
        "hosted_invoice_url": i.get("hosted_invoice_url"), "invoice_pdf": i.get("invoice_pdf"),
    } for i in items]))


@bp.get("/billing/usage")
@api_login_required()
def billing_usage():
    tenant = _workspace().tenant
    plan = tenant.plan
    period = usage.current_period(db.session, tenant.id, datetime.now(UTC))
    data = usage.usage_dict(usage.tenant_usage(
        db.session, tenant.id, period,
        markup_percent=current_app.config["USAGE_MARKUP_PERCENT"],
        included_cents=plan.included_usage_cents if plan else 0))
    wanted = request.args.get("instance_id")
    if wanted:
        try:
            wanted_id = str(uuid.UUID(wanted))
        except ValueError:
            raise NotFound("No such instance.") from None
        data["instances"] = [i for i in data["instances"] if i["id"] == wanted_id]
        if not data["instances"]:
            raise NotFound("No such instance.")
    data["spend_cap_cents"] = spend_caps.cap_cents(tenant)
    return dump(UsageOut.model_validate(data))
