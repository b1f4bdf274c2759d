"""Template logos: an icon is one of our /static/ files or an https image, refused otherwise
when saved (admin form and API, with a clear error), and guarded again when shown: a row
saved before the rule shows the initials, never a `javascript:` or `data:` address."""

from __future__ import annotations

import pytest

from railsaas.catalog.icons import icon_problem, initials, safe_icon_url
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Template, User
from tests.lifecycle.test_admin_templates import _form
from tests.support import csrf_from, login_as
from tests.support.api import auth_header

BAD = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
    "http://example.com/logo.png",
    "//example.com/logo.png",
    "https://user:pw@example.com/logo.png",
    'https://example.com/a.png" onerror="alert(1)',
    "https://example.com/<script>.png",
    "https:/example.com/logo.png",
    "/static/../secret.png",
    "/etc/passwd",
    "ftp://example.com/logo.png",
    "https://example.com/" + "a" * 300 + ".png",
]
GOOD = ["https://devicons.railway.com/i/ghost.svg", "/static/favicon.svg"]


@pytest.mark.parametrize("value", BAD)
def test_unsafe_icons_are_refused_and_never_rendered(value):
    assert icon_problem(value.strip() if value.startswith(" ") else value)
    assert safe_icon_url(value) is None


@pytest.mark.parametrize("value", GOOD)
def test_https_images_and_our_own_static_files_are_accepted(value):
    assert icon_problem(value) is None
    assert safe_icon_url(value) == value


def test_initials_stand_in_for_a_missing_logo():
    assert initials("Uptime Kuma") == "UK"
    assert initials("n8n") == "N"
    assert initials("") == "?"


@pytest.fixture
def admin(factory):
    user, _ = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
    user.role = "admin"
    return user


def test_the_admin_form_says_what_is_wrong_with_an_icon_and_saves_nothing(app, admin):
    client = app.test_client()
    login_as(app, client, admin)
    token = csrf_from(client.get("/admin/templates/new").get_data(as_text=True))
    resp = client.post(
        "/admin/templates",
        data={"csrf_token": token, **_form(icon="javascript:alert(1)")},
    )
    assert resp.status_code == 200
    assert "must be an https:// image URL" in resp.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        assert s.query(Template).filter_by(code="plausible").count() == 0
    resp = client.post(
        "/admin/templates",
        data={"csrf_token": token, **_form(icon="https://cdn.example.com/plausible.svg")},
    )
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.query(Template).filter_by(code="plausible").one().icon == (
            "https://cdn.example.com/plausible.svg"
        )


def test_the_api_answers_422_for_an_unsafe_icon(client, admin):
    headers = auth_header(client, admin)
    body = {
        "name": "Plausible",
        "railway_template_id": "tpl-plausible-api",
        "category": "analytics",
        "price_tier": "standard",
        "icon": "data:image/png;base64,AAAA",
    }
    resp = client.post("/api/templates", headers=headers, json=body)
    assert resp.status_code == 422
    assert "https://" in resp.json["error"]["details"]["icon"]
    created = client.post(
        "/api/templates", headers=headers, json={**body, "icon": "/static/favicon.svg"}
    )
    assert created.status_code == 201
    tid = created.json["id"]
    bad = client.put(f"/api/templates/{tid}", headers=headers, json={"icon": "http://x.test/a"})
    assert bad.status_code == 422
    assert client.get(f"/api/templates/{tid}").json["icon"] == "/static/favicon.svg"


def test_cards_show_a_safe_logo_and_initials_for_anything_else(client, factory):
    factory.template(name="Shiny Logo", icon="https://cdn.example.com/shiny.svg")
    # Written straight to the database, as a row from before the rule could be.
    factory.template(name="Evil Logo", icon="javascript:alert(1)")
    factory.template(name="Plain Name", icon=None)
    html = client.get("/templates/").get_data(as_text=True)
    assert 'data-testid="logo">SL<img src="https://cdn.example.com/shiny.svg"' in html
    assert 'data-testid="logo">EL</span>' in html  # initials, no image
    assert 'data-testid="logo">PN</span>' in html
    assert "javascript:" not in html
