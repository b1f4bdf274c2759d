"""Teams tests: a workspace with one person of each role, another workspace beside it, and
clients that act as any of them through the real pages (CSRF included) or the JSON API."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import String, cast, select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, Invitation, Membership, OutboxMessage, Tenant, User
from tests.support import DEFAULT_PASSWORD, login_as

ROLES = ("owner", "admin", "member", "viewer")


@pytest.fixture(autouse=True)
def _clear_throttles(redis_conn):
    def clear():
        keys = [*redis_conn.scan_iter("auth:*"), *redis_conn.scan_iter("teams:*")]
        if keys:
            redis_conn.delete(*keys)

    clear()
    yield
    clear()


@dataclass
class Team:
    tenant: Tenant
    people: dict[str, User]  # role -> user
    other: Tenant             # a workspace none of them belongs to
    stranger: User            # its owner
    extra: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, role: str) -> User:
        return self.people[role]


@pytest.fixture
def team(factory) -> Team:
    tenant = factory.tenant(name="Acme")
    people = {}
    for role in ROLES:
        user = factory.user(name=f"{role.title()} Person")
        factory.member(tenant, user, role)
        people[role] = user
    stranger, other = factory.workspace(name="Stranger")
    return Team(tenant=tenant, people=people, other=other, stranger=stranger)


class PageClient:
    """A signed-in browser session on the test client: keeps the CSRF token, posts forms."""

    def __init__(self, app, user: User | None, workspace: Tenant | None = None):
        self.app = app
        self.client = app.test_client()
        self.csrf: str | None = None
        if user is not None:
            login_as(app, self.client, user)
        if workspace is not None:
            with self.client.session_transaction() as s:
                s["tenant_id"] = str(workspace.id)

    def _grab(self, resp) -> None:
        if resp.mimetype == "text/html":
            m = re.search(r'name="csrf-token" content="([^"]+)"', resp.get_data(as_text=True))
            if m:
                self.csrf = m.group(1)

    def get(self, path: str, **kw):
        resp = self.client.get(path, **kw)
        self._grab(resp)
        return resp

    def post(self, path: str, data: dict | None = None, **kw):
        if self.csrf is None:
            self.get("/account" if self._signed_in() else "/login")
        resp = self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)
        self._grab(resp)
        return resp

    def _signed_in(self) -> bool:
        with self.client.session_transaction() as s:
            return "_user_id" in s


@pytest.fixture
def pages(app, dbconn):
    """pages(user, workspace=None) -> a PageClient signed in as `user`."""
    return lambda user, workspace=None: PageClient(app, user, workspace)


class ApiClient:
    def __init__(self, client, token: str, workspace: Tenant | None = None):
        self.client, self.token = client, token
        self.headers = {"Authorization": f"Bearer {token}"}
        if workspace is not None:
            self.headers["X-Workspace-ID"] = str(workspace.id)

    def __getattr__(self, method: str):
        if method not in ("get", "post", "put", "patch", "delete"):
            raise AttributeError(method)

        def call(path: str, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            return getattr(self.client, method)(path, headers=headers, **kw)

        return call


@pytest.fixture
def api(app, dbconn):
    """api(user, workspace=None) -> an ApiClient with a fresh access token for `user`."""

    def make(user: User, workspace: Tenant | None = None) -> ApiClient:
        client = app.test_client()
        resp = client.post("/api/auth/login",
                           json={"email": user.email, "password": DEFAULT_PASSWORD})
        assert resp.status_code == 200, resp.json
        return ApiClient(client, resp.json["access_token"], workspace)

    return make


# --- reading what happened (system context: the tests' view, not the app's) -------------------

def role_of(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    with db.scope(SYSTEM) as s:
        return s.scalar(select(Membership.role).where(Membership.tenant_id == tenant_id,
                                                      Membership.user_id == user_id))


def audits(tenant_id: uuid.UUID | None = None, action: str | None = None) -> list[AuditLog]:
    with db.scope(SYSTEM) as s:
        stmt = select(AuditLog).order_by(AuditLog.id)
        if tenant_id is not None:
            stmt = stmt.where(AuditLog.tenant_id == tenant_id)
        if action is not None:
            stmt = stmt.where(AuditLog.action == action)
        return list(s.scalars(stmt))


def invitations(tenant_id: uuid.UUID) -> list[Invitation]:
    with db.scope(SYSTEM) as s:
        return list(s.scalars(select(Invitation).where(Invitation.tenant_id == tenant_id)
                              .order_by(Invitation.created_at)))


def invitation_link(to: str) -> str:
    """The path of the link in the newest invitation email to `to`."""
    with db.scope(SYSTEM) as s:
        # Newest by the outbox's sequence: now() is one instant inside a test's transaction.
        email = s.scalars(
            select(Email).join(OutboxMessage,
                               OutboxMessage.args["email_id"].astext == cast(Email.id, String))
            .where(Email.to_address == to, Email.kind == "teams/invitation")
            .order_by(OutboxMessage.id.desc())).first()
        assert email is not None, f"no invitation email to {to}"
        m = re.search(r"https?://[^/\s]+(/invitations/accept/\S+)", email.text_body)
        assert m, email.text_body
        return m.group(1)


def emails_to(to: str) -> list[Email]:
    with db.scope(SYSTEM) as s:
        return list(s.scalars(select(Email).where(Email.to_address == to)))
