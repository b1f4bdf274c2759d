"""Sign-up: a user, a personal workspace and an owner membership, under RLS."""

import bcrypt
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, Membership, Tenant, User


def _register(client, **overrides):
    body = {"email": "Grace@Example.COM", "password": "a long enough pw", "name": "Grace Hopper"}
    body.update(overrides)
    return client.post("/api/auth/register", json=body)


def test_registration_creates_user_workspace_and_owner_membership(client):
    resp = _register(client)
    assert resp.status_code == 202
    body = resp.json
    assert body["email"] == "grace@example.com"  # stored lower-case
    assert body["status"] == "accepted"
    assert "password" not in str(body)
    assert "hash" not in str(body)
    with db.scope(SYSTEM) as s:
        user = s.scalar(select(User).where(User.email == "grace@example.com"))
        membership = s.scalar(select(Membership).where(Membership.user_id == user.id))
        tenant = s.get(Tenant, membership.tenant_id)
        assert membership.role == "owner"
        assert tenant.name == "Grace Hopper's workspace"
        assert tenant.slug.startswith("grace-hopper-")
        assert user.password_hash.startswith("$2b$04$")
        actions = s.scalars(select(AuditLog.action).where(AuditLog.target_id == str(user.id))).all()
        assert "auth.register" in actions
        assert s.scalar(select(Email).where(Email.user_id == user.id)).kind == "auth/verify_email"


def test_two_people_with_the_same_name_get_distinct_workspace_slugs(client):
    assert _register(client, email="a@example.com").status_code == 202
    assert _register(client, email="b@example.com").status_code == 202
    with db.scope(SYSTEM) as s:
        slugs = s.scalars(select(Tenant.slug).where(Tenant.name == "Grace Hopper's workspace"))
        assert len(set(slugs)) == 2


def test_an_email_registers_once_whatever_its_case(client):
    assert _register(client).status_code == 202
    _register(client, email="GRACE@example.com")
    with db.scope(SYSTEM) as s:
        assert (
            s.scalar(
                select(func.count()).select_from(User).where(User.email == "grace@example.com")
            )
            == 1
        )


def _statements(app, fn):
    """The SQL statements `fn` issues (their text, parameters aside)."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        fn()
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    return seen


def test_a_taken_address_is_answered_exactly_as_a_new_one_and_its_owner_is_told(client, factory):
    owner, _ = factory.workspace(email="taken@example.com", name="Real Owner")
    new = _register(client, email="fresh@example.com")
    taken = _register(client, email="Taken@Example.com", name="Squatter")
    assert taken.status_code == new.status_code == 202
    assert taken.json == {**new.json, "email": "taken@example.com"}
    assert set(taken.headers.keys()) == set(new.headers.keys())
    with db.scope(SYSTEM) as s:
        assert (
            s.scalar(
                select(func.count()).select_from(User).where(User.email == "taken@example.com")
            )
            == 1
        )
        assert s.get(User, owner.id).name == "Real Owner"  # nothing of theirs changed
        [notice] = s.scalars(select(Email).where(Email.to_address == "taken@example.com"))
    assert notice.kind == "auth/signup_attempt"
    assert "/login" in notice.text_body
    assert "/forgot" in notice.text_body


def test_sign_up_with_a_taken_address_does_the_same_expensive_work(
    app, client, factory, monkeypatch
):
    """Timing, without a stopwatch: both paths hash the password (the one slow step) and
    queue one email; the taken one just inserts fewer rows."""
    factory.workspace(email="taken@example.com")
    calls = []
    real = bcrypt.hashpw
    monkeypatch.setattr(bcrypt, "hashpw", lambda *a: calls.append(1) or real(*a))
    new = _statements(app, lambda: _register(client, email="fresh@example.com"))
    taken = _statements(app, lambda: _register(client, email="taken@example.com"))
    assert calls == [1, 1]
    assert (
        sum("INSERT INTO emails" in q for q in new)
        == sum("INSERT INTO emails" in q for q in taken)
        == 1
    )
    assert (
        sum("INSERT INTO outbox" in q for q in new)
        == sum("INSERT INTO outbox" in q for q in taken)
        == 1
    )


def test_invalid_fields_answer_422_with_every_field_and_create_nothing(client):
    resp = _register(client, email="not-an-email", password="short", name=" ")
    assert resp.status_code == 422
    details = resp.json["error"]["details"]
    assert set(details) == {"email", "password", "name"}
    with db.scope(SYSTEM) as s:
        assert s.scalar(select(User).where(User.name == " ")) is None


def test_register_page_asks_to_verify_then_sign_in(browser):
    resp = browser.post(
        "/register",
        {"name": "Linus", "email": "linus@example.com", "password": "penguins rule the world"},
    )
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/login"
    page = browser.get("/login").get_data(as_text=True)
    assert "we sent a message to linus@example.com" in page
    assert browser.login("linus@example.com", "penguins rule the world").status_code == 303
    page = browser.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="verify-banner"' in page
    assert "Linus&#39;s workspace" in page


def test_register_page_shows_each_fields_error(browser):
    browser.post(
        "/register", {"name": "X", "email": "taken@example.com", "password": "a long enough pw"}
    )
    resp = browser.post(
        "/register", {"name": "", "email": "taken@example.com", "password": "short"}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'data-testid="error-name"' in html
    assert 'data-testid="error-password"' in html
    new = browser.post(
        "/register", {"name": "Y", "email": "other@example.com", "password": "a long enough pw"}
    )
    taken = browser.post(
        "/register", {"name": "Y", "email": "Taken@example.com", "password": "a long enough pw"}
    )
    assert taken.status_code == new.status_code == 303  # no "already exists"
    assert taken.headers["Location"] == new.headers["Location"]


def test_the_first_utm_parameters_seen_are_kept_through_sign_up(browser):
    browser.get("/?utm_source=Google&utm_medium=CPC&utm_campaign=Spring-Sale%202026")
    browser.get("/pricing?utm_source=twitter&utm_medium=social")  # a later touch: ignored
    resp = browser.post(
        "/register", {"name": "Ada", "email": "ada@example.com", "password": "a long enough pw"}
    )
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        user = s.scalar(select(User).where(User.email == "ada@example.com"))
        tenant = s.get(
            Tenant, s.scalar(select(Membership.tenant_id).where(Membership.user_id == user.id))
        )
        for row in (user, tenant):
            assert (row.utm_source, row.utm_medium, row.utm_campaign) == (
                "google",
                "cpc",
                "Spring-Sale 2026",
            )


def test_a_sign_up_without_utm_parameters_has_no_source(browser):
    browser.get("/?utm_source=%20%20&utm_medium=")  # blank: nothing kept
    browser.post(
        "/register", {"name": "Bo", "email": "bo@example.com", "password": "a long enough pw"}
    )
    with db.scope(SYSTEM) as s:
        user = s.scalar(select(User).where(User.email == "bo@example.com"))
        assert (user.utm_source, user.utm_medium, user.utm_campaign) == (None, None, None)


def test_the_api_register_takes_utm_fields_cleaned(client):
    resp = _register(
        client, utm_source=" News<b>letter ", utm_medium="email", utm_campaign="x" * 200
    )
    assert resp.status_code == 202
    with db.scope(SYSTEM) as s:
        user = s.scalar(select(User).where(User.email == "grace@example.com"))
        tenant = s.get(
            Tenant, s.scalar(select(Membership.tenant_id).where(Membership.user_id == user.id))
        )
        assert (tenant.utm_source, tenant.utm_medium) == ("newsbletter", "email")
        assert tenant.utm_campaign == "x" * 100
    bad = _register(client, email="nul@example.com", utm_source="a\x00b")
    assert bad.status_code == 400


def test_api_and_probe_requests_with_utm_parameters_set_no_session_cookie(client):
    for path in ("/api/templates?utm_source=google", "/healthz?utm_source=google"):
        assert "Set-Cookie" not in client.get(path).headers, path
    assert "Set-Cookie" in client.get("/?utm_source=google").headers
