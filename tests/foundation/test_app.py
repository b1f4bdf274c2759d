from tests.support import login_as


def test_landing_page_renders_with_security_headers(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert b"RailSaaS" in resp.data
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    assert "Strict-Transport-Security" in resp.headers  # not DEBUG


def test_dashboard_shows_the_signed_in_users_workspace(app, client, factory):
    user, tenant = factory.workspace(name="Ada")
    login_as(app, client, user)
    resp = client.get("/dashboard")
    assert resp.status_code == 200
    assert tenant.name.encode() in resp.data.replace(b"&#39;", b"'")


def test_unknown_api_route_answers_json_404(client):
    resp = client.get("/api/nothing-here")
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"


def test_admin_panel_is_for_platform_admins_only(app, client, factory):
    user, _ = factory.workspace()
    login_as(app, client, user)
    assert client.get("/admin/").status_code == 403
    admin, _ = factory.workspace(role="owner", email=f"admin-{user.id}@example.com")
    client2 = app.test_client()
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import User

    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    admin.role = "admin"
    login_as(app, client2, admin)
    assert client2.get("/admin/").status_code == 200


def test_readme_lists_every_setting():
    from pathlib import Path

    from railsaas.config import settings_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert settings_table() in readme, (
        "README's settings table is stale: run `.venv/bin/python -m railsaas.config "
        "--update-readme`"
    )


def test_client_ip_comes_from_the_trusted_proxy_hop_only(servers):
    from flask import request

    from railsaas.app import create_app

    app = create_app({"TESTING": True, "TRUSTED_PROXIES": 1})

    @app.get("/_ip")
    def _ip():
        return request.remote_addr or ""

    client = app.test_client()
    # The proxy appends the real client; anything before it is client-supplied and ignored.
    resp = client.get("/_ip", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    assert resp.text == "203.0.113.7"


def test_landing_page_shows_templates_from_the_catalog_and_the_plans(client, factory, redis_conn):
    redis_conn.forget_catalog()  # rows made by the factory bypass the catalog's invalidation
    factory.template(name="Ghost", description="Publishing for newsletters")
    factory.plan(name="Team Plan", price_cents=4900, max_instances=7)
    try:
        page = client.get("/").get_data(as_text=True)
    finally:
        redis_conn.forget_catalog()
    assert "Ghost" in page
    assert "Publishing for newsletters" in page
    assert "Team Plan" in page
    assert "$49.00" in page
    assert "Up to 7 instances" in page
