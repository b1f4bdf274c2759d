"""Demo data for `make dev`: a platform admin, a customer with a workspace, plans.

Idempotent: every step looks before it writes, so `make dev` can run it on every start.
Each area adds its own `seed_<area>(session)` step to STEPS.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

import bcrypt
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from devtools.demo_catalog import seed_templates
from devtools.seed_history import seed_business_history
from railsaas.accounts import two_factor
from railsaas.app import create_app
from railsaas.billing import gateway
from railsaas.catalog.templates import seed_from_railway_templates
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Membership, Plan, Tenant, TwoFactor, User

log = logging.getLogger(__name__)

ADMIN = ("Platform admin", "admin@railsaas.local", "admin-demo-password")
CUSTOMER = ("Customer", "demo@railsaas.local", "demo-password-123")
VIEWER = ("Viewer", "viewer@railsaas.local", "viewer-password-123")  # read-only in Demo Co
# Platform admins must use two-factor sign-in: the demo admin is enrolled with this key (add
# it to an authenticator app, or print the current code with `python -m devtools.totp`).
DEMO_ADMIN_TOTP_SECRET = "RAILSAASDEMOADMINTOTPKEY234567AB"  # noqa: S105 (development only)

PLANS = [
    dict(
        slug="starter",
        name="Starter",
        price_cents=900,
        max_instances=2,
        allowed_tiers=["starter"],
        included_usage_cents=500,
        spend_cap_default_cents=2000,
        trial_days=14,
        sort_order=1,
        description="For a side project or two.",
    ),
    dict(
        slug="pro",
        name="Pro",
        price_cents=2900,
        max_instances=10,
        allowed_tiers=["starter", "standard"],
        included_usage_cents=2000,
        spend_cap_default_cents=10000,
        trial_days=14,
        sort_order=2,
        description="For teams running their tools in production.",
    ),
    dict(
        slug="business",
        name="Business",
        price_cents=9900,
        max_instances=50,
        allowed_tiers=["starter", "standard", "pro"],
        included_usage_cents=10000,
        spend_cap_default_cents=50000,
        trial_days=0,
        sort_order=3,
        description="For agencies hosting apps for their clients.",
    ),
]


def _hash(password: str) -> str:
    rounds = current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def ensure_user(
    session: Session,
    name: str,
    email: str,
    password: str,
    *,
    role: str = "user",
    workspace: str | None = None,
    plan_slug: str | None = None,
) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email, name=name, password_hash=_hash(password), role=role, email_verified=True
        )
        session.add(user)
        session.flush()
    if workspace and not session.scalar(select(Membership).where(Membership.user_id == user.id)):
        plan = session.scalar(select(Plan).where(Plan.slug == plan_slug)) if plan_slug else None
        tenant = Tenant(name=workspace, slug=_slug(workspace), plan_id=plan.id if plan else None)
        session.add(tenant)
        session.flush()
        session.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))
        session.flush()
    return user


def seed_plans(session: Session) -> None:
    for fields in PLANS:
        if not session.scalar(select(Plan).where(Plan.slug == fields["slug"])):
            session.add(Plan(**fields))
    session.flush()


def seed_people(session: Session) -> None:
    admin = ensure_user(session, *ADMIN, role="admin", workspace="RailSaaS Ops")
    if session.get(TwoFactor, admin.id) is None:
        session.add(
            TwoFactor(
                user_id=admin.id,
                secret_encrypted=two_factor.seal(DEMO_ADMIN_TOTP_SECRET),
                enabled_at=datetime.now(UTC),
            )
        )
        session.flush()
    ensure_user(session, *CUSTOMER, workspace="Demo Co", plan_slug="pro")


def seed_catalog(session: Session) -> None:
    """The template catalog, from the Railway emulator's seed catalog (the same templates
    an admin would import by code)."""
    seed_from_railway_templates(session, seed_templates())


def seed_history(session: Session) -> None:
    seed_business_history(session)


def seed_billing(session: Session) -> None:
    """Give every offered plan a Stripe price (the emulator's in `make dev`, which starts
    empty each time), so Checkout works. Without Stripe reachable, skip with a log line."""
    plans = session.scalars(
        select(Plan).where(Plan.is_active.is_(True)).order_by(Plan.sort_order)
    ).all()
    try:
        for plan in plans:
            plan.stripe_price_id = gateway.sync_plan_price(plan)
            plan.stripe_usage_price_id = gateway.usage_price_id(plan.interval)
    except gateway.BillingUnavailable:
        log.warning(
            "seed: Stripe is not reachable; plans were not synced to it "
            "(checkout will not work until they are)"
        )
        return
    session.flush()


def seed_teams(session: Session) -> None:
    """A viewer in the customer's workspace, to see what read-only looks like."""
    viewer = ensure_user(session, *VIEWER)
    demo = session.scalar(
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .join(User, User.id == Membership.user_id)
        .where(User.email == CUSTOMER[1], Membership.role == "owner")
    )
    if demo is not None and not session.scalar(
        select(Membership).where(Membership.tenant_id == demo.id, Membership.user_id == viewer.id)
    ):
        session.add(Membership(tenant_id=demo.id, user_id=viewer.id, role="viewer"))
        session.flush()


STEPS: list[Callable[[Session], None]] = [
    seed_plans,
    seed_people,
    seed_catalog,
    seed_billing,
    seed_history,
    seed_teams,
]


def run() -> list[tuple[str, str, str]]:
    """Seed everything; return the demo logins (label, email, password) to print."""
    app = create_app()
    with app.app_context(), db.scope(SYSTEM) as session:
        for step in STEPS:
            step(session)
    return [
        (ADMIN[0], ADMIN[1], ADMIN[2]),
        (CUSTOMER[0], CUSTOMER[1], CUSTOMER[2]),
        (VIEWER[0], VIEWER[1], VIEWER[2]),
    ]


if __name__ == "__main__":
    for label, email, password in run():
        print(f"{label}: {email} / {password}")
