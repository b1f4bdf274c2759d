"""The JSON API for templates and instances: shapes, errors, and workspace isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Instance, Tenant, User
from tests.support.api import auth_header

ZERO = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def api_customer(client, factory):
    """A customer on a plan, and their Bearer header."""
    plan = factory.plan(max_instances=3)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    return user, tenant, auth_header(client, user)


def _instances() -> int:
    with db.scope(SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(Instance))


def test_instances_need_a_token(client):
    resp = client.get("/api/instances")
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "missing_token"


def test_create_answers_202_with_the_instance(client, api_customer, ghost):
    _, tenant, auth = api_customer
    resp = client.post(
        "/api/instances",
        headers=auth,
        json={
            "template_id": str(ghost.id),
            "name": "blog",
            "variables": {"ADMIN_EMAIL": "ada@example.com", "API_KEY": "k" * 40},
        },
    )
    assert resp.status_code == 202
    body = resp.json
    assert body["name"] == "blog"
    assert body["status"] == "requested"
    assert body["template"] == {"id": str(ghost.id), "name": "Ghost"}
    assert sorted(body["variables"]) == ["ADMIN_EMAIL", "API_KEY", "SITE_TITLE"]
    assert "k" * 40 not in resp.get_data(as_text=True)  # names only, never values
    assert body["last_deployment"]["kind"] == "deploy"
    assert resp.headers["Location"] == f"/api/instances/{body['id']}"
    listed = client.get("/api/instances", headers=auth).json["items"]
    assert [i["id"] for i in listed] == [body["id"]]
    statuses = client.get("/api/instances/status", headers=auth).json["items"]
    assert statuses == [
        {
            "id": body["id"],
            "name": "blog",
            "status": "requested",
            "status_reason": None,
            "domain": None,
            "settled": False,
            "status_changed_at": statuses[0]["status_changed_at"],
        }
    ]
    same = client.post(
        "/api/templates/deploy",
        headers=auth,
        json={
            "template_id": str(ghost.id),
            "name": "blog-2",
            "variables": {"ADMIN_EMAIL": "ada@example.com"},
        },
    )
    assert same.status_code == 202


def test_bad_input_is_422_with_field_details_and_creates_nothing(client, api_customer, ghost):
    _, _, auth = api_customer
    before = _instances()
    resp = client.post(
        "/api/instances",
        headers=auth,
        json={
            "template_id": str(ghost.id),
            "name": "Not OK",
            "variables": {"ADMIN_EMAIL": "nope", "EXTRA": "x"},
        },
    )
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["code"] == "validation_failed"
    assert set(error["details"]) == {"name", "variables.ADMIN_EMAIL", "variables.EXTRA"}
    assert (
        client.post(
            "/api/instances", headers=auth, json={"template_id": ZERO, "name": "x"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/instances", headers=auth, data="[1]", content_type="application/json"
        ).status_code
        == 422
    )
    assert _instances() == before


def test_plan_limits_answer_402(client, api_customer, factory, ghost):
    _, tenant, auth = api_customer
    for i in range(3):
        factory.instance(tenant, ghost, name=f"app-{i}")
    resp = client.post(
        "/api/instances",
        headers=auth,
        json={
            "template_id": str(ghost.id),
            "name": "one-too-many",
            "variables": {"ADMIN_EMAIL": "ada@example.com"},
        },
    )
    assert resp.status_code == 402
    assert "3 instances" in resp.json["error"]["message"]


def test_update_and_delete(client, api_customer, factory, ghost):
    _, tenant, auth = api_customer
    inst = factory.instance(
        tenant, ghost, name="blog", status="running", config={"ADMIN_EMAIL": "a@b.co"}
    )
    resp = client.put(f"/api/instances/{inst.id}", headers=auth, json={"name": "journal"})
    assert resp.status_code == 200
    assert resp.json["name"] == "journal"
    resp = client.put(
        f"/api/instances/{inst.id}", headers=auth, json={"variables": {"SITE_TITLE": "Hello"}}
    )
    assert resp.status_code == 202
    assert resp.json["status"] == "redeploying"
    conflict = client.put(f"/api/instances/{inst.id}", headers=auth, json={"action": "start"})
    assert conflict.status_code == 409
    bad = client.put(f"/api/instances/{inst.id}", headers=auth, json={"colour": "red"})
    assert bad.status_code == 422
    resp = client.delete(f"/api/instances/{inst.id}", headers=auth)
    assert resp.status_code == 202
    assert resp.json["status"] == "deleting"
    assert client.delete(f"/api/instances/{inst.id}", headers=auth).status_code == 409


def test_workspace_b_gets_404_for_workspace_a_instances(client, api_customer, factory, ghost):
    _, tenant, _ = api_customer
    inst = factory.instance(tenant, ghost, name="private")
    user_b, _ = factory.workspace()
    auth_b = auth_header(client, user_b)
    path = f"/api/instances/{inst.id}"
    assert client.get(path, headers=auth_b).status_code == 404
    assert client.put(path, headers=auth_b, json={"name": "mine"}).status_code == 404
    assert client.put(path, headers=auth_b, json={"action": "stop"}).status_code == 404
    assert client.delete(path, headers=auth_b).status_code == 404
    assert client.get("/api/instances", headers=auth_b).json["items"] == []
    assert client.get("/api/instances/status", headers=auth_b).json["items"] == []
    assert client.get("/api/instances/not-a-uuid", headers=auth_b).status_code == 404
    with db.scope(SYSTEM) as s:
        assert s.get(Instance, inst.id).name == "private"
        assert s.get(Instance, inst.id).status == "running"


def test_template_writes_are_for_platform_admins(client, api_customer, factory, ghost):
    _, _, auth = api_customer
    body = {
        "name": "Plausible",
        "railway_template_id": "tpl-p",
        "category": "analytics",
        "price_tier": "standard",
        "monthly_estimate_cents": 800,
        "variables": [{"name": "ADMIN_EMAIL", "required": True}],
    }
    assert client.post("/api/templates", headers=auth, json=body).status_code == 403
    assert client.post("/api/templates", json=body).status_code == 401
    admin, _ = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    admin_auth = auth_header(client, admin)
    created = client.post("/api/templates", headers=admin_auth, json=body)
    assert created.status_code == 201
    tid = created.json["id"]
    assert client.get(f"/api/templates/{tid}").json["name"] == "Plausible"
    bad = client.put(f"/api/templates/{tid}", headers=admin_auth, json={"price_tier": "gold"})
    assert bad.status_code == 422
    assert "price_tier" in bad.json["error"]["details"]
    dup = client.post("/api/templates", headers=admin_auth, json=body)
    assert dup.status_code == 409
    updated = client.put(f"/api/templates/{tid}", headers=admin_auth, json={"name": "Plausible CE"})
    assert updated.json["name"] == "Plausible CE"
    gone = client.delete(f"/api/templates/{tid}", headers=admin_auth)
    assert gone.status_code == 200
    assert gone.json["is_active"] is False
    assert client.get(f"/api/templates/{tid}").status_code == 404


def test_railway_views_are_admin_only(client, api_customer):
    _, _, auth = api_customer
    for path in (
        "/api/railway/projects",
        "/api/railway/services?project_id=x",
        "/api/railway/deployments?environment_id=e&service_id=s",
    ):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=auth).status_code == 403
