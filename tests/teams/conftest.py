"""Teams tests: a workspace with one person of each role, another workspace beside it, and
clients that act as any of them through the real pages (CSRF included) or the JSON API."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from railsaas.models import Tenant, User
from tests.support import DEFAULT_PASSWORD, CsrfClient
from tests.support.redis import AUTH, TEAMS
from tests.support.teams import ROLES


@pytest.fixture(autouse=True)
def _clear_throttles(redis_conn):
    redis_conn.forget(AUTH, TEAMS)
    yield
    redis_conn.forget(AUTH, TEAMS)


@dataclass
class Team:
    tenant: Tenant
    people: dict[str, User]  # role -> user
    other: Tenant  # a workspace none of them belongs to
    stranger: User  # its owner
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


@pytest.fixture
def pages(app, dbconn):
    """pages(user, workspace=None) -> a CsrfClient signed in as `user`."""
    return lambda user, workspace=None: CsrfClient(app, user=user, workspace=workspace)


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
        resp = client.post(
            "/api/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )
        assert resp.status_code == 200, resp.json
        return ApiClient(client, resp.json["access_token"], workspace)

    return make


# --- reading what happened (system context: the tests' view, not the app's) -------------------
