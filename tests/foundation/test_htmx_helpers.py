"""htmx_helpers: one rule for page or fragment (`wants_fragment`), one answer after a change
(`redirect_to`), and Vary that gains HX-Request without losing what was there."""

import pytest

from railsaas.blueprints import htmx_helpers
from tests.support import login_as

FRAGMENT = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, False),
        (FRAGMENT, True),
        (BOOSTED, False),
        ({"HX-Request": "false"}, False),
    ],
)
def test_wants_fragment_is_htmx_and_not_boosted(app, headers, expected):
    with app.test_request_context("/", headers=headers):
        assert htmx_helpers.wants_fragment() is expected


def _render_names(app, monkeypatch, headers, **kwargs):
    monkeypatch.setattr(htmx_helpers, "render_template", lambda name, **context: name)
    with app.test_request_context("/", headers=headers):
        return htmx_helpers.render("page.html", "_fragment.html", **kwargs)


def test_a_fragment_request_gets_the_fragment(app, monkeypatch):
    resp = _render_names(app, monkeypatch, FRAGMENT)
    assert resp.get_data(as_text=True) == "_fragment.html"
    assert "HX-Request" in resp.vary


def test_a_boosted_request_gets_the_page(app, monkeypatch):
    resp = _render_names(app, monkeypatch, BOOSTED)
    assert resp.get_data(as_text=True) == "page.html"
    assert "HX-Request" in resp.vary


def test_partial_for_limits_the_fragment_to_its_target(app, monkeypatch):
    other = _render_names(
        app, monkeypatch, {**FRAGMENT, "HX-Target": "elsewhere"}, partial_for="tab-content"
    )
    assert other.get_data(as_text=True) == "page.html"
    mine = _render_names(
        app, monkeypatch, {**FRAGMENT, "HX-Target": "tab-content"}, partial_for="tab-content"
    )
    assert mine.get_data(as_text=True) == "_fragment.html"


def test_redirect_to_is_hx_redirect_for_htmx_and_303_otherwise(app):
    with app.test_request_context("/", method="POST", headers=FRAGMENT):
        resp = htmx_helpers.redirect_to("/there")
        assert resp.status_code == 204
        assert resp.headers["HX-Redirect"] == "/there"
    for headers in ({}, BOOSTED):
        with app.test_request_context("/", method="POST", headers=headers):
            resp = htmx_helpers.redirect_to("/there")
            assert resp.status_code == 303
            assert resp.headers["Location"] == "/there"


@pytest.mark.parametrize("path", ["/dashboard", "/account/tokens", "/members"])
def test_vary_keeps_cookie_and_adds_hx_request(app, client, factory, path):
    """A signed-in page varies on the session cookie; the fragment rule adds HX-Request
    beside it (the tokens page used to overwrite Vary with HX-Request alone)."""
    user, _ = factory.workspace()
    login_as(app, client, user)
    for headers in ({}, FRAGMENT):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200
        assert {"Cookie", "HX-Request"} <= set(resp.vary), (path, headers, resp.vary)


def test_boosted_and_fragment_requests_to_a_real_page(app, client, factory):
    user, _ = factory.workspace()
    login_as(app, client, user)
    page = client.get("/account/tokens", headers=BOOSTED).get_data(as_text=True)
    assert "<html" in page
    fragment = client.get("/account/tokens", headers=FRAGMENT).get_data(as_text=True)
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="tokens-panel"')
