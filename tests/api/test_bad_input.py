"""Issue 14 §4: NUL bytes, JSON nested 5,000 deep and non-finite numbers (`inf`, `1e400`,
`NaN`) gave 500s. They are refused centrally (railsaas.input_guard): this fuzzes every form
field and query argument of every page route (from `app.url_map`), and every JSON field and
query parameter of every API operation (from the OpenAPI document), with each bad value, and
asserts no 5xx, an answer the document declares (API), and, for what must be refused at the
door, not a single write to the database."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from railsaas.blueprints.api.openapi import document
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Invitation, Tenant, User
from tests.api.contract import assert_conforms
from tests.support import CsrfClient
from tests.support.api import bearer, make_token
from tests.support.redis import AUTH

NUL = "a\x00b"
DEEP = "[" * 5000 + "]" * 5000
FORM_VALUES = (NUL, "inf", "-inf", "1e400", "NaN", "Infinity")
QUERY_NAMES = (
    "q",
    "status",
    "role",
    "plan",
    "page",
    "cursor",
    "limit",
    "sort",
    "filter",
    "tenant",
    "user",
    "instance_id",
    "template",
    "category",
    "state",
    "since",
    "next",
)
# Pages for visitors (signed in, they only redirect): tried by an anonymous browser.
ANONYMOUS_ONLY = {
    "auth.login",
    "auth.register",
    "auth.forgot",
    "auth.reset",
    "auth.resend_verification",
    "auth.second_factor",  # the sign-in's second step: nobody is signed in yet
}
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# The API notes a token's use at most once a minute, before the request's work.
TOUCH = re.compile(r"^\s*UPDATE api_tokens SET last_used_at", re.IGNORECASE)


class Writes:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn, cursor, statement, *args) -> None:
        if WRITE.match(statement) and not TOUCH.match(statement):
            self.seen.append(statement.split("\n")[0][:120])

    def during(self, fn):
        self.seen = []
        event.listen(Engine, "before_cursor_execute", self)
        try:
            return fn()
        finally:
            event.remove(Engine, "before_cursor_execute", self)


@pytest.fixture
def world(app, factory, redis_conn, railway_emulator, stripe_emulator):
    """A platform admin (verified) owning a workspace on a plan, with a template, a running
    instance, a pending invitation and a personal admin token: every route reachable."""
    plan = factory.plan(max_instances=50)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = factory.template()
    inst = factory.instance(tenant, template)
    secret, token = make_token(user, tenant, ("admin",), name="fuzz")
    with db.scope(SYSTEM) as s:
        inv = Invitation(
            tenant_id=tenant.id,
            email="x@example.com",
            role="member",
            token_hash="0" * 64,
            invited_by=user.id,
            expires_at=inst.created_at.replace(year=2099),
        )
        s.add(inv)
        s.flush()
        inv_id = inv.id
    ids = {
        "instance_id": inst.id,
        "template_id": template.id,
        "token_id": token.id,
        "user_id": user.id,
        "invitation_id": inv_id,
        "plan_id": plan.id,
        "tenant_id": tenant.id,
        "workspace_id": tenant.id,
        "notification_id": uuid.uuid4(),
        "failure_id": 1,
        "project_id": "p-1",
        "action": "stop",
        "token": "x",
        "secret": "x",
        "member_id": user.id,
    }
    yield {"user": user, "tenant": tenant, "secret": secret, "ids": ids}
    redis_conn.forget(AUTH)


def _signed_in(app, world) -> CsrfClient:
    """A browser signed in as the admin as they are now (a fuzzed POST may have ended their
    sessions, e.g. /logout, so the session version is read again each time)."""
    with db.scope(SYSTEM) as s:
        user = s.get(User, world["user"].id)
        user.is_suspended = False
        s.flush()
        s.expunge(user)
    return CsrfClient(app, app.test_client(), user=user, workspace=world["tenant"])


def _to_login(resp) -> bool:
    """Answered as to a visitor: the request was not exercised as the admin."""
    return resp.status_code in (302, 303) and resp.headers.get("Location", "").startswith("/login")


def _build(app, rule, ids) -> str:
    values = {a: ids.get(a, uuid.uuid4()) for a in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def _page_rules(app, method: str):
    return [
        r
        for r in app.url_map.iter_rules()
        if method in r.methods and not r.rule.startswith(("/api", "/static"))
    ]


def _field_names(app, world) -> set[str]:
    """Every form field name on every page the admin can open."""
    names = {"email", "password", "confirm", "name", "plan_id", "spend_cap", "role", "q"}
    page = _signed_in(app, world)
    for rule in _page_rules(app, "GET"):
        html = page.get(_build(app, rule, world["ids"])).get_data(as_text=True)
        names |= set(re.findall(r'name="([^"]+)"', html)) - {"csrf_token", "csrf-token"}
    return names


@pytest.mark.fuzz  # about 30 s: every page route, six values each
def test_every_form_field_and_query_argument_refuses_bad_values(app, world):
    writes = Writes()
    fields = _field_names(app, world)
    failures = []
    for value in FORM_VALUES:
        for rule in _page_rules(app, "POST"):
            path = _build(app, rule, world["ids"])
            if rule.endpoint in ANONYMOUS_ONLY:
                page = CsrfClient(app, app.test_client())
                page.get("/login")
            else:
                page = _signed_in(app, world)
                page.get("/account")
            data = {name: value for name in fields}
            resp = writes.during(
                lambda p=page, path=path, data=data: p.client.post(
                    path, data={**data, "csrf_token": p.csrf}
                )
            )
            if resp.status_code >= 500:
                failures.append(f"POST {path} [{value!r}] -> {resp.status_code}")
            if _to_login(resp) and rule.endpoint not in ANONYMOUS_ONLY:
                failures.append(f"POST {path} [{value!r}] was not tried signed in")
            if value == NUL and (resp.status_code != 400 or writes.seen):
                failures.append(f"POST {path} [NUL] -> {resp.status_code}, wrote {writes.seen}")
        for rule in _page_rules(app, "GET"):
            page = (
                CsrfClient(app, app.test_client())
                if rule.endpoint in ANONYMOUS_ONLY
                else _signed_in(app, world)
            )
            path = _build(app, rule, world["ids"])
            query = {n: value for n in QUERY_NAMES}
            resp = writes.during(
                lambda p=page, path=path, query=query: p.client.get(path, query_string=query)
            )
            if resp.status_code >= 500:
                failures.append(f"GET {path} [{value!r}] -> {resp.status_code}")
            if _to_login(resp) and rule.endpoint not in ANONYMOUS_ONLY:
                failures.append(f"GET {path} [{value!r}] was not tried signed in")
            if value == NUL and resp.status_code != 400:
                failures.append(f"GET {path} [NUL] -> {resp.status_code}")
    assert not failures, "\n".join(failures)


def test_a_nul_is_refused_with_a_clear_form_error_page(app, world):
    resp = CsrfClient(app, app.test_client()).post("/login", {"email": NUL, "password": "x"})
    assert resp.status_code == 400
    assert "NUL character" in resp.get_data(as_text=True)


def _schema(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def _bodies(doc, op):
    """For each JSON field of the body: the field with each bad value (raw JSON text)."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return []
    props = _schema(doc, content["schema"]).get("properties", {}) or {"field": {}}
    out = []
    for name in props:
        key = '"' + name + '"'
        out += [
            "{" + key + ': "a\\u0000b"}',
            "{" + key + ": " + DEEP + "}",
            "{" + key + ": 1e400}",
            "{" + key + ": -1e400}",
            "{" + key + ": NaN}",
            "{" + key + ": Infinity}",
            "{" + key + ': {"a\\u0000": 1}}',
        ]
    return out


@pytest.mark.fuzz
def test_every_api_field_and_query_parameter_refuses_bad_values(app, client, world):
    doc = document(app)
    writes = Writes()
    auth = bearer(world["secret"])
    failures = []
    for path, method, op in _operations(doc):
        url = path
        for name in re.findall(r"{(\w+)}", path):
            url = url.replace("{" + name + "}", str(world["ids"].get(name, uuid.uuid4())))
        attempts = [(body, None) for body in _bodies(doc, op)]
        queries = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
        attempts += [(None, {q: NUL}) for q in queries or ["q"]]
        for body, query in attempts:
            resp = writes.during(
                lambda b=body, q=query, u=url, m=method: client.open(
                    u,
                    method=m.upper(),
                    headers=auth,
                    data=b,
                    query_string=q,
                    content_type="application/json" if b is not None else None,
                )
            )
            what = f"{method.upper()} {url} {(body or str(query))[:60]!r}"
            if resp.status_code >= 500:
                failures.append(f"{what} -> {resp.status_code}")
                continue
            if resp.status_code not in (400, 401, 403, 404, 405, 415, 422):
                failures.append(f"{what} accepted: {resp.status_code}")
            if writes.seen:
                failures.append(f"{what} wrote {writes.seen}")
            try:
                assert_conforms(doc, op["operationId"], resp)
            except AssertionError as exc:
                failures.append(f"{what}: {exc}")
    assert not failures, "\n".join(failures)


def test_api_errors_are_clear(client, world):
    auth = bearer(world["secret"])
    deep = client.post(
        "/api/tokens", headers=auth, data='{"name": ' + DEEP + "}", content_type="application/json"
    )
    assert deep.status_code == 400
    assert deep.json["error"]["code"] == "json_too_deep"
    nul = client.post("/api/auth/login", json={"email": NUL, "password": "x"})
    assert nul.status_code == 400
    assert nul.json["error"]["code"] == "invalid_characters"
    assert nul.json["error"]["details"] == {"email": "contains a NUL character"}
    big = client.post(
        "/api/tokens",
        headers=auth,
        data='{"expires_in_days": 1e400}',
        content_type="application/json",
    )
    assert big.status_code == 422
    assert big.json["error"]["code"] == "non_finite_number"
    nan = client.post(
        "/api/tokens",
        headers=auth,
        data='{"expires_in_days": NaN}',
        content_type="application/json",
    )
    assert nan.status_code == 400
    assert nan.json["error"]["code"] == "malformed_json"
