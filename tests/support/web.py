"""Signing in and posting forms with their CSRF token on the Flask test client."""

from __future__ import annotations

import re

from flask import g
from flask.ctx import RequestContext
from flask_wtf.csrf import generate_csrf
from werkzeug.test import EnvironBuilder

from tests.support.two_factor import enrol_if_admin

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of a page (every layout carries it in a meta tag for htmx)."""
    m = CSRF_META.search(html)
    assert m, "page has no csrf-token meta tag"
    return m.group(1)


def login_as(app, client, user) -> None:
    """Sign `user` in on a test client, as the login view would (cookie with session id).
    A platform admin is enrolled in 2FA first (tests.support.two_factor): they must be."""
    from flask_login.utils import _create_identifier  # noqa: PLC0415 - needs the app's Flask

    enrol_if_admin(user.id)

    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
        sess["_id"] = identifier


def signed_in(app, user, tenant):
    """A new test client signed in as `user`, its session naming `tenant`."""
    client = app.test_client()
    login_as(app, client, user)
    with client.session_transaction() as s:
        s["tenant_id"] = str(tenant.id)
    return client


class CsrfClient:
    """A test client that posts forms like a browser: it keeps the CSRF token of the last
    HTML page it got and sends it with every POST.

    `user` / `workspace` sign in and pick the workspace first. `refetch=True` GETs the
    form's page (`page`, default the POST's own path) before every POST, as a person
    would; otherwise a POST without a token yet gets the one any page would embed for
    this client's session, without drawing a page (`mint`)."""

    def __init__(self, app, client=None, *, user=None, workspace=None, refetch: bool = False):
        self.app = app
        self.client = client if client is not None else app.test_client()
        self.csrf: str | None = None
        self.refetch = refetch
        if user is not None:
            login_as(app, self.client, user)
        if workspace is not None:
            with self.client.session_transaction() as s:
                s["tenant_id"] = str(workspace.id)

    def _grab(self, resp) -> None:
        if resp.mimetype == "text/html":
            m = CSRF_META.search(resp.get_data(as_text=True))
            if m:
                self.csrf = m.group(1)

    def get(self, path: str, **kw):
        resp = self.client.get(path, **kw)
        self._grab(resp)
        return resp

    def token(self, page: str | None = None) -> str | None:
        if page is not None:
            self.get(page)
        elif self.csrf is None:
            self.csrf = self.mint()
        return self.csrf

    def mint(self) -> str:
        """flask-wtf's own token for this client's session, as a page's meta tag carries it;
        the raw half is saved in the session like a page view would save it."""
        with self.client.session_transaction() as sess:
            environ = EnvironBuilder(path="/", environ_base=self.client.environ_base)
            with RequestContext(self.app, environ.get_environ(), session=sess):
                g.pop("csrf_token", None)  # an app context a test holds may cache another's
                return generate_csrf()

    def post(self, path: str, data: dict | None = None, *, page: str | None = None, **kw):
        """POST a form with the CSRF token (of `page` when given, or refetching)."""
        if page is None and self.refetch:
            page = path
        resp = self.client.post(path, data={"csrf_token": self.token(page), **(data or {})}, **kw)
        self._grab(resp)
        return resp

    def login(self, email: str, password: str, **kw):
        return self.post("/login", {"email": email, "password": password}, page="/login", **kw)
