"""The public catalog: search, filter, detail, JSON, cache."""

from __future__ import annotations

from sqlalchemy import text


def test_catalog_lists_active_templates_with_their_card_details(client, factory, ghost):
    factory.template(name="Umami", category="analytics", price_tier="standard")
    factory.template(name="Retired", is_active=False)
    resp = client.get("/templates/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Ghost" in html
    assert "Umami" in html
    assert "Retired" not in html
    assert "Publishing platform" in html
    assert "$7.00" in html
    assert "512 MB RAM" in html
    assert "starter" in html


def test_catalog_search_and_category_filter(client, factory, ghost):
    factory.template(name="Umami", category="analytics", description="Web analytics")
    html = client.get("/templates/?q=publishing").get_data(as_text=True)
    assert "Ghost" in html
    assert "Umami" not in html
    html = client.get("/templates/?category=analytics").get_data(as_text=True)
    assert "Umami" in html
    assert "Ghost" not in html
    html = client.get("/templates/?q=nothing-like-this").get_data(as_text=True)
    assert 'data-testid="no-templates"' in html


def test_htmx_search_returns_only_the_results_fragment(client, ghost):
    resp = client.get(
        "/templates/?q=ghost", headers={"HX-Request": "true", "HX-Target": "catalog-results"}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.lstrip().startswith('<div id="catalog-results">')
    assert "<html" not in html
    assert "HX-Request" in resp.headers["Vary"]


def test_template_detail_page_and_unknown_or_inactive_ids_are_404(client, factory, ghost):
    html = client.get(f"/templates/{ghost.id}").get_data(as_text=True)
    assert "Ghost" in html
    assert "ADMIN_EMAIL" in html
    retired = factory.template(is_active=False)
    assert client.get(f"/templates/{retired.id}").status_code == 404
    assert client.get("/templates/not-a-uuid").status_code == 404


def test_templates_api_is_public(client, factory, ghost):
    resp = client.get("/api/templates?q=ghost")
    assert resp.status_code == 200
    body = resp.json
    assert [t["name"] for t in body["items"]] == ["Ghost"]
    assert "serialized_config" not in body["items"][0]
    one = client.get(f"/api/templates/{ghost.id}")
    assert one.status_code == 200
    assert one.json["variables"][0]["name"] == "ADMIN_EMAIL"
    missing = client.get("/api/templates/0b5c1c4e-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"


def test_catalog_reads_are_cached_and_dropped_when_an_admin_changes_a_template(
    app, client, ghost, owner_sql, dbconn
):
    from railsaas.catalog import templates as catalog
    from railsaas.db import TenantContext
    from railsaas.extensions import db

    assert "Ghost" in client.get("/templates/").get_data(as_text=True)
    # Behind the app's back: the cached catalog still shows the old name.
    dbconn.exec_driver_sql(f'SET LOCAL ROLE "{app.config["SYSTEM_DB_USER"]}"')
    dbconn.execute(text("UPDATE templates SET name = 'Ghost CMS' WHERE id = :id"), {"id": ghost.id})
    assert "Ghost CMS" not in client.get("/templates/").get_data(as_text=True)
    # Through the service: the cache goes after commit.
    with app.app_context(), db.scope(TenantContext(role="platform_admin")) as s:
        catalog.update_template(s, ghost.id, {"description": "Blogs and newsletters"})
    html = client.get("/templates/").get_data(as_text=True)
    assert "Ghost CMS" in html
    assert "Blogs and newsletters" in html


def test_the_catalog_is_cached_in_the_cache_redis_not_the_apps(client, ghost, servers, redis_conn):
    from railsaas.catalog.templates import CACHE_KEY
    from tests.support.redis import connect

    assert servers.cache_redis_url != servers.redis_url  # CACHE_REDIS_URL is set (conftest)
    assert "Ghost" in client.get("/templates/").get_data(as_text=True)
    cache = connect(servers.cache_redis_url)
    try:
        assert cache.exists(CACHE_KEY)
    finally:
        cache.close()
    assert not redis_conn.exists(CACHE_KEY)
    redis_conn.forget_catalog()  # clears the cache database, where the catalog lives
    cache = connect(servers.cache_redis_url)
    try:
        assert not cache.exists(CACHE_KEY)
    finally:
        cache.close()


def test_the_demo_catalog_is_seeded_once_from_railway_templates(app, dbconn):
    from railsaas.catalog import templates as catalog
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from tests.support.lifecycle import GHOST_CONFIG

    railway = [
        {
            "id": "tpl-ghost",
            "code": "ghost",
            "name": "Ghost",
            "category": "CMS",
            "description": "Blogs",
            "serializedConfig": GHOST_CONFIG,
        }
    ]
    with app.app_context():
        with db.scope(SYSTEM) as s:
            assert catalog.seed_from_railway_templates(s, railway) == 1
        with db.scope(SYSTEM) as s:
            assert catalog.seed_from_railway_templates(s, railway) == 0
            (t,) = [t for t in catalog.active_templates(s) if t["code"] == "ghost"]
    assert t["category"] == "cms"
    assert t["price_tier"] == "starter"
    assert t["monthly_estimate_cents"] == 900
    assert {v["name"] for v in t["variables"]} == {"ADMIN_EMAIL", "SITE_TITLE"}
