"""The public docs (/docs): every page renders for a visitor, every internal link and anchor
resolves, the routes the pages name are the app's, search answers any input without a
500, and Markdown is rendered safely."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from railsaas.db import SYSTEM
from railsaas.docs import library as docs
from railsaas.extensions import db
from railsaas.models import Tenant
from tests.support import login_as
from tests.support.api import bearer, make_token


class _Links(HTMLParser):
    """The hrefs and element ids of a page."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@pytest.fixture
def lib(app):
    return docs.library(docs.settings_values(app.config))


def _docs_paths(lib) -> list[str]:
    return ["/docs", "/docs/search?q=domain"] + [f"/docs/{p.slug}" for p in lib.pages]


# --- rendering ---------------------------------------------------------------------------


def test_every_page_renders_for_a_visitor(app, lib):
    client = app.test_client()
    assert [p.slug for p in lib.pages][:1] == ["getting-started"]
    assert len(lib.pages) >= 9
    for path in _docs_paths(lib):
        resp = client.get(path)
        assert resp.status_code == 200, path
        html = resp.get_data(as_text=True)
        assert 'data-testid="docs"' in html, path
        assert "css/docs." in html, path  # its stylesheet, fingerprinted
        assert "{{" not in html, f"{path}: a placeholder was left unfilled"
    for page in lib.pages:
        html = client.get(f"/docs/{page.slug}").get_data(as_text=True)
        assert f"<title>{page.title} · Docs" in html
        assert f'<h1 id="{docs.slugify(page.title)}">' in html
        assert 'aria-current="page"' in html  # the sidebar marks the page


def test_every_page_has_its_neighbours_as_previous_and_next(app, lib):
    client = app.test_client()
    pages = lib.pages
    for i, page in enumerate(pages):
        links = _parse(client.get(f"/docs/{page.slug}").get_data(as_text=True))
        html = client.get(f"/docs/{page.slug}").get_data(as_text=True)
        if i > 0:
            assert re.search(rf'href="/docs/{pages[i - 1].slug}" rel="prev"', html)
        else:
            assert 'rel="prev"' not in html
        if i + 1 < len(pages):
            assert re.search(rf'href="/docs/{pages[i + 1].slug}" rel="next"', html)
        else:
            assert 'rel="next"' not in html
        assert f"/docs/{page.slug}" in links.hrefs


def test_the_orders_are_distinct_and_every_page_has_a_summary(lib):
    orders = [p.order for p in lib.pages]
    assert len(set(orders)) == len(orders)
    assert all(p.summary and p.title for p in lib.pages)


def test_an_unknown_page_is_a_404(app):
    client = app.test_client()
    for path in (
        "/docs/nope",
        "/docs/Getting-Started",
        "/docs/getting-started.md",
        "/docs/..%2fapp.py",
        "/docs/api/extra",
        "/docs/" + "x" * 3000,
    ):
        assert client.get(path).status_code == 404, path


def test_the_landing_page_and_the_footer_link_to_the_docs(app):
    client = app.test_client()
    landing = _parse(client.get("/").get_data(as_text=True)).hrefs
    assert "/docs/getting-started" in landing
    assert "/docs" in landing  # the footer
    pricing = _parse(client.get("/pricing").get_data(as_text=True)).hrefs
    assert "/docs" in pricing  # the footer, on every page of the layout


def test_the_numbers_on_the_pages_are_the_settings(app, lib):
    values = dict(docs.settings_values(app.config))
    billing = lib.get("billing-and-spend-caps").html
    for name in ("price_vcpu_month", "price_memory_gb_month", "price_egress_gb"):
        assert values[name] in billing
    assert f"<strong>{app.config['DUNNING_GRACE_DAYS']} days</strong>" in billing
    markup = 1 + app.config["USAGE_MARKUP_PERCENT"] / 100
    assert f"${20 * markup:.2f}" == values["price_vcpu_month"]
    assert values["support_email"] == app.config["SUPPORT_EMAIL"]
    assert app.config["SUPPORT_EMAIL"] in lib.get("status-and-support").html


def test_a_placeholder_without_a_value_is_an_error():
    with pytest.raises(ValueError, match="no value for"):
        docs.library((("base_url", "http://x"),))


# --- links ---------------------------------------------------------------------------------


def test_every_internal_link_and_anchor_resolves(app, factory, lib):
    """Crawl every docs page: an href starting with / must be a route of the app; a docs
    page must answer 200 to a visitor and have the anchor named; any other page must end in
    a 200 for a signed-in owner (a visitor is sent to sign in). Same-page anchors must
    exist."""
    plan = factory.plan(max_instances=5)
    owner, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    visitor = app.test_client()
    signed_in = app.test_client()
    login_as(app, signed_in, owner)
    urls = app.url_map.bind("localhost")
    pages: dict[str, _Links] = {}
    checked: set[str] = set()
    for path in _docs_paths(lib) + ["/"]:
        html = visitor.get(path).get_data(as_text=True)
        pages[path] = links = _parse(html)
        for href in links.hrefs:
            if href.startswith("#"):
                assert href[1:] in links.ids, f"{path}: no #{href[1:]} on the page"
                continue
            if not href.startswith("/") or href.startswith("//") or href in checked:
                continue
            checked.add(href)
            target, fragment = urldefrag(href)
            route = urlsplit(target).path
            try:
                urls.match(route, method="GET")
            except (NotFound, MethodNotAllowed):
                pytest.fail(f"{path} links to {href}, which is no page of the app")
            if route.startswith("/static/"):
                continue
            if route.startswith("/docs"):
                resp = visitor.get(target)
                assert resp.status_code == 200, f"{path} -> {href}: {resp.status_code}"
                if fragment:
                    ids = _parse(resp.get_data(as_text=True)).ids
                    assert fragment in ids, f"{path} -> {href}: no such anchor"
                continue
            assert not fragment or route.startswith("/docs"), href
            resp = visitor.get(target)
            assert resp.status_code == 200 or resp.headers.get("Location", "").startswith(
                "/login"
            ), f"{path} -> {href}: {resp.status_code} for a visitor"
            # Signed in, /login and /register send you on to the dashboard.
            resp = signed_in.get(target, follow_redirects=True)
            assert resp.status_code == 200, f"{path} -> {href}: {resp.status_code} signed in"
    assert len(checked) > 30  # the crawl really followed the pages' links


# --- the routes the pages name -------------------------------------------------------------

_ENDPOINT = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/api/[^\s`'\"<),]*)")
_PLACEHOLDER_SEGMENT = re.compile(r"\{[a-z_]+\}|[A-Z][A-Z_]*_ID")


def _route_exists(app, method: str, path: str) -> bool:
    path = _PLACEHOLDER_SEGMENT.sub(str(uuid.uuid4()), path.split("?")[0]).rstrip(".")
    try:
        app.url_map.bind("localhost").match(path, method=method)
    except (NotFound, MethodNotAllowed):
        return False
    return True


def _curls(text: str) -> list[tuple[str, str]]:
    """(method, path) of every curl command in `text` (continued lines joined)."""
    found = []
    for command in re.findall(r"curl (?:[^\n]|\\\n)*", text):
        command = command.replace("\\\n", " ")
        method = re.search(r"-X (\w+)", command)
        url = re.search(r"https?://[^\s/]+(/\S*)", command)
        assert url, f"a curl without a URL: {command}"
        found.append((method.group(1) if method else "GET", url.group(1)))
    return found


def test_the_routes_the_pages_name_are_routes_of_the_app(app, lib):
    base = app.config["BASE_URL"].rstrip("/")
    values = dict(docs.settings_values(app.config))
    named, curls = [], []
    for slug, source in docs._sources():
        text = docs._PLACEHOLDER.sub(lambda m: values[m.group(1)], source)
        named += [(slug, m, p) for m, p in _ENDPOINT.findall(text)]
        curls += [(slug, m, p) for m, p in _curls(text)]
    assert len(named) >= 8
    assert len(curls) >= 5
    missing = [
        f"{slug}: {method} {path}"
        for slug, method, path in named + curls
        if not _route_exists(app, method, path)
    ]
    assert missing == []
    # The quickstart names this host, from BASE_URL.
    quickstart = f"curl -H &quot;Authorization: Bearer $RAILSAAS_TOKEN&quot; {base}/api/instances"
    assert quickstart in lib.get("api").html


def test_the_quickstart_request_works_as_written(app, factory):
    """The API page's first request, with a token made as the page says: 200, a page."""
    owner, tenant = factory.workspace()
    secret, _ = make_token(owner, tenant, ("read",))
    assert secret.startswith("rs_live_")
    resp = app.test_client().get("/api/instances", headers=bearer(secret))
    assert resp.status_code == 200
    assert set(resp.json) == {"items", "next_cursor"}
    assert app.test_client().get("/api/instances").status_code == 401
    assert app.test_client().get("/api/templates").status_code == 200


# --- search --------------------------------------------------------------------------------


def test_search_ranks_the_page_about_it_first(app):
    client = app.test_client()
    html = client.get("/docs/search", query_string={"q": "spend cap"}).get_data(as_text=True)
    hits = re.findall(r'<li data-testid="docs-hit">\s*<a href="([^"]+)"', html)
    assert hits
    assert hits[0] == "/docs/billing-and-spend-caps#spend-caps"
    assert "<mark>" in html
    html = client.get("/docs/search", query_string={"q": "CNAME"}).get_data(as_text=True)
    hits = re.findall(r'<li data-testid="docs-hit">\s*<a href="([^"]+)"', html)
    assert hits
    assert all(h.startswith("/docs/custom-domains") for h in hits[:2])


def test_an_empty_query_shows_a_hint_and_no_results(app):
    client = app.test_client()
    for query in ({}, {"q": ""}, {"q": "   "}):
        resp = client.get("/docs/search", query_string=query)
        assert resp.status_code == 200
        html = resp.get_data(as_text=True)
        assert 'data-testid="docs-hit"' not in html
        assert "Type a word or two" in html


def test_a_query_with_no_hit_says_so(app):
    resp = app.test_client().get("/docs/search", query_string={"q": "xylophone quasar"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-testid="docs-no-results"' in html
    assert "xylophone quasar" in html
    assert 'data-testid="docs-hit"' not in html


@pytest.mark.parametrize(
    "query",
    [
        "x" * 10_000,
        "spend " * 2_000,
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        ".*(([[\\",
        "%s %d {0} {{base_url}}",
        "ÉTÉ 日本語 🚀 \u202e",
        "!!! ??? ...",
        "a",
        "' OR 1=1 --",
    ],
)
def test_odd_queries_answer_200_and_are_escaped(app, query):
    resp = app.test_client().get("/docs/search", query_string={"q": query})
    assert resp.status_code == 200, query
    html = resp.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    if "{{" not in query:
        assert "{{" not in html


def test_a_nul_in_the_query_is_refused_not_a_500(app):
    resp = app.test_client().get("/docs/search?q=ab%00cd")
    assert resp.status_code == 400


def test_a_short_or_wordless_query_asks_for_words(app):
    html = app.test_client().get("/docs/search", query_string={"q": "a ! ?"}).get_data(as_text=True)
    assert "at least two letters" in html


def test_live_search_answers_with_the_results_only(app):
    resp = app.test_client().get(
        "/docs/search",
        query_string={"q": "token"},
        headers={"HX-Request": "true", "HX-Target": "docs-results"},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="docs-results"')
    assert "<html" not in html
    assert 'data-testid="docs-hit"' in html
    assert "HX-Request" in resp.headers.get("Vary", "")


def test_query_terms_are_bounded():
    assert docs.query_terms("x" * 10_000) == ("x" * docs.MAX_QUERY,)
    assert len(docs.query_terms(" ".join(f"w{i}" for i in range(50)))) == docs.MAX_TERMS
    assert docs.query_terms("Spend CAP spend") == ("spend", "cap")
    assert docs.query_terms(None) == ()


# --- safe rendering ------------------------------------------------------------------------


def test_markdown_is_rendered_without_raw_html_or_script_links():
    page = docs._render(
        docs._markdown(),
        "t",
        {"title": "T", "order": "1", "summary": "s"},
        "# T\n\n<script>alert(1)</script>\n\n<b onclick=x>b</b>\n\n"
        "[a](javascript:alert(1)) [b](data:text/html,x) [c](/docs/api) [d](https://example.com)\n"
        "\n## Same\n\n## Same\n",
    )
    html = str(page.html)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b onclick" not in html
    assert 'href="javascript:' not in html
    assert 'href="data:' not in html
    assert '<a href="/docs/api">c</a>' in html
    assert '<a href="https://example.com" rel="noopener">d</a>' in html
    assert [h.anchor for h in page.toc] == ["t", "same", "same-2"]  # unique anchors
