"""Helpers for tests/resilience (test modules import them from here, not from a conftest)."""

from __future__ import annotations

import re

import httpx

from tests.support import csrf_from

USER_AGENT = "railsaas-resilience/1"


def deploying_workspace(factory, emulator, scopes: list[str]):
    """A workspace on a plan that may deploy, an API token of its owner with `scopes`, and the
    emulator's Ghost template in the catalog: (user, tenant, token, template)."""
    from railsaas.accounts import api_tokens
    from railsaas.db import SYSTEM, TenantContext
    from railsaas.extensions import db
    from railsaas.models import Tenant
    from tests.support.api import member_of
    from tests.support.lifecycle import railway_template

    plan = factory.plan(max_instances=10)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        _, token = api_tokens.create(
            s, member_of(s, tenant.id, user.id), user_id=user.id, name="ci", scopes=scopes
        )
    return user, tenant, token, railway_template(emulator, factory, "ghost")


def session_cookie(app, user, tenant_id=None) -> str:
    """The signed session cookie the login view would set for `user` (Cookie header form),
    for requests from 127.0.0.1 with USER_AGENT (the "strong" session protection checks both)."""
    from flask_login.utils import _create_identifier

    with app.test_request_context(
        environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": USER_AGENT}
    ):
        data = {"_user_id": user.get_id(), "_fresh": True, "_id": _create_identifier()}
        if tenant_id is not None:
            data["tenant_id"] = str(tenant_id)
        value = app.session_interface.get_signing_serializer(app).dumps(data)
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


class Browser:
    """A signed-in browser over real HTTP. The session cookie travels by hand: the app marks
    it Secure (DEBUG=0, as in production), so a cookie jar would not send it over http."""

    def __init__(self, base_url: str, cookie: str, timeout: float = 60.0) -> None:
        self.cookie = cookie
        self.http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def request(self, method: str, path: str, headers: dict | None = None, **kw) -> httpx.Response:
        resp = self.http.request(
            method, path, headers={**(headers or {}), "Cookie": self.cookie}, **kw
        )
        for value in resp.headers.get_list("set-cookie"):
            m = re.match(r"(session=[^;]+)", value)
            if m:
                self.cookie = m.group(1)
        return resp

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.request("POST", path, **kw)

    def csrf(self) -> str:
        return csrf_from(self.get("/instances/").text)

    def deploy(self, template_id, name: str) -> httpx.Response:
        return self.post(
            f"/templates/{template_id}/deploy",
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf()},
            data={"name": name},
        )

    def close(self) -> None:
        self.http.close()


def purge_broker(redis_url: str) -> None:
    """Drop every message waiting in the session broker (other tests enqueue tasks with no
    worker running; a worker started here must not run them)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        r.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    finally:
        r.close()
