"""Admins run the catalog: create, edit, deactivate (and the JSON API does the same)."""

from __future__ import annotations

import json

import pytest

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Template, User
from tests.support import csrf_from, login_as


@pytest.fixture
def admin_client(app, factory):
    user, _ = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
    user.role = "admin"
    client = app.test_client()
    login_as(app, client, user)
    return client


def _form(**kw) -> dict:
    data = {
        "name": "Plausible",
        "railway_template_id": "tpl-plausible",
        "code": "plausible",
        "description": "Analytics",
        "category": "Analytics",
        "price_tier": "standard",
        "monthly_estimate": "8.50",
        "resources.cpu": "0.5",
        "resources.memory_mb": "512",
        "variables_json": json.dumps([{"name": "ADMIN_EMAIL", "required": True}]),
        "serialized_config_json": json.dumps({"services": {}}),
        "is_active": "on",
    }
    data.update(kw)
    return data


def test_admin_creates_edits_and_deactivates_a_template(admin_client, client):
    page = admin_client.get("/admin/templates/new")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    resp = admin_client.post("/admin/templates", data={"csrf_token": token, **_form()})
    assert resp.status_code == 303
    assert "Plausible" in client.get("/templates/").get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        t = s.query(Template).filter_by(code="plausible").one()
        assert t.monthly_estimate_cents == 850
        assert t.category == "analytics"
        assert t.resources == {"cpu": 0.5, "memory_mb": 512}
        assert t.setup_config["variables"][0]["required"] is True
        assert s.query(AuditLog).filter_by(action="template.create").count() == 1
    resp = admin_client.post(
        f"/admin/templates/{t.id}", data={"csrf_token": token, **_form(name="Plausible CE")}
    )
    assert resp.status_code == 303
    assert "Plausible CE" in client.get("/templates/").get_data(as_text=True)
    resp = admin_client.post(f"/admin/templates/{t.id}/deactivate", data={"csrf_token": token})
    assert resp.status_code == 303
    assert "Plausible" not in client.get("/templates/").get_data(as_text=True)
    assert "Plausible CE" in admin_client.get("/admin/templates").get_data(as_text=True)


def test_bad_admin_input_is_shown_and_saves_nothing(admin_client):
    token = csrf_from(admin_client.get("/admin/templates/new").get_data(as_text=True))
    resp = admin_client.post(
        "/admin/templates",
        data={"csrf_token": token, **_form(price_tier="gold", variables_json="[{oops")},
    )
    assert resp.status_code == 200
    assert "is not valid JSON" in resp.get_data(as_text=True)
    resp = admin_client.post(
        "/admin/templates", data={"csrf_token": token, **_form(price_tier="gold")}
    )
    assert resp.status_code == 200
    assert "must be one of" in resp.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        assert s.query(Template).filter_by(code="plausible").count() == 0


def test_customers_cannot_reach_the_admin_catalog(app, client, factory):
    user, _ = factory.workspace()
    login_as(app, client, user)
    assert client.get("/admin/templates").status_code == 403


@pytest.mark.parametrize("path", ["/admin/templates", "/admin/instances", "/admin/templates/new"])
def test_admin_pages_use_a_bounded_number_of_queries(
    admin_client, factory, ghost, count_queries, path
):
    for i in range(6):
        _, tenant = factory.workspace()
        factory.instance(tenant, ghost, name=f"app-{i}")
        factory.template(name=f"Extra {i}")
    admin_client.get(path)
    with count_queries() as counter:
        resp = admin_client.get(path)
    assert resp.status_code == 200
    assert len(counter) <= 10, "\n".join(counter.statements)
