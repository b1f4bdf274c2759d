"""Password policy (12 characters, 72 bytes of UTF-8) and bcrypt cost."""

import pytest
from sqlalchemy import select

from railsaas.accounts import passwords
from railsaas.db import SYSTEM
from railsaas.errors import ValidationFailed
from railsaas.extensions import db
from railsaas.models import User


def test_eleven_characters_are_too_few_and_twelve_enough(app_ctx):
    assert "at least 12 characters" in passwords.policy_error("a" * 11)
    assert passwords.policy_error("a" * 12) is None


def test_seventy_two_bytes_of_multibyte_utf8_pass_and_seventy_three_are_refused(app_ctx):
    assert passwords.policy_error("é" * 36) is None  # 36 characters, 72 bytes
    assert passwords.policy_error("😀" * 18) is None  # 18 characters, 72 bytes
    # 37 characters is short by count but 74 bytes: bcrypt would cut it, so it is refused.
    message = passwords.policy_error("é" * 37)
    assert "72 bytes" in message
    assert "74 bytes" in message
    assert "73 bytes" in passwords.policy_error("😀" * 18 + "a")


def test_unencodable_password_gets_a_message_not_a_crash(app_ctx):
    assert "cannot be stored" in passwords.policy_error("abcdefghijkl\ud800")
    assert (
        passwords.verify_password("abcdefghijkl\ud800", passwords.hash_password("a" * 12)) is False
    )


def test_hashing_refuses_a_password_bcrypt_would_truncate(app_ctx):
    with pytest.raises(ValidationFailed) as exc:
        passwords.hash_password("é" * 37)
    assert "72 bytes" in exc.value.details["password"]


def test_long_password_never_matches_a_hash_of_its_first_72_bytes(app_ctx):
    stored = passwords.hash_password("é" * 36)
    assert passwords.verify_password("é" * 36, stored)
    assert not passwords.verify_password("é" * 36 + "x", stored)  # no silent truncation


def test_stored_hash_uses_the_configured_bcrypt_cost(app):
    with app.app_context():
        app.config["BCRYPT_ROUNDS"] = 5
        try:
            stored = passwords.hash_password("a" * 12)
        finally:
            app.config["BCRYPT_ROUNDS"] = 4
    assert stored.startswith("$2b$05$")
    assert passwords.hash_cost(stored) == 5


def test_cost_below_twelve_is_refused_outside_tests(app):
    with app.app_context():
        app.config["TESTING"] = False
        try:
            with pytest.raises(passwords.InsecureConfiguration, match="BCRYPT_ROUNDS=4"):
                passwords.hash_password("a" * 12)
            app.config["BCRYPT_ROUNDS"] = 12
            assert passwords.hash_password("a" * 12).startswith("$2b$12$")
        finally:
            app.config["TESTING"] = True
            app.config["BCRYPT_ROUNDS"] = 4


def test_api_register_with_73_bytes_says_why_and_creates_nothing(client):
    resp = client.post(
        "/api/auth/register",
        json={"email": "long@example.com", "password": "😀" * 18 + "a", "name": "Long"},
    )
    assert resp.status_code == 422
    assert "73 bytes" in resp.json["error"]["details"]["password"]
    with db.scope(SYSTEM) as s:
        assert s.scalar(select(User).where(User.email == "long@example.com")) is None


def test_password_of_exactly_72_multibyte_bytes_registers_and_signs_in(client):
    password = "ü" * 36
    resp = client.post(
        "/api/auth/register",
        json={"email": "exact@example.com", "password": password, "name": "Exact"},
    )
    assert resp.status_code == 202
    assert (
        client.post(
            "/api/auth/login", json={"email": "exact@example.com", "password": password}
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/api/auth/login", json={"email": "exact@example.com", "password": "ü" * 35}
        ).status_code
        == 401
    )


def test_register_form_shows_the_byte_limit_under_the_password_field(browser):
    resp = browser.post("/register", {"name": "F", "email": "f@example.com", "password": "é" * 37})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-testid="error-password"' in html
    assert "74 bytes" in html


def test_login_rehashes_a_password_stored_at_a_lower_cost(app, client, factory):
    user = factory.user()  # the factory hashes at cost 4
    app.config["BCRYPT_ROUNDS"] = 5
    try:
        resp = client.post(
            "/api/auth/login",
            json={"email": user.email, "password": "correct horse battery staple"},
        )
    finally:
        app.config["BCRYPT_ROUNDS"] = 4
    assert resp.status_code == 200
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).password_hash.startswith("$2b$05$")
