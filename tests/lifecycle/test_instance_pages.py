"""Instance pages: the list with live status, the tabs, and what another workspace sees."""

from __future__ import annotations

import pytest

from tests.support import csrf_from, login_as

HX = {"HX-Request": "true"}
TABS = ("", "/logs", "/metrics", "/variables", "/deployments", "/settings")


def test_instances_list_shows_cards_with_status(client, make_customer, factory, ghost):
    customer = make_customer(client)
    factory.instance(
        customer.tenant, ghost, name="blog", status="running", domain="blog.up.railway.app"
    )
    factory.instance(customer.tenant, ghost, name="gone", status="deleted")
    html = client.get("/instances/").get_data(as_text=True)
    assert "blog" in html
    assert "blog.up.railway.app" in html
    assert "Running" in html
    assert "gone" not in html


def test_a_changing_status_polls_and_a_settled_one_stops_polling(
    client, make_customer, factory, ghost
):
    customer = make_customer(client)
    busy = factory.instance(customer.tenant, ghost, name="busy", status="deploying")
    done = factory.instance(customer.tenant, ghost, name="done", status="running")
    html = client.get("/instances/").get_data(as_text=True)
    assert f'hx-get="/instances/{busy.id}/status"' in html
    assert 'hx-trigger="every 3s"' in html
    assert f'hx-get="/instances/{done.id}/status"' not in html

    resp = client.get(f"/instances/{busy.id}/status", headers=HX)
    assert resp.status_code == 200
    assert "every 3s" in resp.get_data(as_text=True)

    resp = client.get(f"/instances/{done.id}/status", headers=HX)
    assert resp.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in resp.get_data(as_text=True)
    assert "Running" in resp.get_data(as_text=True)


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders_as_page_and_as_fragment(client, make_customer, factory, ghost, tab):
    customer = make_customer(client)
    inst = factory.instance(
        customer.tenant,
        ghost,
        name="blog",
        config={"ADMIN_EMAIL": "a@b.co", "API_KEY": "topsecretvalue"},
    )
    page = client.get(f"/instances/{inst.id}{tab}")
    assert page.status_code == 200
    assert "<html" in page.get_data(as_text=True)
    frag = client.get(f"/instances/{inst.id}{tab}", headers={**HX, "HX-Target": "tab-content"})
    assert frag.status_code == 200
    body = frag.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="tab-content"')
    assert "topsecretvalue" not in page.get_data(as_text=True) + body


def test_variables_tab_masks_secrets_and_edits_redeploy(client, make_customer, factory, ghost):
    customer = make_customer(client)
    inst = factory.instance(
        customer.tenant,
        ghost,
        name="blog",
        config={"ADMIN_EMAIL": "a@b.co", "API_KEY": "topsecretvalue", "SITE_TITLE": "Old"},
    )
    html = client.get(f"/instances/{inst.id}/variables").get_data(as_text=True)
    assert "topsecretvalue" not in html
    assert "a@b.co" in html
    token = csrf_from(html)
    bad = client.post(
        f"/instances/{inst.id}/variables",
        data={"csrf_token": token, "variables.ADMIN_EMAIL": "nope", "variables.API_KEY": ""},
    )
    assert bad.status_code == 200
    assert "not in the expected format" in bad.get_data(as_text=True)
    ok = client.post(
        f"/instances/{inst.id}/variables",
        data={
            "csrf_token": token,
            "variables.ADMIN_EMAIL": "a@b.co",
            "variables.API_KEY": "",
            "variables.SITE_TITLE": "New",
        },
    )
    assert ok.status_code == 303
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Deployment, Instance

    with db.scope(SYSTEM) as s:
        row = s.get(Instance, inst.id)
        assert row.status == "redeploying"
        assert row.config == {
            "ADMIN_EMAIL": "a@b.co",
            "API_KEY": "topsecretvalue",
            "SITE_TITLE": "New",
        }
        kinds = [d.kind for d in s.query(Deployment).filter_by(instance_id=inst.id)]
        assert kinds == ["variables"]


def test_delete_needs_the_typed_name(client, make_customer, factory, ghost):
    customer = make_customer(client)
    inst = factory.instance(customer.tenant, ghost, name="blog")
    token = csrf_from(client.get(f"/instances/{inst.id}/settings").get_data(as_text=True))
    wrong = client.post(
        f"/instances/{inst.id}/delete", data={"csrf_token": token, "confirm_name": "blo"}
    )
    assert wrong.status_code == 200
    assert "Type blog to confirm" in wrong.get_data(as_text=True)
    right = client.post(
        f"/instances/{inst.id}/delete", data={"csrf_token": token, "confirm_name": "blog"}
    )
    assert right.status_code == 303
    html = client.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert "Deleting" in html


def test_rename_and_custom_domain(client, make_customer, factory, ghost):
    customer = make_customer(client)
    inst = factory.instance(customer.tenant, ghost, name="blog", domain="blog.up.railway.app")
    token = csrf_from(client.get(f"/instances/{inst.id}/settings").get_data(as_text=True))
    assert (
        client.post(
            f"/instances/{inst.id}/rename", data={"csrf_token": token, "name": "journal"}
        ).status_code
        == 303
    )
    bad = client.post(
        f"/instances/{inst.id}/domain", data={"csrf_token": token, "domain": "not a domain"}
    )
    assert bad.status_code == 200
    assert (
        client.post(
            f"/instances/{inst.id}/domain", data={"csrf_token": token, "domain": "Blog.Example.com"}
        ).status_code
        == 303
    )
    html = client.get(f"/instances/{inst.id}/settings").get_data(as_text=True)
    assert "journal" in html
    assert "blog.example.com" in html
    # Railway has not answered (no worker here): a message, never a guessed record.
    dns = html[html.index('data-testid="custom-domain-dns"') :]
    dns = dns[: dns.index("</div>")]
    assert 'data-state="waiting"' in dns
    assert "Waiting for Railway" in dns
    assert "CNAME" not in dns
    assert "blog.up.railway.app" not in dns


def test_actions_follow_the_state_machine(client, make_customer, factory, ghost):
    customer = make_customer(client)
    inst = factory.instance(customer.tenant, ghost, name="blog", status="running")
    html = client.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert 'data-testid="action-stop"' in html
    assert 'data-testid="action-start"' not in html
    token = csrf_from(html)
    assert (
        client.post(f"/instances/{inst.id}/actions/stop", data={"csrf_token": token}).status_code
        == 303
    )
    assert "Stopping" in client.get(f"/instances/{inst.id}").get_data(as_text=True)
    again = client.post(f"/instances/{inst.id}/actions/stop", data={"csrf_token": token})
    assert again.status_code == 409
    assert (
        client.post(f"/instances/{inst.id}/actions/explode", data={"csrf_token": token}).status_code
        == 404
    )


def test_another_workspace_gets_404_on_every_instance_page(
    app, client, make_customer, factory, ghost
):
    owner = make_customer(client)
    inst = factory.instance(owner.tenant, ghost, name="private")
    other = app.test_client()
    make_customer(other)
    for tab in (*TABS, "/status", "/logs.txt"):
        assert other.get(f"/instances/{inst.id}{tab}").status_code == 404, tab
    token = csrf_from(other.get("/instances/").get_data(as_text=True))
    for path, data in (
        ("/variables", {"variables.SITE_TITLE": "x"}),
        ("/rename", {"name": "x"}),
        ("/domain", {"domain": "a.example.com"}),
        ("/delete", {"confirm_name": "private"}),
        ("/actions/stop", {}),
        ("/actions/redeploy", {}),
    ):
        resp = other.post(f"/instances/{inst.id}{path}", data={"csrf_token": token, **data})
        assert resp.status_code == 404, path
    assert "private" not in other.get("/instances/").get_data(as_text=True)
    assert "private" not in other.get("/instances/status").get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/instances/",
        "{inst}",
        "{inst}/logs",
        "{inst}/metrics",
        "{inst}/variables",
        "{inst}/deployments",
        "{inst}/settings",
        "/templates/",
        "/notifications/",
    ],
)
def test_pages_use_a_bounded_number_of_queries(
    app, client, make_customer, factory, ghost, count_queries, path
):
    customer = make_customer(client)
    instances = [factory.instance(customer.tenant, ghost, name=f"app-{i}") for i in range(8)]
    path = path.replace("{inst}", f"/instances/{instances[0].id}")
    client.get(path)  # warm caches (catalog) and the session
    with count_queries() as counter:
        resp = client.get(path)
    assert resp.status_code == 200
    assert 0 < len(counter) <= 10, "\n".join(counter.statements)


def test_viewers_see_but_cannot_change(app, client, make_customer, factory, ghost):
    customer = make_customer(client)
    inst = factory.instance(customer.tenant, ghost, name="blog")
    viewer = factory.user()
    factory.member(customer.tenant, viewer, role="viewer")
    other = app.test_client()
    login_as(app, other, viewer)
    html = other.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert "blog" in html
    resp = other.post(f"/instances/{inst.id}/actions/stop", data={"csrf_token": csrf_from(html)})
    assert resp.status_code == 403
