"""The admin-only Railway API's write and history: POST /api/railway/services (through the
Railway client, against the emulator; audited) and the deployment history of
GET /api/railway/deployments, paged as every list is."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, User
from railsaas.railway import railway_client
from tests.support.api import auth_header


@pytest.fixture
def admin_auth(client, factory):
    admin, _ = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    return auth_header(client, admin)  # enrolled in 2FA and signed in with a code


@pytest.fixture
def project(app, railway_emulator):
    with app.app_context():
        return railway_client().create_project("ops-scratch")


def test_an_admin_creates_a_service_and_it_is_audited(
    app, client, factory, admin_auth, project, railway_emulator
):
    customer, _ = factory.workspace()
    body = {
        "project_id": project.id,
        "name": "cache",
        "image": "redis:7",
        "variables": {"REDIS_PASSWORD": "s3cret-value-never-logged"},
    }
    refused = client.post("/api/railway/services", json=body, headers=auth_header(client, customer))
    assert refused.status_code == 403
    assert railway_emulator.count("ServiceCreate") == 0

    created = client.post("/api/railway/services", json=body, headers=admin_auth)
    assert created.status_code == 201, created.json
    assert created.json["name"] == "cache"
    assert created.json["project_id"] == project.id
    listed = client.get(f"/api/railway/services?project_id={project.id}", headers=admin_auth)
    assert created.json["id"] in [s["id"] for s in listed.json["services"]]
    with db.scope(SYSTEM) as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "railway.service_create"))
    assert row.target_id == created.json["id"]
    assert row.details["variables"] == ["REDIS_PASSWORD"]
    assert "s3cret-value-never-logged" not in repr(row.details)
    assert railway_emulator.token not in created.get_data(as_text=True)

    # Railway refuses a second service of the same name: 422 with its message, nothing new.
    again = client.post("/api/railway/services", json=body, headers=admin_auth)
    assert again.status_code == 422
    assert "already exists" in again.json["error"]["message"]


def test_service_create_checks_the_project_and_the_environment(
    client, admin_auth, project, railway_emulator
):
    missing = client.post(
        "/api/railway/services", json={"project_id": "no-such-project"}, headers=admin_auth
    )
    assert missing.status_code == 404
    elsewhere = client.post(
        "/api/railway/services",
        json={"project_id": project.id, "environment_id": "not-this-projects"},
        headers=admin_auth,
    )
    assert elsewhere.status_code == 422
    assert "environment_id" in elsewhere.json["error"]["details"]
    bad_image = client.post(
        "/api/railway/services",
        json={"project_id": project.id, "image": "nginx; rm -rf /"},
        headers=admin_auth,
    )
    assert bad_image.status_code == 422
    assert railway_emulator.count("ServiceCreate") == 0


def test_deployments_list_the_history_newest_first_a_page_at_a_time(
    app, client, admin_auth, project, railway_emulator
):
    env_id = project.environments[0].id
    created = client.post(
        "/api/railway/services",
        json={"project_id": project.id, "name": "web", "image": "nginx:1.27"},
        headers=admin_auth,
    )
    service_id = created.json["id"]
    with app.app_context():
        for _ in range(2):
            railway_client().deploy_service(env_id, service_id)
        history = [d.id for d in railway_client().deployments(env_id, service_id)]
    assert len(history) == 3

    query = {"environment_id": env_id, "service_id": service_id, "limit": 2}
    first = client.get("/api/railway/deployments", query_string=query, headers=admin_auth)
    assert first.status_code == 200
    assert [d["id"] for d in first.json["items"]] == history[:2]
    assert first.json["next_cursor"]
    second = client.get(
        "/api/railway/deployments",
        query_string=query | {"cursor": first.json["next_cursor"]},
        headers=admin_auth,
    )
    assert [d["id"] for d in second.json["items"]] == history[2:]
    assert second.json["next_cursor"] is None
    stamps = [d["created_at"] for d in first.json["items"] + second.json["items"]]
    assert stamps == sorted(stamps, reverse=True)

    gone = client.get(
        "/api/railway/deployments",
        query_string={"environment_id": env_id, "service_id": "no-such-service"},
        headers=admin_auth,
    )
    assert gone.status_code == 404
