"""A year of made-up business history for `make dev`, so the admin's metrics page has MRR,
churn, trial conversion, template popularity and margin to chart on first run.

Three dozen customer workspaces signed up over the last twelve months, each with a
subscription (trials, conversions, cancellations, a few past due), instances of the catalog's
templates with their deploys, and two months of daily Railway usage. Deterministic (a fixed
random seed) and idempotent (skipped when the first demo workspace exists). The demo
workspaces use `.invalid` email addresses and never reach Railway or Stripe.
"""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.billing import usage as usage_service
from railsaas.models import (
    Deployment,
    Instance,
    Membership,
    Plan,
    Subscription,
    Template,
    Tenant,
    UsageMetric,
    User,
)

WORKSPACES = 36
USAGE_DAYS = 62
MARKER_SLUG = "demo-history-01"

COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Pied Piper",
    "Aperture",
    "Black Mesa",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Dunder",
    "Prestige",
    "Sterling",
    "Bluth",
    "Krusty",
    "Nakatomi",
    "Weyland",
    "Massive",
    "Vehement",
    "Gekko",
    "Ollivander",
    "Zorg",
    "Duff",
    "Planet",
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
]
DEMO_TEMPLATES = [
    ("Ghost", "cms"),
    ("n8n", "automation"),
    ("Umami", "analytics"),
    ("Uptime Kuma", "monitoring"),
    ("PostgreSQL", "database"),
]


def _templates(session: Session) -> list[Template]:
    """The catalog's templates; without a catalog yet, hidden demo ones (not deployable)."""
    found = list(session.scalars(select(Template).where(Template.is_active.is_(True))))
    if found:
        return found
    made = []
    for name, category in DEMO_TEMPLATES:
        code = f"demo-{name.lower().replace(' ', '-')}"
        tpl = session.scalar(select(Template).where(Template.code == code))
        if tpl is None:
            tpl = Template(
                railway_template_id=f"demo-{uuid.uuid4()}",
                code=code,
                name=name,
                category=category,
                price_tier="starter",
                is_active=False,
                description="Demo data for the admin metrics.",
                resources={"cpu": 1, "memory_mb": 512},
            )
            session.add(tpl)
        made.append(tpl)
    session.flush()
    return made


def seed_business_history(session: Session, now: datetime | None = None) -> None:
    if session.scalar(select(Tenant.id).where(Tenant.slug == MARKER_SLUG)):
        return
    plans = {p.slug: p for p in session.scalars(select(Plan))}
    if not plans:
        return
    rng = random.Random(20260101)
    # The hash of a random password nobody knows: the demo owners cannot sign in.
    no_login = bcrypt.hashpw(secrets.token_bytes(24), bcrypt.gensalt(rounds=4)).decode()
    now = now or datetime.now(UTC)
    templates = _templates(session)
    weights = [5, 3, 2, 2, 1][: len(templates)] + [1] * max(0, len(templates) - 5)
    plan_slugs = [s for s in ("starter", "pro", "business") if s in plans] or list(plans)
    usage: list[UsageMetric] = []
    for n in range(WORKSPACES):
        # More sign-ups lately than a year ago: a growing business. At most 328 days back, so
        # every sign-up is inside the admin's twelve calendar months (which reach back only
        # 334 days on the first of a month).
        joined = now - timedelta(days=3 + 325 * rng.random() ** 1.5)
        company = COMPANIES[n % len(COMPANIES)]
        user = User(
            email=f"owner{n + 1:02d}@{company.lower().replace(' ', '')}.invalid",
            name=f"{company} owner",
            password_hash=no_login,
            email_verified=True,
            created_at=joined,
        )
        tenant = Tenant(
            name=f"{company} (demo)", slug=f"demo-history-{n + 1:02d}", created_at=joined
        )
        session.add_all([user, tenant])
        session.flush()
        session.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))

        plan = plans[rng.choices(plan_slugs, weights=[6, 3, 1][: len(plan_slugs)])[0]]
        trial_end = joined + timedelta(days=plan.trial_days) if plan.trial_days else None
        fate = rng.random()
        status, canceled_at = "active", None
        if trial_end and trial_end > now:
            status = "trialing"
        elif trial_end and fate < 0.2:  # left during the trial
            status, canceled_at = "canceled", joined + timedelta(days=rng.uniform(1, 13))
        elif fate < 0.38:  # paid for a while, then left
            start = trial_end or joined
            if (now - start).days > 10:
                status = "canceled"
                canceled_at = start + timedelta(days=rng.uniform(5, (now - start).days - 1))
        elif fate > 0.94:
            status = "past_due"
        session.add(
            Subscription(
                tenant_id=tenant.id,
                user_id=user.id,
                plan_id=plan.id,
                plan_name=plan.name,
                status=status,
                trial_end=trial_end,
                canceled_at=canceled_at,
                created_at=joined,
                current_period_start=now - timedelta(days=(now - joined).days % 30),
                current_period_end=now + timedelta(days=30 - (now - joined).days % 30),
                stripe_subscription_id=f"sub_demo_{uuid.uuid4().hex[:16]}",
            )
        )
        if status != "canceled":
            tenant.plan_id = plan.id

        for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
            tpl = rng.choices(templates, weights=weights)[0]
            created = joined + timedelta(hours=rng.uniform(1, 72))
            gone = canceled_at if status == "canceled" else None
            inst = Instance(
                tenant_id=tenant.id,
                user_id=user.id,
                template_id=tpl.id,
                name=f"{tpl.name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:4]}",
                status="deleted" if gone else rng.choice(["running"] * 8 + ["stopped"]),
                created_at=created,
                deleted_at=gone,
                status_changed_at=gone or created,
                config={},
            )
            session.add(inst)
            session.flush()
            session.add(
                Deployment(
                    tenant_id=tenant.id,
                    instance_id=inst.id,
                    kind="deploy",
                    status="success",
                    triggered_by=user.id,
                    created_at=created,
                    started_at=created,
                    finished_at=created + timedelta(minutes=3),
                )
            )
            cpu, mem = rng.uniform(0.05, 0.6), rng.uniform(0.25, 2.0)
            for day in range(USAGE_DAYS):
                at = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
                if at < created or (gone and at > gone) or inst.status == "stopped":
                    continue
                jitter = rng.uniform(0.7, 1.3)
                usage.append(
                    UsageMetric(
                        tenant_id=tenant.id,
                        instance_id=inst.id,
                        metric_type="CPU_USAGE",
                        unit="vCPU-minutes",
                        value=Decimal(f"{cpu * 1440 * jitter:.3f}"),
                        recorded_at=at,
                    )
                )
                usage.append(
                    UsageMetric(
                        tenant_id=tenant.id,
                        instance_id=inst.id,
                        metric_type="MEMORY_USAGE_GB",
                        unit="GB-minutes",
                        value=Decimal(f"{mem * 1440 * jitter:.3f}"),
                        recorded_at=at,
                    )
                )
    session.add_all(usage)
    session.flush()
    usage_service.rollup(session)  # the dashboard and margins read the roll-up
