"""Accounts tests: sign-in throttles and email throttles live in the shared test Redis, so
each test starts with none of them set."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_from


@pytest.fixture(autouse=True)
def _clear_auth_counters(redis_conn):
    def clear():
        keys = list(redis_conn.scan_iter("auth:*"))
        if keys:
            redis_conn.delete(*keys)

    clear()
    yield
    clear()


class Browser:
    """A test client that keeps its CSRF token and posts forms like a browser."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.csrf = None

    def get(self, path, **kw):
        resp = self.client.get(path, **kw)
        if resp.mimetype == "text/html":
            m = re.search(r'name="csrf-token" content="([^"]+)"', resp.get_data(as_text=True))
            if m:
                self.csrf = m.group(1)
        return resp

    def post(self, path, data=None, *, page=None, **kw):
        """POST a form with the CSRF token of `page` (default: `path`) fetched first."""
        self.get(page or path)
        data = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(path, data=data, **kw)

    def login(self, email, password, **kw):
        return self.post("/login", {"email": email, "password": password}, **kw)


@pytest.fixture
def browser(app, client):
    return Browser(app, client)


@pytest.fixture
def new_browser(app, dbconn):
    return lambda **kw: Browser(app, app.test_client(**kw))


def page_csrf(html: str) -> str:
    return csrf_from(html)


def emailed_link(to: str, kind: str) -> str:
    """The path of the link in the newest stored email of `kind` to `to` (the outbox row the
    mail task will send)."""
    from sqlalchemy import select

    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Email

    with db.scope(SYSTEM) as s:
        email = s.scalars(select(Email).where(Email.to_address == to, Email.kind == kind)
                          .order_by(Email.created_at.desc())).first()
        assert email is not None, f"no {kind} email to {to}"
        m = re.search(r"https?://[^/\s]+(/\S+)", email.text_body)
        assert m, email.text_body
        return m.group(1)
