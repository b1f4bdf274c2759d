"""The JSON auth API: token pairs, rotation with reuse detection, pinned JWT algorithm, and
JSON errors with the right status codes."""

import base64
import json
import time
import uuid
import warnings

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, RefreshToken
from tests.support import DEFAULT_PASSWORD


def _login(client, user):
    resp = client.post("/api/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert resp.status_code == 200, resp.json
    return resp.json


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _profile(client, token):
    return client.get("/api/users/profile", headers=_bearer(token))


def _claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_login_returns_a_bearer_pair_with_a_short_lived_access_token(app, client, factory):
    user, _ = factory.workspace()
    body = _login(client, user)
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["JWT_ACCESS_TTL_SECONDS"]
    claims = _claims(body["access_token"])
    assert claims["sub"] == str(user.id)
    assert claims["sv"] == user.session_version
    assert claims["exp"] - claims["iat"] == app.config["JWT_ACCESS_TTL_SECONDS"]
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    profile = _profile(client, body["access_token"])
    assert profile.status_code == 200
    assert profile.json["email"] == user.email


def test_answers_carrying_tokens_are_never_cached(client, factory):
    user, _ = factory.workspace()
    login = client.post("/api/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    assert login.headers["Cache-Control"] == "no-store"
    refreshed = client.post(
        "/api/auth/refresh", json={"refresh_token": login.json["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert refreshed.headers["Cache-Control"] == "no-store"
    failed = client.post("/api/auth/login", json={"email": user.email, "password": "nope"})
    assert failed.headers["Cache-Control"] == "no-store"


def test_refresh_returns_a_new_pair_and_each_refresh_token_works_once(client, factory):
    user, _ = factory.workspace()
    first = _login(client, user)
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert _profile(client, second.json["access_token"]).status_code == 200
    assert _claims(second.json["refresh_token"])["fid"] == _claims(first["refresh_token"])["fid"]


def test_reusing_a_spent_refresh_token_revokes_its_whole_family(client, factory):
    user, _ = factory.workspace()
    stolen = _login(client, user)
    legit = client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]}).json
    replay = client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json["error"]["code"] == "invalid_token"
    # Both parties are out: the legitimate newer pair is revoked as well.
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": legit["refresh_token"]}).status_code
        == 401
    )
    assert _profile(client, legit["access_token"]).status_code == 401
    with db.scope(SYSTEM) as s:
        rows = s.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id)).all()
        assert rows
        assert all(r.revoked_at is not None for r in rows)
        assert s.scalar(select(AuditLog).where(AuditLog.action == "auth.refresh_reuse"))


def test_other_sign_ins_survive_a_reuse_in_one_family(client, factory):
    user, _ = factory.workspace()
    phone, laptop = _login(client, user), _login(client, user)
    client.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    client.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert _profile(client, laptop["access_token"]).status_code == 200


def test_logout_revokes_the_refresh_token_and_the_access_token(client, factory):
    user, _ = factory.workspace()
    pair = _login(client, user)
    resp = client.post("/api/auth/logout", headers=_bearer(pair["access_token"]))
    assert resp.status_code == 204
    assert _profile(client, pair["access_token"]).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )


@pytest.mark.parametrize("alg", ["none", "HS512", "HS384"])
def test_access_tokens_signed_with_another_algorithm_are_refused(app, client, factory, alg):
    user, _ = factory.workspace()
    claims = _claims(_login(client, user)["access_token"])
    key = None if alg == "none" else app.config["JWT_SECRET"]
    with warnings.catch_warnings():  # PyJWT warns that the key is short for SHA-384/512
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        forged = jwt.encode(claims, key, algorithm=alg)
    resp = _profile(client, forged)
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unsigned_token_with_a_handwritten_none_header_is_refused(client, factory):
    user, _ = factory.workspace()
    claims = _claims(_login(client, user)["access_token"])

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert _profile(client, forged).status_code == 401


def test_tokens_with_a_wrong_key_expired_or_of_the_wrong_type_are_refused(app, client, factory):
    user, _ = factory.workspace()
    pair = _login(client, user)
    claims = _claims(pair["access_token"])
    wrong_key = jwt.encode(claims, "some-other-secret-of-sufficient-length", algorithm="HS256")
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 60},
        app.config["JWT_SECRET"],
        algorithm="HS256",
    )
    for token in (wrong_key, expired, pair["refresh_token"], "not-a-jwt", ""):
        assert _profile(client, token).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["access_token"]}).status_code
        == 401
    )


def test_a_session_version_bump_ends_access_tokens(client, browser, factory):
    user, _ = factory.workspace()
    pair = _login(client, user)
    browser.login(user.email, DEFAULT_PASSWORD)
    browser.post("/logout", page="/dashboard")  # logout ends every session, API ones too
    assert _profile(client, pair["access_token"]).status_code == 401


def test_missing_or_malformed_authorization_answers_401_json(client):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer"}):
        resp = client.get("/api/users/profile", headers=headers)
        assert resp.status_code == 401
        assert resp.json["error"]["code"] in {"missing_token", "invalid_token"}
        assert "WWW-Authenticate" in resp.headers


def test_login_errors_are_json_with_the_right_status(client):
    cases = [
        (
            dict(data="email=a", content_type="application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (dict(data="{not json", content_type="application/json"), 400, "malformed_json"),
        (dict(json=["a", "list"]), 422, "validation_failed"),
        (dict(json={"email": "a@example.com"}), 422, "validation_failed"),
        (
            dict(json={"email": "a@example.com", "password": "x", "admin": True}),
            422,
            "validation_failed",
        ),
        (dict(json={"email": "a@example.com", "password": 12}), 422, "validation_failed"),
        (
            dict(json={"email": "a@example.com", "password": "wrong password"}),
            401,
            "invalid_credentials",
        ),
    ]
    for kwargs, status, code in cases:
        resp = client.post("/api/auth/login", **kwargs)
        assert resp.status_code == status, (kwargs, resp.json)
        assert resp.is_json
        assert resp.json["error"]["code"] == code


def test_validation_details_name_each_field_without_echoing_values(client):
    resp = client.post("/api/auth/login", json={"password": "s3cret-value-123", "extra": 1})
    details = resp.json["error"]["details"]
    assert details == {"email": "This field is required.", "extra": "Unknown field."}
    resp = client.post("/api/auth/login", json={"email": "a@example.com", "password": ["x"]})
    assert set(resp.json["error"]["details"]) == {"password"}
    assert "s3cret" not in json.dumps(resp.json)


def test_wrong_method_answers_405_json(client):
    resp = client.get("/api/auth/login")
    assert resp.status_code == 405
    assert resp.json["error"]["code"] == "method_not_allowed"


def test_workspace_is_chosen_by_header_among_the_users_own(client, factory):
    user, mine = factory.workspace()
    team = factory.tenant()
    factory.member(team, user, role="member")
    stranger_ws = factory.tenant()
    token = _login(client, user)["access_token"]
    ok = client.get(
        "/api/users/profile", headers={**_bearer(token), "X-Workspace-ID": str(team.id)}
    )
    assert ok.status_code == 200
    other = client.get(
        "/api/users/profile", headers={**_bearer(token), "X-Workspace-ID": str(stranger_ws.id)}
    )
    assert other.status_code == 404
    bad = client.get("/api/users/profile", headers={**_bearer(token), "X-Workspace-ID": "nope"})
    assert bad.status_code == 400
    unknown = client.get(
        "/api/users/profile", headers={**_bearer(token), "X-Workspace-ID": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404
