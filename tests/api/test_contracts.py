"""A contract test per route: every operation in the OpenAPI document is called, on its
success path and on a typical refusal, and each answer must be one the document declares,
with a body matching the declared schema. An operation without a case here fails the suite:
a new route needs its contract written down."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from railsaas.blueprints.api.openapi import document
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Tenant, User
from railsaas.railway import fill_variables
from tests.api.contract import assert_conforms
from tests.support import DEFAULT_PASSWORD, wait_until
from tests.support.api import bearer, make_token, session_token


@dataclass
class World:
    app: object
    client: object
    factory: object
    user: User
    tenant: object
    jwt: str
    read: str  # personal tokens of `user`
    admin_token: str
    root: User  # a platform admin
    root_token: str
    template: object  # active, with variables; the workspace's plan allows it
    instance: object  # running, in the workspace
    stripe: object  # the Stripe emulator

    def h(self, token: str | None = None) -> dict[str, str]:
        return bearer(token or self.jwt)


VARIABLES = [
    {
        "name": "ADMIN_EMAIL",
        "label": "Admin email",
        "required": True,
        "pattern": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    },
    {"name": "API_KEY", "label": "API key", "generate": "secret", "secret": True},
]


@pytest.fixture
def world(app, client, factory, railway_emulator, stripe_emulator):
    plan = factory.plan(max_instances=5)
    user, tenant = factory.workspace()
    root, root_tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, root.id).role = "admin"
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = factory.template(setup_config={"variables": VARIABLES})
    return World(
        app=app,
        client=client,
        factory=factory,
        user=user,
        tenant=tenant,
        jwt=session_token(client, user),
        read=make_token(user, tenant, ("read",), name="r")[0],
        admin_token=make_token(user, tenant, ("admin",), name="a")[0],
        root=root,
        root_token=make_token(root, root_tenant, ("admin",))[0],
        template=template,
        instance=factory.instance(
            tenant, template, name="running-app", config={"ADMIN_EMAIL": "a@example.com"}
        ),
        stripe=stripe_emulator,
    )


Case = Callable[[World], list]
CASES: dict[str, Case] = {}


def case(operation_id: str):
    def register(fn: Case) -> Case:
        CASES[operation_id] = fn
        return fn

    return register


# --- auth -------------------------------------------------------------------------------


@case("register")
def _register(w: World):
    c = w.client
    body = {
        "email": f"new-{uuid.uuid4().hex[:8]}@example.com",
        "password": "a long enough passphrase",
        "name": "New Person",
    }
    return [
        c.post("/api/auth/register", json=body),
        c.post("/api/auth/register", json=body),  # 409: taken
        c.post("/api/auth/register", json={"email": "x"}),  # 422
        c.post("/api/auth/register", data="{", content_type="application/json"),  # 400
        c.post("/api/auth/register", data="a=b"),
    ]  # 415


@case("login")
def _login(w: World):
    c = w.client
    return [
        c.post("/api/auth/login", json={"email": w.user.email, "password": DEFAULT_PASSWORD}),
        c.post("/api/auth/login", json={"email": w.user.email, "password": "wrong"}),
        # A platform admin has two-factor sign-in: 401 without a code, and with a wrong one.
        c.post("/api/auth/login", json={"email": w.root.email, "password": DEFAULT_PASSWORD}),
        c.post(
            "/api/auth/login",
            json={"email": w.root.email, "password": DEFAULT_PASSWORD, "totp": "000000"},
        ),
    ]


@case("refresh")
def _refresh(w: World):
    c = w.client
    pair = c.post(
        "/api/auth/login", json={"email": w.user.email, "password": DEFAULT_PASSWORD}
    ).json
    return [
        c.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        c.post("/api/auth/refresh", json={"refresh_token": "nope"}),
    ]


@case("logout")
def _logout(w: World):
    c = w.client
    return [c.post("/api/auth/logout", headers=w.h()), c.post("/api/auth/logout")]


# --- users ------------------------------------------------------------------------------


@case("profile")
def _profile(w: World):
    return [
        w.client.get("/api/users/profile", headers=w.h()),
        w.client.get("/api/users/profile", headers=w.h(w.read)),
        w.client.get("/api/users/profile"),
    ]


@case("update_profile")
def _update_profile(w: World):
    c = w.client
    return [
        c.put("/api/users/profile", headers=w.h(), json={"name": "Renamed"}),
        c.put("/api/users/profile", headers=w.h(), json={"email": "a@example.com"}),
        c.put("/api/users/profile", headers=w.h(w.read), json={"name": "No"}),
    ]


@case("get_user")
def _get_user(w: World):
    c = w.client
    return [
        c.get(f"/api/users/{w.user.id}", headers=w.h(w.root_token)),
        c.get(f"/api/users/{uuid.uuid4()}", headers=w.h(w.root_token)),
        c.get(f"/api/users/{w.user.id}", headers=w.h()),
    ]


@case("update_user")
def _update_user(w: World):
    c = w.client
    return [
        c.put(f"/api/users/{w.user.id}", headers=w.h(w.root_token), json={"name": "Set by admin"}),
        c.put(f"/api/users/{w.root.id}", headers=w.h(w.root_token), json={"role": "user"}),
    ]  # 409: not yourself


@case("delete_user")
def _delete_user(w: World):
    c = w.client
    loner = w.factory.user()
    return [
        c.delete(f"/api/users/{loner.id}", headers=w.h(w.root_token)),
        c.delete(f"/api/users/{w.root.id}", headers=w.h(w.root_token)),  # 409: yourself
        c.delete(f"/api/users/{uuid.uuid4()}", headers=w.h(w.root_token)),
    ]


# --- acquisition spend (platform admins) ------------------------------------------------


def _spend(w: World, **body):
    return w.client.post(
        "/api/admin/acquisition-spend",
        headers=w.h(w.root_token),
        json={"month": "2026-01", "channel": "google", "amount_cents": 100, **body},
    )


@case("spend_index")
def _spend_index(w: World):
    _spend(w)
    return [
        w.client.get("/api/admin/acquisition-spend", headers=w.h(w.root_token)),
        w.client.get("/api/admin/acquisition-spend", headers=w.h()),
    ]  # 403


@case("spend_create")
def _spend_create(w: World):
    return [
        _spend(w),
        _spend(w, amount_cents=-1),  # 422
        w.client.post(
            "/api/admin/acquisition-spend",
            headers=w.h(),
            json={"month": "2026-01", "channel": "x", "amount_cents": 1},
        ),
    ]


@case("spend_delete")
def _spend_delete(w: World):
    spend_id = _spend(w).json["id"]
    path = f"/api/admin/acquisition-spend/{spend_id}"
    return [
        w.client.delete(path, headers=w.h(w.root_token)),
        w.client.delete(path, headers=w.h(w.root_token)),
    ]  # 404


# --- tokens -----------------------------------------------------------------------------


@case("tokens_index")
def _tokens_index(w: World):
    c = w.client
    return [
        c.get("/api/tokens?limit=1", headers=w.h(w.read)),
        c.get("/api/tokens?status=revoked", headers=w.h()),
        c.get("/api/tokens?cursor=zz", headers=w.h()),
    ]


@case("tokens_create")
def _tokens_create(w: World):
    c = w.client
    body = {"name": "contract", "scopes": ["read"]}
    return [
        c.post("/api/tokens", headers=w.h(), json=body),
        c.post("/api/tokens", headers=w.h(), json=body),  # 409
        c.post("/api/tokens", headers=w.h(w.read), json=body),
    ]  # 403


@case("tokens_show")
def _tokens_show(w: World):
    made = w.client.post(
        "/api/tokens", headers=w.h(), json={"name": "shown", "scopes": ["read"]}
    ).json
    return [
        w.client.get(f"/api/tokens/{made['id']}", headers=w.h()),
        w.client.get(f"/api/tokens/{uuid.uuid4()}", headers=w.h()),
    ]


@case("tokens_revoke")
def _tokens_revoke(w: World):
    made = w.client.post(
        "/api/tokens", headers=w.h(), json={"name": "gone", "scopes": ["read"]}
    ).json
    return [
        w.client.delete(f"/api/tokens/{made['id']}", headers=w.h(w.admin_token)),
        w.client.delete(f"/api/tokens/{uuid.uuid4()}", headers=w.h()),
    ]


# --- templates --------------------------------------------------------------------------

TEMPLATE_BODY = {
    "name": "Plausible",
    "railway_template_id": "tpl-contract",
    "category": "analytics",
    "price_tier": "standard",
    "monthly_estimate_cents": 800,
    "variables": [{"name": "ADMIN_EMAIL", "required": True}],
}


@case("plans_index")
def _plans_index(w: World):
    return [w.client.get("/api/plans"), w.client.get("/api/plans", headers=w.h())]


@case("templates_index")
def _templates_index(w: World):
    c = w.client
    return [
        c.get("/api/templates?limit=1"),
        c.get("/api/templates?q=template&category=cms"),
        c.get("/api/templates?cursor=%%%"),
    ]


@case("templates_show")
def _templates_show(w: World):
    return [
        w.client.get(f"/api/templates/{w.template.id}"),
        w.client.get(f"/api/templates/{uuid.uuid4()}"),
    ]


@case("templates_create")
def _templates_create(w: World):
    c = w.client
    return [
        c.post("/api/templates", headers=w.h(w.root_token), json=TEMPLATE_BODY),
        c.post("/api/templates", headers=w.h(w.root_token), json=TEMPLATE_BODY),  # 409
        c.post(
            "/api/templates",
            headers=w.h(w.root_token),
            json={**TEMPLATE_BODY, "price_tier": "gold"},
        ),  # 422
        c.post("/api/templates", headers=w.h(), json=TEMPLATE_BODY),
    ]  # 403


@case("templates_update")
def _templates_update(w: World):
    c = w.client
    path = f"/api/templates/{w.template.id}"
    return [
        c.put(path, headers=w.h(w.root_token), json={"description": "Updated"}),
        c.put(path, headers=w.h(w.root_token), json={"name": None}),  # 422
        c.put(f"/api/templates/{uuid.uuid4()}", headers=w.h(w.root_token), json={}),
    ]


@case("templates_delete")
def _templates_delete(w: World):
    c = w.client
    return [
        c.delete(f"/api/templates/{w.template.id}", headers=w.h(w.root_token)),
        c.delete(f"/api/templates/{w.template.id}", headers=w.h()),
    ]  # 403


def _deploy_body(w: World, name: str) -> dict:
    return {
        "template_id": str(w.template.id),
        "name": name,
        "variables": {"ADMIN_EMAIL": "ada@example.com"},
    }


@case("templates_deploy")
def _templates_deploy(w: World):
    c = w.client
    return [
        c.post(
            "/api/templates/deploy",
            headers=w.h(w.admin_token),
            json=_deploy_body(w, "from-template"),
        ),
        c.post("/api/templates/deploy", headers=w.h(w.read), json=_deploy_body(w, "read-only")),
    ]  # 403


# --- instances --------------------------------------------------------------------------


@case("instances_index")
def _instances_index(w: World):
    c = w.client
    return [
        c.get("/api/instances?limit=1", headers=w.h(w.read)),
        c.get(f"/api/instances?status=running&template_id={w.template.id}", headers=w.h()),
        c.get("/api/instances?include_deleted=true", headers=w.h()),
        c.get("/api/instances?status=sleeping", headers=w.h()),
    ]  # 422


@case("instances_create")
def _instances_create(w: World):
    c = w.client
    return [
        c.post("/api/instances", headers=w.h(), json=_deploy_body(w, "blog")),
        c.post("/api/instances", headers=w.h(), json=_deploy_body(w, "blog")),  # 422: taken
        c.post(
            "/api/instances",
            headers=w.h(),
            json={**_deploy_body(w, "x"), "template_id": str(uuid.uuid4())},
        ),
    ]  # 404


@case("instances_status")
def _instances_status(w: World):
    return [w.client.get("/api/instances/status", headers=w.h(w.read))]


@case("instances_show")
def _instances_show(w: World):
    return [
        w.client.get(f"/api/instances/{w.instance.id}", headers=w.h(w.read)),
        w.client.get(f"/api/instances/{uuid.uuid4()}", headers=w.h()),
    ]


@case("instances_update")
def _instances_update(w: World):
    c = w.client
    path = f"/api/instances/{w.instance.id}"
    return [
        c.put(path, headers=w.h(), json={"name": "renamed-app"}),  # 200
        c.put(path, headers=w.h(), json={"action": "restart"}),  # 202
        c.put(path, headers=w.h(), json={"action": "start"}),  # 409
        c.put(path, headers=w.h(w.read), json={"name": "no"}),
    ]  # 403


@case("instances_delete")
def _instances_delete(w: World):
    c = w.client
    path = f"/api/instances/{w.instance.id}"
    return [c.delete(path, headers=w.h()), c.delete(path, headers=w.h())]  # 202, 409


# --- railway (platform admins) ----------------------------------------------------------


@case("railway_projects")
def _railway_projects(w: World):
    return [
        w.client.get("/api/railway/projects", headers=w.h(w.root_token)),
        w.client.get("/api/railway/projects", headers=w.h()),
    ]  # 403


def _on_railway(w: World):
    """A project with one deployed service on the emulator: (project_id, env_id, service_id)."""
    from railsaas.instances import steps

    with w.app.app_context():  # the app's Railway client, pointed at the emulator
        rc = steps.client()
        project = rc.create_project(steps.project_name(uuid.uuid4()))
        redis_template = rc.template("redis")
        # defaultValue is sent as the value (Railway does not fill it in), and the service
        # appears only as the template's workflow runs (docs/railway.md).
        rc.deploy_template(
            redis_template.id,
            fill_variables(redis_template.serialized_config, {}),
            project_id=project.id,
            environment_id=project.environments[0].id,
        )
        project = wait_until(
            lambda: (p := rc.project(project.id)).services and p,
            timeout=20,
            interval=0.05,
            message="the template's service",
        )
    return project.id, project.environments[0].id, project.services[0].id


@case("railway_services")
def _railway_services(w: World):
    project_id, _, _ = _on_railway(w)
    c = w.client
    return [
        c.get(f"/api/railway/services?project_id={project_id}", headers=w.h(w.root_token)),
        c.get("/api/railway/services?project_id=nope", headers=w.h(w.root_token)),  # 404
        c.get("/api/railway/services", headers=w.h(w.root_token)),
    ]  # 422


@case("railway_service_create")
def _railway_service_create(w: World):
    project_id, _, _ = _on_railway(w)
    c = w.client
    body = {"project_id": project_id, "name": "contract-svc", "image": "nginx:1.27"}
    return [
        c.post("/api/railway/services", json=body, headers=w.h(w.root_token)),  # 201
        c.post("/api/railway/services", json=body, headers=w.h(w.root_token)),  # 422: taken
        c.post(
            "/api/railway/services", json={"project_id": "nope"}, headers=w.h(w.root_token)
        ),  # 404
        c.post("/api/railway/services", json=body, headers=w.h()),  # 403
    ]


@case("railway_deployments")
def _railway_deployments(w: World):
    _, env_id, service_id = _on_railway(w)
    c = w.client
    return [
        c.get(
            f"/api/railway/deployments?environment_id={env_id}&service_id={service_id}",
            headers=w.h(w.root_token),
        ),
        c.get(
            "/api/railway/deployments?environment_id=e&service_id=s", headers=w.h(w.root_token)
        ),  # 404
        c.get("/api/railway/deployments?environment_id=e", headers=w.h(w.root_token)),
    ]


# --- billing ----------------------------------------------------------------------------


@case("billing_subscription")
def _billing_subscription(w: World):
    return [
        w.client.get("/api/billing/subscription", headers=w.h(w.read)),
        w.client.get("/api/billing/subscription"),
    ]


@case("billing_subscription_change")
def _billing_subscription_change(w: World):
    from tests.support.billing import make_plans

    plan = make_plans(w.app)["starter"]
    c = w.client
    return [
        c.post(
            "/api/billing/subscription", headers=w.h(), json={"plan_id": str(plan.id)}
        ),  # 201: to Checkout
        c.post(
            "/api/billing/subscription", headers=w.h(), json={"cancel_at_period_end": True}
        ),  # 409: nothing to cancel
        c.post("/api/billing/subscription", headers=w.h(), json={}),  # 422
        c.post("/api/billing/subscription", headers=w.h(w.read), json={"plan_id": str(plan.id)}),
    ]  # 403


@case("billing_invoices")
def _billing_invoices(w: World):
    return [
        w.client.get("/api/billing/invoices?limit=5", headers=w.h(w.read)),
        w.client.get("/api/billing/invoices?cursor=!", headers=w.h()),
    ]


@case("billing_usage")
def _billing_usage(w: World):
    c = w.client
    return [
        c.get("/api/billing/usage", headers=w.h(w.read)),
        c.get(f"/api/billing/usage?instance_id={uuid.uuid4()}", headers=w.h()),  # 404
        c.get("/api/billing/usage?instance_id=nope", headers=w.h()),
    ]  # 422


@case("stripe_webhook")
def _stripe_webhook(w: World):
    import json
    import time

    from tests.support.billing import signed_post

    event = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {"id": "cus_contract", "object": "customer"}},
        }
    )
    secret = w.stripe.dispatcher.settings.secret
    return [
        signed_post(w.client, event, secret),
        signed_post(w.client, event, secret),  # a duplicate: 200, duplicate true
        signed_post(w.client, event, "whsec_wrong"),  # 400
        w.client.post("/api/stripe/webhook", json={"id": "evt_x"}),
    ]  # 400: unsigned


# --- workspaces, members, invitations (teams) ---------------------------------------------


def _teammate(w: World, role: str = "member"):
    """Another verified person in the workspace, and their session token."""
    from tests.support.api import session_token

    mate = w.factory.user()
    w.factory.member(w.tenant, mate, role)
    return mate, session_token(w.client, mate)


def _invite(w: World, email: str | None = None) -> dict:
    return w.client.post(
        f"/api/workspaces/{w.tenant.id}/invitations",
        headers=w.h(),
        json={"email": email or f"inv-{uuid.uuid4().hex[:8]}@example.com", "role": "member"},
    ).json


@case("workspaces_index")
def _workspaces_index(w: World):
    return [
        w.client.get("/api/workspaces?limit=1", headers=w.h(w.read)),
        w.client.get("/api/workspaces?cursor=zz", headers=w.h()),
    ]  # 422


@case("workspaces_create")
def _workspaces_create(w: World):
    c = w.client
    return [
        c.post("/api/workspaces", headers=w.h(), json={"name": "Contract"}),
        c.post("/api/workspaces", headers=w.h(), json={"name": ""}),  # 422
        c.post("/api/workspaces", headers=w.h(w.admin_token), json={"name": "Bound"}),
    ]  # 403: a token of one workspace


@case("workspaces_current")
def _workspaces_current(w: World):
    return [
        w.client.get("/api/workspaces/current", headers=w.h(w.read)),
        w.client.get("/api/workspaces/current"),
    ]  # 401


@case("workspaces_show")
def _workspaces_show(w: World):
    return [
        w.client.get(f"/api/workspaces/{w.tenant.id}", headers=w.h(w.read)),
        w.client.get(f"/api/workspaces/{uuid.uuid4()}", headers=w.h()),
    ]  # 404


@case("workspaces_update")
def _workspaces_update(w: World):
    c, path = w.client, f"/api/workspaces/{w.tenant.id}"
    return [
        c.patch(path, headers=w.h(), json={"name": "Renamed"}),
        c.patch(path, headers=w.h(w.read), json={"name": "No"}),
    ]  # 403: scope


@case("workspaces_delete")
def _workspaces_delete(w: World):
    c = w.client
    spare = c.post("/api/workspaces", headers=w.h(), json={"name": "Spare"}).json
    return [
        c.delete(f"/api/workspaces/{spare['id']}", headers=w.h()),
        c.delete(f"/api/workspaces/{w.tenant.id}", headers=w.h()),
    ]  # 409: an instance


@case("workspaces_leave")
def _workspaces_leave(w: World):
    _, mate_token = _teammate(w)
    c, path = w.client, f"/api/workspaces/{w.tenant.id}/leave"
    return [
        c.post(path, headers=w.h(mate_token)),
        c.post(path, headers=w.h()),
    ]  # 409: the last owner


@case("workspaces_transfer")
def _workspaces_transfer(w: World):
    mate, _ = _teammate(w)
    c, path = w.client, f"/api/workspaces/{w.tenant.id}/transfer"
    return [
        c.post(path, headers=w.h(), json={"user_id": str(uuid.uuid4())}),  # 404
        c.post(path, headers=w.h(), json={"user_id": str(mate.id)}),
    ]


@case("members_index")
def _members_index(w: World):
    path = f"/api/workspaces/{w.tenant.id}/members"
    return [
        w.client.get(f"{path}?limit=1", headers=w.h(w.read)),
        w.client.get(f"{path}?cursor=!", headers=w.h()),
    ]  # 422


@case("members_update")
def _members_update(w: World):
    mate, _ = _teammate(w)
    c, base = w.client, f"/api/workspaces/{w.tenant.id}/members"
    return [
        c.patch(f"{base}/{mate.id}", headers=w.h(), json={"role": "viewer"}),
        c.patch(f"{base}/{w.user.id}", headers=w.h(), json={"role": "admin"}),  # 409
        c.patch(f"{base}/{mate.id}", headers=w.h(), json={"role": "root"}),
    ]  # 422


@case("members_delete")
def _members_delete(w: World):
    mate, _ = _teammate(w)
    c, base = w.client, f"/api/workspaces/{w.tenant.id}/members"
    return [
        c.delete(f"{base}/{mate.id}", headers=w.h()),
        c.delete(f"{base}/{w.user.id}", headers=w.h()),
    ]  # 409: the last owner


@case("invitations_index")
def _invitations_index(w: World):
    _invite(w)
    path = f"/api/workspaces/{w.tenant.id}/invitations"
    return [
        w.client.get(f"{path}?limit=1", headers=w.h(w.read)),
        w.client.get(f"{path}?cursor=!", headers=w.h()),
    ]  # 422


@case("invitations_create")
def _invitations_create(w: World):
    c, path = w.client, f"/api/workspaces/{w.tenant.id}/invitations"
    body = {"email": "contract-invite@example.com", "role": "viewer"}
    return [
        c.post(path, headers=w.h(), json=body),
        c.post(path, headers=w.h(), json=body),  # 409: already invited
        c.post(path, headers=w.h(), json={"email": "x", "role": "viewer"}),  # 422
        c.post(path, headers=w.h(w.read), json=body),
    ]  # 403: scope


@case("invitations_revoke")
def _invitations_revoke(w: World):
    inv = _invite(w)
    base = f"/api/workspaces/{w.tenant.id}/invitations"
    return [
        w.client.delete(f"{base}/{inv['id']}", headers=w.h()),
        w.client.delete(f"{base}/{uuid.uuid4()}", headers=w.h()),
    ]  # 404


@case("invitations_resend")
def _invitations_resend(w: World):
    inv = _invite(w)
    base = f"/api/workspaces/{w.tenant.id}/invitations"
    return [
        w.client.post(f"{base}/{inv['id']}/resend", headers=w.h()),
        w.client.post(f"{base}/{inv['id']}/resend", headers=w.h()),  # 429: just sent
        w.client.post(f"{base}/{uuid.uuid4()}/resend", headers=w.h()),
    ]  # 404


@case("invitations_accept")
def _invitations_accept(w: World):
    import re

    from sqlalchemy import select

    from railsaas.models import Email
    from tests.support.api import session_token

    joiner = w.factory.user()
    _invite(w, joiner.email)
    with db.scope(SYSTEM) as s:
        body = s.scalars(select(Email.text_body).where(Email.to_address == joiner.email)).one()
    token = re.search(r"/invitations/accept/(\S+)", body).group(1)
    c = w.client
    return [
        c.post(
            "/api/invitations/accept", headers=w.h(session_token(c, joiner)), json={"token": token}
        ),
        c.post("/api/invitations/accept", headers=w.h(), json={"token": "forged"}),  # 400
        c.post("/api/invitations/accept", headers=w.h(w.admin_token), json={"token": token}),
    ]  # 403: a token of one workspace


# --- meta -------------------------------------------------------------------------------


@case("openapi_json")
def _openapi_json(w: World):
    return [w.client.get("/api/openapi.json")]


@case("docs")
def _docs(w: World):
    return [w.client.get("/api/docs")]


# ----------------------------------------------------------------------------------------


def _operation_ids(app) -> list[str]:
    return sorted(
        op["operationId"] for ops in document(app)["paths"].values() for op in ops.values()
    )


def test_every_documented_operation_has_a_contract_case(app):
    missing = [o for o in _operation_ids(app) if o not in CASES]
    assert not missing, f"write a contract case for: {missing}"
    stale = [o for o in CASES if o not in _operation_ids(app)]
    assert not stale, f"contract cases for operations that no longer exist: {stale}"


@pytest.mark.parametrize("operation_id", sorted(CASES))
def test_operation_answers_as_documented(app, world, operation_id):
    doc = document(app)
    responses = CASES[operation_id](world)
    assert any(200 <= r.status_code < 300 for r in responses), (
        f"{operation_id}: no case reached the success path"
    )
    for response in responses:
        assert_conforms(doc, operation_id, response)
