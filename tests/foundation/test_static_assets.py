"""Static files: every link in a page is fingerprinted and cached for a year; a changed file
gets a new URL; anything else revalidates (railsaas/static_assets.py)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from railsaas.static_assets import LONG_CACHE, REVALIDATE

VENDOR = ("vendor/pico.min.css", "vendor/htmx.min.js")


def _fetch(client, url: str):
    """GET a static file and close the response (it holds the file open)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def _static_links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_every_static_link_of_a_page_is_fingerprinted_and_cached_long(client, app):
    for name in VENDOR:
        assert (Path(app.static_folder) / name).is_file(), "run `make assets` (npm run build)"
    page = client.get("/login")
    assert page.status_code == 200
    links = _static_links(page.get_data(as_text=True))
    paths = {urlsplit(link).path for link in links}
    assert {
        "/static/vendor/pico.min.css",
        "/static/vendor/htmx.min.js",
        "/static/css/app.css",
        "/static/js/app.js",
    } <= paths
    for link in links:
        version = parse_qs(urlsplit(link).query).get("v")
        assert version, link
        assert re.fullmatch(r"[0-9a-f]{16}", version[0]), link
        response = _fetch(client, link)
        assert response.status_code == 200, link
        assert response.headers["Cache-Control"] == LONG_CACHE, link
        assert "Expires" not in response.headers


def test_unversioned_and_stale_urls_revalidate(client):
    plain = _fetch(client, "/static/css/app.css")
    assert plain.status_code == 200
    assert plain.headers["Cache-Control"] == REVALIDATE
    stale = _fetch(client, "/static/css/app.css?v=0123456789abcdef")
    assert stale.status_code == 200
    assert stale.headers["Cache-Control"] == REVALIDATE
    assert _fetch(client, "/static/css/nothing-here.css?v=0123456789abcdef").status_code == 404


@pytest.fixture
def scratch_static_file(app):
    path = Path(app.static_folder) / "css" / f"test-{uuid.uuid4().hex}.css"
    path.write_text("body { color: black; }\n")
    yield path
    path.unlink(missing_ok=True)


def test_a_changed_file_gets_a_new_url(app, client, scratch_static_file):
    name = f"css/{scratch_static_file.name}"
    render = app.jinja_env.globals["static_url"]
    with app.test_request_context():
        before = render(name)
    scratch_static_file.write_text("body { color: darkred; }\n")
    with app.test_request_context():
        after = render(name)
    assert before != after
    assert urlsplit(before).path == urlsplit(after).path == f"/static/{name}"
    assert _fetch(client, after).headers["Cache-Control"] == LONG_CACHE
    # A page rendered before the change still asks for the old URL: it gets the new bytes,
    # but may not keep them for a year under that URL.
    old = _fetch(client, before)
    assert b"darkred" in old.data
    assert old.headers["Cache-Control"] == REVALIDATE
