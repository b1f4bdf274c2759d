"""Acquisition spend: admins record it (page and API), every change audited; customers get
403; bad input is a 4xx that writes nothing; the table is closed to workspaces by RLS."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from railsaas.db import SYSTEM, TenantContext
from railsaas.extensions import db
from railsaas.models import AcquisitionSpend, AuditLog
from tests.support import CsrfClient
from tests.support.api import bearer, session_token

THIS_MONTH = datetime.now(UTC).date().replace(day=1)


def count() -> int:
    with db.scope(SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(AcquisitionSpend))


def audited(action: str) -> list[AuditLog]:
    with db.scope(SYSTEM) as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


@pytest.fixture
def admin(app, admin_user):
    return CsrfClient(app, user=admin_user, refetch=True)


def test_an_admin_records_and_deletes_spend_on_the_page(admin, admin_user):
    page = admin.get("/admin/acquisition")
    assert page.status_code == 200
    assert 'data-testid="spend-form"' in page.get_data(as_text=True)
    resp = admin.post(
        "/admin/acquisition",
        {"month": "2026-05", "channel": " Google ", "amount": "1,250.50", "note": "Search ads"},
        page="/admin/acquisition",
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    with db.scope(SYSTEM) as s:
        (row,) = s.scalars(select(AcquisitionSpend))
        assert (row.month, row.channel, row.amount_cents, row.note, row.created_by) == (
            date(2026, 5, 1),
            "google",
            125050,
            "Search ads",
            admin_user.id,
        )
        spend_id = row.id
    html = admin.get("/admin/acquisition").get_data(as_text=True)
    assert "$1,250.50" in html
    (entry,) = audited("acquisition.spend_recorded")
    assert entry.actor_user_id == admin_user.id
    assert entry.details["amount_cents"] == 125050
    resp = admin.post(f"/admin/acquisition/{spend_id}/delete", page="/admin/acquisition")
    assert resp.status_code == 303
    assert count() == 0
    assert len(audited("acquisition.spend_deleted")) == 1


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "nan"}, "amount"),
        ({"amount": "inf"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": "1e309"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"amount": "2000000000"}, "amount"),  # more than a billion dollars
        ({"month": "2026-13"}, "month"),
        ({"month": "May 2026"}, "month"),
        ({"month": "2999-01"}, "month"),  # the future
        ({"channel": ""}, "channel"),
        ({"channel": "google<script>"}, "channel"),
        ({"note": "x" * 501}, "note"),
    ],
)
def test_bad_spend_is_a_422_naming_the_field_and_writes_nothing(admin, form, field):
    data = {"month": "2026-05", "channel": "google", "amount": "100", **form}
    resp = admin.post("/admin/acquisition", data, page="/admin/acquisition")
    assert resp.status_code == 422
    assert f'data-testid="error-{field}"' in resp.get_data(as_text=True)
    assert count() == 0
    assert audited("acquisition.spend_recorded") == []


def test_a_nul_character_is_refused_before_the_view(admin):
    resp = admin.post(
        "/admin/acquisition",
        {"month": "2026-05", "channel": "goo\x00gle", "amount": "100"},
        page="/admin/acquisition",
    )
    assert resp.status_code == 400
    assert count() == 0


def test_customers_get_403_on_the_page_the_form_and_the_api(app, client, factory):
    user, _ = factory.workspace()
    browser = CsrfClient(app, client, user=user)
    assert browser.get("/admin/acquisition").status_code == 403
    resp = browser.post(
        "/admin/acquisition",
        {"month": "2026-05", "channel": "google", "amount": "100"},
        page="/dashboard",
    )
    assert resp.status_code == 403
    token = session_token(client, user)
    assert client.get("/api/admin/acquisition-spend", headers=bearer(token)).status_code == 403
    resp = client.post(
        "/api/admin/acquisition-spend",
        headers=bearer(token),
        json={"month": "2026-05", "channel": "google", "amount_cents": 100},
    )
    assert resp.status_code == 403
    assert count() == 0


def test_the_api_records_lists_and_deletes_spend(client, admin_user):
    h = bearer(session_token(client, admin_user))
    resp = client.post(
        "/api/admin/acquisition-spend",
        headers=h,
        json={"month": THIS_MONTH.strftime("%Y-%m"), "channel": "Newsletter", "amount_cents": 4200},
    )
    assert resp.status_code == 201, resp.json
    assert (resp.json["channel"], resp.json["amount_cents"], resp.json["month"]) == (
        "newsletter",
        4200,
        THIS_MONTH.isoformat(),
    )
    listed = client.get("/api/admin/acquisition-spend", headers=h).json
    assert [i["id"] for i in listed["items"]] == [resp.json["id"]]
    assert (
        client.delete(f"/api/admin/acquisition-spend/{resp.json['id']}", headers=h).status_code
        == 204
    )
    assert count() == 0
    assert (
        client.delete(f"/api/admin/acquisition-spend/{resp.json['id']}", headers=h).status_code
        == 404
    )
    assert len(audited("acquisition.spend_recorded")) == 1
    assert len(audited("acquisition.spend_deleted")) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"month": "2026-05", "channel": "google", "amount_cents": -1}', 422),
        ('{"month": "2026-05", "channel": "google", "amount_cents": 10.5}', 422),
        ('{"month": "2026-05", "channel": "google", "amount_cents": NaN}', 400),
        ('{"month": "2026-05", "channel": "google", "amount_cents": Infinity}', 400),
        ('{"month": "2026-05", "channel": "google", "amount_cents": 1e400}', 422),
        ('{"month": "2026-05", "channel": "goo\\u0000gle", "amount_cents": 1}', 400),
        ('{"month": "2026-5", "channel": "google", "amount_cents": 1}', 422),
        ('{"month": "2026-05", "channel": "google"}', 422),
    ],
)
def test_bad_api_input_is_a_clear_4xx_and_writes_nothing(client, admin_user, body, status):
    h = bearer(session_token(client, admin_user), **{"Content-Type": "application/json"})
    resp = client.post("/api/admin/acquisition-spend", headers=h, data=body)
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["message"]
    assert count() == 0


def test_workspaces_can_neither_read_nor_write_spend_rls(app, dbconn, factory):
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.add(AcquisitionSpend(month=THIS_MONTH, channel="google", amount_cents=1))
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        assert s.scalar(select(func.count()).select_from(AcquisitionSpend)) == 0
        with pytest.raises(sa.exc.ProgrammingError), s.begin_nested():
            s.execute(
                sa.insert(AcquisitionSpend).values(month=THIS_MONTH, channel="x", amount_cents=1)
            )
    assert count() == 1
