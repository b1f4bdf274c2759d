"""Queries per page: every GET route, asked as it is used (an owner's pages and their HTMX
partials, an admin's pages, the API with a personal token, public pages signed out), sends
at most MAX_QUERIES SQL statements, and exactly as many with 30 instances as with 3 (no N+1).

The routes come from app.url_map; ROUTES says who asks and with which arguments. A GET route
in neither ROUTES nor SKIPPED fails the test, so a new page is counted from its first day.

What counts: every statement the app sends on its engine, the per-transaction set_config that
binds the row-level-security context included; not the SAVEPOINTs that only the test's outer
transaction (the `dbconn` fixture) adds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from railsaas.accounts import api_tokens, auth
from railsaas.billing import usage
from railsaas.db import SYSTEM, TenantContext
from railsaas.extensions import db
from railsaas.models import (
    Deployment,
    Invitation,
    Notification,
    Subscription,
    Template,
    Tenant,
    UptimeCheck,
    UptimeHourly,
    UptimeMonitor,
    UsageMetric,
    User,
)
from railsaas.platform import audit
from tests.support import login_as
from tests.support.api import member_of
from tests.support.queries import counting

MAX_QUERIES = 10
SMALL, LARGE = 3, 30


@dataclass
class World:
    """One workspace (an owner, a second member, a pending invitation, a subscription, API
    tokens) whose instances grow, and a platform admin elsewhere."""

    owner: User
    admin: User
    tenant: Tenant
    template: Template
    plan_id: uuid.UUID
    owner_token: str = ""
    owner_token_id: uuid.UUID | None = None
    admin_token: str = ""
    invitation_token: str = ""
    links: dict[str, str] = field(default_factory=dict)  # signed email links, by purpose
    instance_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def instance_id(self) -> uuid.UUID:
        return self.instance_ids[0]


@dataclass(frozen=True)
class Route:
    """Who asks ('owner', 'admin', 'anon', 'api' with the owner's token, 'api_admin' with the
    admin's), the URL arguments, a query string, and the statuses that mean it rendered."""

    who: str
    args: Callable[[World], dict] | None = None
    query: str = ""
    ok: tuple[int, ...] = (200,)


def _instance(w: World) -> dict:
    return {"instance_id": w.instance_id}


REDIRECT = (302, 303)
ROUTES: dict[str, Route] = {
    # Public pages, asked signed out (signed in they redirect).
    "pages.index": Route("owner"),
    "auth.login": Route("anon"),
    "auth.register": Route("anon"),
    "auth.forgot": Route("anon"),
    # The second sign-in step, with no sign-in waiting: back to the login page.
    "auth.second_factor": Route("anon", ok=REDIRECT),
    # Email links, valid (and harmless to follow again: the address is verified already).
    "auth.verify": Route("anon", lambda w: {"token": w.links["verify"]}),
    "auth.confirm_email": Route("anon", lambda w: {"token": w.links["change"]}),
    "auth.reset": Route("anon", lambda w: {"token": w.links["reset"]}),
    "auth.resend_verification": Route("owner", ok=REDIRECT),  # already verified
    "teams.accept": Route("anon", lambda w: {"token": w.invitation_token}),
    "billing.pricing": Route("owner"),
    "status.page": Route("anon", lambda w: {"slug": w.tenant.slug}),
    "docs.index": Route("anon"),
    "docs.page": Route("anon", lambda w: {"slug": "billing-and-spend-caps"}),
    "docs.search": Route("anon", query="q=spend+cap"),
    "ops.healthz": Route("anon"),
    "ops.readyz": Route("anon", ok=(200, 503)),
    "ops.metrics": Route("admin"),
    # The signed-in customer.
    "pages.dashboard": Route("owner"),
    "pages.activity": Route("owner"),
    "account.profile": Route("owner"),
    "account.two_factor": Route("owner"),
    "tokens.index": Route("owner"),
    "teams.members": Route("owner"),
    "teams.switcher": Route("owner"),
    "teams.create_workspace": Route("owner"),
    "teams.settings": Route("owner"),
    "notifications.index": Route("owner"),
    "notifications.bell": Route("owner"),
    "catalog.index": Route("owner"),
    "catalog.detail": Route("owner", lambda w: {"template_id": w.template.id}),
    "catalog.deploy_form": Route("owner", lambda w: {"template_id": w.template.id}),
    "instances.index": Route("owner"),
    "instances.statuses": Route("owner"),
    "instances.detail": Route("owner", _instance),
    "instances.status": Route("owner", _instance, ok=(200, 286)),
    "instances.logs": Route("owner", _instance),
    "instances.logs_download": Route("owner", _instance),
    "instances.metrics": Route("owner", _instance),
    "instances.variables": Route("owner", _instance),
    "instances.deployments": Route("owner", _instance),
    "instances.settings": Route("owner", _instance),
    "billing.index": Route("owner"),
    "billing.usage_part": Route("owner"),
    "billing.invoices": Route("owner"),
    "billing.over_limit": Route("owner"),
    "billing.success": Route("owner", query="session_id=cs_test_unknown"),
    "billing.cancel": Route("owner"),
    # The platform admin.
    "admin.index": Route("admin"),
    "admin.audit": Route("admin"),
    "admin.instances": Route("admin"),
    "admin.jobs": Route("admin"),
    "admin.database": Route("admin"),
    "admin.metrics": Route("admin"),
    "admin.acquisition": Route("admin"),
    "admin.railway_pool": Route("admin"),
    "admin.plans": Route("admin"),
    "admin.plan_new": Route("admin"),
    "admin.plan_edit": Route("admin", lambda w: {"plan_id": w.plan_id}),
    "admin.templates": Route("admin"),
    "admin.templates_new": Route("admin"),
    "admin.templates_edit": Route("admin", lambda w: {"template_id": w.template.id}),
    "admin.users": Route("admin"),
    "admin.user": Route("admin", lambda w: {"user_id": w.owner.id}),
    "admin.workspaces": Route("admin"),
    "admin.workspace": Route("admin", lambda w: {"tenant_id": w.tenant.id}),
    # The JSON API.
    "api.docs": Route("anon"),
    "api.openapi_json": Route("anon"),
    "api.profile": Route("api"),
    "api.instances_index": Route("api"),
    "api.instances_status": Route("api"),
    "api.instances_show": Route("api", _instance),
    "api.templates_index": Route("api"),
    "api.plans_index": Route("anon"),
    "api.templates_show": Route("api", lambda w: {"template_id": w.template.id}),
    "api.tokens_index": Route("api"),
    "api.tokens_show": Route("api", lambda w: {"token_id": w.owner_token_id}),
    "api.workspaces_index": Route("api"),
    "api.workspaces_current": Route("api"),
    "api.workspaces_show": Route("api", lambda w: {"workspace_id": w.tenant.id}),
    "api.members_index": Route("api", lambda w: {"workspace_id": w.tenant.id}),
    "api.invitations_index": Route("api", lambda w: {"workspace_id": w.tenant.id}),
    "api.billing_subscription": Route("api"),
    "api.billing_usage": Route("api"),
    "api.billing_invoices": Route("api"),
    "api.get_user": Route("api_admin", lambda w: {"user_id": w.owner.id}),
    "api.spend_index": Route("api_admin"),
    # Railway's own objects, read through the master token (the emulator's, empty here).
    "api.railway_projects": Route("api_admin"),
    "api.railway_services": Route("api_admin", query="project_id=prj-none", ok=(200, 404, 502)),
    "api.railway_deployments": Route(
        "api_admin", query="environment_id=env-none&service_id=svc-none", ok=(200, 404, 502)
    ),
}

SKIPPED = {
    "static": "files from disk, no SQL",
    "dev.mail": "development only (404 unless DEBUG)",
}

# --- the data --------------------------------------------------------------------------------


def _build(app, factory) -> World:
    from railsaas.teams import service as teams

    plan = factory.plan(max_instances=100, spend_cap_default_cents=100_000)
    owner, tenant = factory.workspace()
    member = factory.user()
    factory.member(tenant, member, "member")
    admin, admin_tenant = factory.workspace(role="owner")
    template = factory.template(name="Ghost", code=f"ghost-{uuid.uuid4().hex[:6]}")
    now = datetime.now(UTC)
    with app.app_context():  # links are signed with SECRET_KEY
        link, digest = teams._new_link_token(tenant.id)
        uid, email = str(owner.id), owner.email
        links = {
            "verify": auth.make_link_token(auth.VERIFY_EMAIL, uid=uid, email=email),
            "change": auth.make_link_token(auth.CHANGE_EMAIL, uid=uid, email=email),
            "reset": auth.make_link_token(
                auth.RESET_PASSWORD,
                uid=uid,
                email=email,
                ph=auth._password_fingerprint(owner.password_hash),
            ),
        }
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
        s.get(Tenant, tenant.id).status_page_enabled = True
        s.get(User, admin.id).role = "admin"
        s.add(
            Subscription(
                tenant_id=tenant.id,
                plan_id=plan.id,
                plan_name=plan.name,
                status="active",
                stripe_subscription_id=f"sub_{uuid.uuid4().hex}",
                current_period_start=now - timedelta(days=3),
                current_period_end=now + timedelta(days=27),
            )
        )
        s.add(
            Invitation(
                tenant_id=tenant.id,
                email="invitee@example.com",
                role="member",
                token_hash=digest,
                invited_by=owner.id,
                expires_at=now + timedelta(days=7),
            )
        )
    world = World(
        owner=owner,
        admin=admin,
        tenant=tenant,
        template=template,
        plan_id=plan.id,
        invitation_token=link,
        links=links,
    )
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=owner.id)) as s:
        row, world.owner_token = api_tokens.create(
            s,
            member_of(s, tenant.id, owner.id),
            user_id=owner.id,
            name="counts",
            scopes=["admin"],
            expires_in_days=30,
        )
        world.owner_token_id = row.id
    with db.scope(TenantContext(tenant_id=admin_tenant.id, user_id=admin.id)) as s:
        _, world.admin_token = api_tokens.create(
            s,
            member_of(s, admin_tenant.id, admin.id),
            user_id=admin.id,
            name="counts",
            scopes=["admin"],
            expires_in_days=30,
        )
    return world


def _grow(factory, world: World, count: int) -> None:
    """`count` more instances, each with deploys, usage rolled up for the chart and the bill,
    an audit row and a notification: everything a page might be tempted to read per row."""
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        n = len(world.instance_ids)
        inst = factory.instance(
            world.tenant,
            world.template,
            name=f"site-{n}",
            status="deploying" if n == 0 else "running",
            user_id=world.owner.id,
            domain=f"site-{n}.up.railway.app",
        )
        world.instance_ids.append(inst.id)
        for kind, ago in (("deploy", 2), ("redeploy", 1)):
            rows.append(
                Deployment(
                    tenant_id=world.tenant.id,
                    instance_id=inst.id,
                    kind=kind,
                    status="SUCCESS",
                    triggered_by=world.owner.id,
                    created_at=now - timedelta(days=ago),
                )
            )
        for metric in ("CPU_USAGE", "MEMORY_USAGE_GB", "NETWORK_TX_GB"):
            rows.append(
                UsageMetric(
                    tenant_id=world.tenant.id,
                    instance_id=inst.id,
                    metric_type=metric,
                    value=Decimal(600),
                    unit="x",
                    recorded_at=now - timedelta(hours=2),
                )
            )
        # Every instance on the public status page, with a check and an hour rolled up.
        rows.append(
            UptimeMonitor(
                instance_id=inst.id,
                tenant_id=world.tenant.id,
                next_check_at=now,
                last_checked_at=now,
                last_up=True,
                last_status_code=200,
                last_latency_ms=90,
                public=True,
            )
        )
        rows.append(
            UptimeCheck(
                tenant_id=world.tenant.id,
                instance_id=inst.id,
                checked_at=now - timedelta(minutes=5),
                up=True,
                status_code=200,
                latency_ms=90,
            )
        )
        rows.append(
            UptimeHourly(
                tenant_id=world.tenant.id,
                instance_id=inst.id,
                hour=now.replace(minute=0, second=0, microsecond=0) - timedelta(days=2),
                checks=60,
                up_checks=59,
                latency_ms_sum=5400,
                latency_count=60,
                latency_ms_max=200,
            )
        )
        rows.append(
            Notification(
                tenant_id=world.tenant.id,
                user_id=world.owner.id,
                kind="instance.running",
                title=f"site-{n} is running",
                link=f"/instances/{inst.id}",
            )
        )
    with db.scope(SYSTEM) as s:
        s.add_all(rows)
        s.flush()
        usage.rollup(s)
    with db.scope(TenantContext(tenant_id=world.tenant.id, user_id=world.owner.id)) as s:
        for inst_id in world.instance_ids[-count:]:
            audit.record(s, "instance.create", target_type="instance", target_id=str(inst_id))


# --- asking every route --------------------------------------------------------------------------


def _get_routes(app) -> list[str]:
    return sorted({r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods})


def _clients(app, world: World) -> dict:
    owner, admin = app.test_client(), app.test_client()
    login_as(app, owner, world.owner)
    login_as(app, admin, world.admin)
    return {
        "owner": owner,
        "admin": admin,
        "anon": app.test_client(),
        "api": app.test_client(),
        "api_admin": app.test_client(),
    }


def _headers(world: World, who: str, htmx: bool) -> dict:
    headers = {"HX-Request": "true"} if htmx else {}
    if who == "api":
        headers["Authorization"] = f"Bearer {world.owner_token}"
    elif who == "api_admin":
        headers["Authorization"] = f"Bearer {world.admin_token}"
    return headers


def _count_all(app, world: World, clients: dict) -> dict[tuple[str, bool], list[str]]:
    """{(endpoint, htmx): statements}. Browser pages are asked twice: as a page and as
    htmx asks (the partial it swaps in)."""
    from flask import url_for

    counts = {}
    for endpoint in _get_routes(app):
        if endpoint in SKIPPED:
            continue
        route = ROUTES.get(endpoint)
        if route is None:
            pytest.fail(
                f"GET route {endpoint} has no entry in ROUTES: add one (who asks, "
                "which arguments) so its queries are counted, or a reason in SKIPPED"
            )
        with app.test_request_context():
            url = url_for(endpoint, **(route.args(world) if route.args else {}))
        if route.query:
            url += "?" + route.query
        browser_page = endpoint.split(".")[0] not in ("api", "ops")
        variants = (False, True) if browser_page else (False,)
        for htmx in variants:
            with counting() as statements:  # every engine: the test's connection too
                resp = clients[route.who].get(url, headers=_headers(world, route.who, htmx))
            assert resp.status_code in route.ok, (
                f"{endpoint} {url} (htmx={htmx}) answered {resp.status_code}, expected "
                f"{route.ok}: {resp.get_data(as_text=True)[:500]}"
            )
            counts[(endpoint, htmx)] = statements
    return counts


def test_every_get_route_has_a_rule(app):
    missing = [e for e in _get_routes(app) if e not in ROUTES and e not in SKIPPED]
    assert not missing, (
        f"GET routes with no entry in ROUTES: {missing}. Add one (who asks, which arguments) "
        "so the page's queries are counted, or a reason in SKIPPED."
    )
    stale = [e for e in ROUTES if e not in _get_routes(app)]
    assert not stale, f"ROUTES names endpoints that no longer exist: {stale}"


@pytest.mark.usefixtures("stripe_emulator", "railway_emulator")
def test_every_page_sends_few_queries_whatever_the_number_of_instances(app, factory):
    world = _build(app, factory)
    _grow(factory, world, SMALL)
    clients = _clients(app, world)
    warm = _count_all(app, world, clients)  # caches (catalog, token use) fill on first ask
    small = _count_all(app, world, clients)
    _grow(factory, world, LARGE - SMALL)
    large = _count_all(app, world, clients)

    def name(key):
        return f"{key[0]}{' (htmx)' if key[1] else ''}"

    def listing(keys) -> str:
        return "\n\n".join(
            f"{name(k)}:\n  " + "\n  ".join(" ".join(sql.split())[:160] for sql in large[k])
            for k in keys
        )

    # The counter must see the app's statements at all (it listens where the sessions run).
    # (Not a given page's: a page read may come whole from the caches, context included.)
    assert sum(map(len, large.values())) > len(large), "hardly a statement counted"
    too_many = {
        k: len(v) for rnd in (warm, small, large) for k, v in rnd.items() if len(v) > MAX_QUERIES
    }
    assert not too_many, (
        f"more than {MAX_QUERIES} queries: { {name(k): n for k, n in too_many.items()} }\n\n"
        + listing(too_many)
    )
    grows = {k: (len(small[k]), len(large[k])) for k in small if len(small[k]) != len(large[k])}
    assert not grows, (
        f"the count changes from {SMALL} to {LARGE} instances (an N+1?): "
        f"{ {name(k): n for k, n in grows.items()} }\n\n" + listing(grows)
    )
