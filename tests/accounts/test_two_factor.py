"""Two-factor sign-in: enrolment, the second step, single-use codes and recovery codes,
remembered browsers, throttling, and who must have it (platform admins, workspaces that
require it), on the pages and the login API."""

from __future__ import annotations

import re
import time

import pyotp
from sqlalchemy import func, select

from railsaas.accounts import two_factor
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, RecoveryCode, Tenant, TwoFactor, User
from tests.support import DEFAULT_PASSWORD, CsrfClient, hash_password
from tests.support.api import bearer, make_token

KEY = re.compile(r'data-testid="two-factor-key">([A-Z2-7]+)<')
CODE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code of the current time step, or of the next (the app accepts one step of drift
    either way): a second sign-in soon after the first needs a later step."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30 * steps_ahead)


def enrol(browser) -> tuple[str, list[str]]:
    """Enrol the signed-in user through the pages: (secret, recovery codes)."""
    page = browser.post("/account/two-factor/setup", page="/account/two-factor")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    secret = KEY.search(page.get_data(as_text=True)).group(1)
    done = browser.post(
        "/account/two-factor/confirm", {"totp-code": code(secret)}, page="/account/two-factor"
    )
    assert done.status_code == 200
    codes = CODE.findall(done.get_data(as_text=True))
    assert len(codes) == two_factor.RECOVERY_CODES
    return secret, codes


def signed_in(browser) -> bool:
    return browser.client.get("/dashboard").status_code == 200


def audit_actions(user_id) -> list[str]:
    with db.scope(SYSTEM) as s:
        return list(
            s.scalars(
                select(AuditLog.action)
                .where(AuditLog.target_id == str(user_id))
                .order_by(AuditLog.created_at, AuditLog.id)
            )
        )


def second_step(browser, value: str, remember: bool = False):
    data = {"code": value}
    if remember:
        data["remember"] = "y"
    return browser.post("/login/two-factor", data, page="/login/two-factor")


# --- enrolment --------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_once_and_needs_a_valid_code(app, factory, new_browser):
    user, _ = factory.workspace()
    browser = new_browser()
    browser.login(user.email, DEFAULT_PASSWORD)
    page = browser.post("/account/two-factor/setup", page="/account/two-factor")
    html = page.get_data(as_text=True)
    assert "<svg" in html
    assert 'data-testid="two-factor-qr"' in html
    secret = KEY.search(html).group(1)

    wrong = browser.post(
        "/account/two-factor/confirm", {"totp-code": "000000"}, page="/account/two-factor"
    )
    assert "That code is not right" in wrong.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        row = s.get(TwoFactor, user.id)
        assert row.enabled_at is None
        assert secret not in row.secret_encrypted  # stored encrypted, never as is

    ok = browser.post(
        "/account/two-factor/confirm", {"totp-code": code(secret)}, page="/account/two-factor"
    )
    assert len(CODE.findall(ok.get_data(as_text=True))) == 10
    with db.scope(SYSTEM) as s:
        assert s.get(TwoFactor, user.id).enabled_at is not None
        hashes = s.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))
        assert all(len(h) == 64 for h in hashes)
    assert "auth.two_factor_enabled" in audit_actions(user.id)
    # Never shown again: the page says it is on, without the key or a QR code.
    after = browser.get("/account/two-factor").get_data(as_text=True)
    assert secret not in after
    assert "<svg" not in after
    assert 'data-testid="two-factor-on"' in after
    assert browser.post("/account/two-factor/setup").status_code == 303  # already on


# --- signing in -------------------------------------------------------------------------------


def test_sign_in_asks_for_a_code_and_nothing_is_reachable_before(app, factory, new_browser):
    user, _ = factory.workspace()
    secret, _ = enrol(_signed_in_browser(new_browser, user))

    browser = new_browser()
    first = browser.login(user.email, DEFAULT_PASSWORD)
    assert first.status_code == 303
    assert first.headers["Location"].endswith("/login/two-factor")
    assert not signed_in(browser)  # half signed in reaches no page
    with browser.client.session_transaction() as sess:
        assert "_user_id" not in sess

    wrong = second_step(browser, "123456")
    assert "That code is not right" in wrong.get_data(as_text=True)
    assert not signed_in(browser)

    ok = second_step(browser, code(secret, 1))
    assert ok.status_code == 303
    assert ok.headers["Location"].endswith("/dashboard")
    assert signed_in(browser)
    actions = audit_actions(user.id)
    assert "auth.login_second_factor_required" in actions
    assert actions[-1] == "auth.login"


def test_a_code_works_once(app, factory, new_browser):
    user, _ = factory.workspace()
    secret, _ = enrol(_signed_in_browser(new_browser, user))
    value = code(secret, 1)
    first = new_browser()
    first.login(user.email, DEFAULT_PASSWORD)
    assert second_step(first, value).status_code == 303

    second = new_browser()
    second.login(user.email, DEFAULT_PASSWORD)
    again = second_step(second, value)
    assert "already used" in again.get_data(as_text=True)
    assert not signed_in(second)
    # The enrolment's own code is spent too.
    third = new_browser()
    third.login(user.email, DEFAULT_PASSWORD)
    assert "already used" in second_step(third, code(secret)).get_data(as_text=True)


def test_the_pending_sign_in_expires(app, factory, new_browser):
    user, _ = factory.workspace()
    secret, _ = enrol(_signed_in_browser(new_browser, user))
    browser = new_browser()
    browser.login(user.email, DEFAULT_PASSWORD)
    with browser.client.session_transaction() as sess:
        sess["two_factor_pending"] = sess["two_factor_pending"] | {"exp": int(time.time()) - 1}
    resp = browser.client.get("/login/two-factor")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/login")
    assert not signed_in(browser)


def test_a_recovery_code_signs_in_once(app, factory, new_browser):
    user, _ = factory.workspace()
    _, codes = enrol(_signed_in_browser(new_browser, user))
    browser = new_browser()
    browser.login(user.email, DEFAULT_PASSWORD)
    assert second_step(browser, codes[0].upper()).status_code == 303
    assert signed_in(browser)
    assert "auth.recovery_code_used" in audit_actions(user.id)
    assert any(m.args.get("kind") == "auth/recovery_code_used" for m in _mails())

    again = new_browser()
    again.login(user.email, DEFAULT_PASSWORD)
    assert "not right" in second_step(again, codes[0]).get_data(as_text=True)
    assert second_step(again, codes[1]).status_code == 303


def test_regenerating_recovery_codes_replaces_the_old_set(app, factory, new_browser):
    user, _ = factory.workspace()
    browser = _signed_in_browser(new_browser, user)
    secret, old = enrol(browser)
    page = browser.post(
        "/account/two-factor/recovery-codes",
        {"totp-code": code(secret, 1)},
        page="/account/two-factor",
    )
    new = CODE.findall(page.get_data(as_text=True))
    assert len(new) == 10
    assert not set(new) & set(old)
    assert "auth.recovery_codes_regenerated" in audit_actions(user.id)
    other = new_browser()
    other.login(user.email, DEFAULT_PASSWORD)
    assert "not right" in second_step(other, old[0]).get_data(as_text=True)
    assert second_step(other, new[0]).status_code == 303


def test_disabling_needs_the_password_and_a_code(app, factory, new_browser):
    user, _ = factory.workspace()
    browser = _signed_in_browser(new_browser, user)
    secret, _ = enrol(browser)
    wrong_password = browser.post(
        "/account/two-factor/disable",
        {"disable-password": "not my password", "disable-code": code(secret, 1)},
        page="/account/two-factor",
    )
    assert "not your current password" in wrong_password.get_data(as_text=True)
    wrong_code = browser.post(
        "/account/two-factor/disable",
        {"disable-password": DEFAULT_PASSWORD, "disable-code": "000000"},
        page="/account/two-factor",
    )
    assert "not right" in wrong_code.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        assert s.get(TwoFactor, user.id) is not None
    ok = browser.post(
        "/account/two-factor/disable",
        {"disable-password": DEFAULT_PASSWORD, "disable-code": code(secret, 1)},
        page="/account/two-factor",
    )
    assert ok.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.get(TwoFactor, user.id) is None
        left = s.scalar(select(func.count()).where(RecoveryCode.user_id == user.id))
        assert left == 0
    assert "auth.two_factor_disabled" in audit_actions(user.id)
    plain = new_browser()
    assert plain.login(user.email, DEFAULT_PASSWORD).headers["Location"].endswith("/dashboard")


# --- remembered browsers ----------------------------------------------------------------------


def test_a_remembered_browser_skips_the_code_until_the_password_changes(app, factory, new_browser):
    user, _ = factory.workspace()
    secret, _ = enrol(_signed_in_browser(new_browser, user))
    browser = new_browser()
    browser.login(user.email, DEFAULT_PASSWORD)
    second_step(browser, code(secret, 1), remember=True)
    cookie = browser.client.get_cookie(two_factor.REMEMBER_COOKIE, path="/login")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.secure
    assert cookie.same_site == "Lax"
    assert 29 * 86400 < cookie.max_age <= 30 * 86400

    browser.post("/logout", page="/dashboard")
    again = browser.login(user.email, DEFAULT_PASSWORD)
    assert again.headers["Location"].endswith("/dashboard")  # no second step

    # Another account in the same browser is not remembered by this cookie.
    other, _ = factory.workspace()
    enrol(_signed_in_browser(new_browser, other))
    browser.post("/logout", page="/dashboard")
    assert (
        browser.login(other.email, DEFAULT_PASSWORD)
        .headers["Location"]
        .endswith("/login/two-factor")
    )

    # A password change ends every remembered browser.
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).password_hash = hash_password("a brand new passphrase")
    browser.client.get("/login")
    nope = browser.login(user.email, "a brand new passphrase")
    assert nope.headers["Location"].endswith("/login/two-factor")


def test_platform_admins_are_never_remembered(app, factory, new_browser):
    admin, _ = factory.workspace()
    secret, _ = enrol(_signed_in_browser(new_browser, admin))
    _promote(admin)
    browser = new_browser()
    browser.login(admin.email, DEFAULT_PASSWORD)
    second_step(browser, code(secret, 1), remember=True)
    assert signed_in(browser)
    assert browser.client.get_cookie(two_factor.REMEMBER_COOKIE, path="/login") is None


# --- throttling -------------------------------------------------------------------------------


def test_wrong_codes_are_throttled_per_user(app, factory, new_browser):
    user, _ = factory.workspace()
    secret, _ = enrol(_signed_in_browser(new_browser, user))
    browser = new_browser()
    browser.login(user.email, DEFAULT_PASSWORD)
    for _ in range(app.config["TWO_FACTOR_MAX_ATTEMPTS"]):
        assert "not right" in second_step(browser, "000000").get_data(as_text=True)
    locked = second_step(browser, code(secret, 1))  # even the right code, now
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many wrong codes" in locked.get_data(as_text=True)
    assert not signed_in(browser)
    # The API counts against the same limit.
    api = app.test_client().post(
        "/api/auth/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD, "totp": code(secret, 1)},
    )
    assert api.status_code == 429


# --- who must have it -------------------------------------------------------------------------


def test_an_admin_without_two_factor_reaches_only_enrolment(app, factory, new_browser):
    admin, tenant = factory.workspace()
    _promote(admin)
    browser = new_browser()
    browser.login(admin.email, DEFAULT_PASSWORD)  # the form: not enrolled by test support
    for path in ("/admin/", "/admin/users", "/dashboard"):
        resp = browser.client.get(path)
        assert resp.status_code == 303, path
        assert resp.headers["Location"].endswith("/account/two-factor")
    assert browser.client.get("/account/two-factor").status_code == 200

    # A personal token of an unenrolled admin cannot use the admin API either.
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "user"  # make_token enrols admins: make it before
    secret, _ = make_token(admin, tenant, ("admin",), name="ops")
    _promote(admin)
    refused = app.test_client().get(f"/api/users/{admin.id}", headers=bearer(secret))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "two_factor_required"

    secret_key, _ = enrol(browser)
    assert browser.client.get("/admin/").status_code == 200
    # Once enrolled, no sign-in without a code.
    other = new_browser()
    assert (
        other.login(admin.email, DEFAULT_PASSWORD).headers["Location"].endswith("/login/two-factor")
    )
    assert other.client.get("/admin/").status_code in (302, 303)
    assert second_step(other, code(secret_key, 1)).status_code == 303
    assert other.client.get("/admin/").status_code == 200


def test_a_workspace_can_require_two_factor_of_its_members(app, factory, new_browser):
    owner, tenant = factory.workspace()
    member = factory.user()
    factory.member(tenant, member, "member")
    own_ws = factory.tenant()
    factory.member(own_ws, member, "owner")

    owner_browser = _signed_in_browser(new_browser, owner, tenant)
    refused = owner_browser.post(
        "/workspace/two-factor", {"required": "1"}, page="/workspace/settings"
    )
    assert "your own account first" in refused.get_data(as_text=True)
    enrol(owner_browser)
    done = owner_browser.post(
        "/workspace/two-factor", {"required": "1"}, page="/workspace/settings"
    )
    assert done.status_code == 303
    with db.scope(SYSTEM) as s:
        details = s.scalar(
            select(AuditLog.details).where(AuditLog.action == "teams.require_two_factor")
        )
    assert details["required"] is True

    member_browser = _signed_in_browser(new_browser, member, tenant)
    sent = member_browser.client.get("/dashboard")
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/account/two-factor")
    # Their own workspace does not require it: switching there works.
    member_browser.post(
        "/workspaces/switch", {"workspace_id": str(own_ws.id)}, page="/account/two-factor"
    )
    assert member_browser.client.get("/dashboard").status_code == 200

    # Only an owner may change the rule.
    admin_member = factory.user()
    factory.member(tenant, admin_member, "admin")
    manager = _signed_in_browser(new_browser, admin_member, tenant)
    enrol(manager)
    refused = manager.post("/workspace/two-factor", {"required": "0"}, page="/workspace/settings")
    assert refused.status_code == 403
    with db.scope(SYSTEM) as s:
        assert s.get(Tenant, tenant.id).require_two_factor is True


# --- the login API ----------------------------------------------------------------------------


def test_the_login_api_asks_for_the_second_factor(app, factory, new_browser):
    user, _ = factory.workspace()
    secret, codes = enrol(_signed_in_browser(new_browser, user))
    api = app.test_client()
    creds = {"email": user.email, "password": DEFAULT_PASSWORD}

    asked = api.post("/api/auth/login", json=creds)
    assert asked.status_code == 401
    assert asked.json["error"]["code"] == "second_factor_required"
    assert "access_token" not in asked.json

    wrong = api.post("/api/auth/login", json=creds | {"totp": "999999"})
    assert wrong.status_code == 401
    assert wrong.json["error"]["code"] == "invalid_second_factor"

    value = code(secret, 1)
    ok = api.post("/api/auth/login", json=creds | {"totp": value})
    assert ok.status_code == 200
    assert ok.json["access_token"]
    reused = api.post("/api/auth/login", json=creds | {"totp": value})
    assert reused.status_code == 401
    assert reused.json["error"]["code"] == "invalid_second_factor"
    assert api.post("/api/auth/login", json=creds | {"totp": codes[3]}).status_code == 200
    # A wrong password never reaches the second factor.
    bad = api.post("/api/auth/login", json=creds | {"password": "nope", "totp": code(secret, 1)})
    assert bad.json["error"]["code"] == "invalid_credentials"


def test_api_tokens_need_no_code(app, factory, new_browser):
    user, tenant = factory.workspace()
    enrol(_signed_in_browser(new_browser, user))
    secret, _ = make_token(user, tenant, ("read",))
    assert app.test_client().get("/api/users/profile", headers=bearer(secret)).status_code == 200


def test_the_secret_is_never_logged_or_queued(app, factory, new_browser, caplog):
    user, _ = factory.workspace()
    secret, codes = enrol(_signed_in_browser(new_browser, user))
    text = caplog.text + repr([m.args for m in _mails()])
    assert secret not in text
    assert not any(c in text for c in codes)


# --- helpers ----------------------------------------------------------------------------------


def _signed_in_browser(new_browser, user, workspace=None) -> CsrfClient:
    browser = new_browser()
    resp = browser.login(user.email, DEFAULT_PASSWORD)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    if workspace is not None:
        with browser.client.session_transaction() as s:
            s["tenant_id"] = str(workspace.id)
    return browser


def _promote(user) -> None:
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"


def _mails():
    """The emails queued so far (their rows: the outbox carries only ids)."""
    with db.scope(SYSTEM) as s:
        return [
            type("Mail", (), {"args": {"kind": e.kind, "body": e.text_body}})
            for e in s.scalars(select(Email))
        ]
