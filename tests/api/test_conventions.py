"""One JSON style for the whole API: the error envelope, the status codes, ISO 8601 times."""

from __future__ import annotations

import uuid

from tests.support.api import bearer, make_token, session_token


def _error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    err = resp.json["error"]
    assert set(err) == {"code", "message", "details"}
    if code:
        assert err["code"] == code
    return err


def test_a_body_that_is_not_declared_json_answers_415(client):
    _error(client.post("/api/auth/login", data="email=a"), 415, "unsupported_media_type")


def test_a_body_that_does_not_parse_answers_400(client):
    _error(
        client.post("/api/auth/login", data="{nope", content_type="application/json"),
        400,
        "malformed_json",
    )


def test_invalid_fields_answer_422_with_one_message_per_field(client):
    err = _error(
        client.post("/api/auth/register", json={"email": 3, "extra": 1}), 422, "validation_failed"
    )
    assert set(err["details"]) == {"email", "password", "name", "extra"}


def test_a_body_over_the_limit_answers_413(client, app):
    big = b'{"name": "' + b"x" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
    _error(client.post("/api/auth/register", data=big, content_type="application/json"), 413)


def test_a_wrong_method_answers_405_with_allow(client):
    resp = client.patch("/api/tokens")
    _error(resp, 405)
    assert set(resp.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_unknown_routes_and_malformed_ids_answer_404_json(client, factory):
    _error(client.get("/api/nothing-here"), 404)
    user, _ = factory.workspace()
    _error(client.get("/api/tokens/not-a-uuid", headers=bearer(session_token(client, user))), 404)


def test_no_credential_answers_401_with_a_bearer_challenge(client):
    resp = client.get("/api/tokens")
    _error(resp, 401, "missing_token")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_malformed_workspace_header_answers_400(client, factory):
    user, _ = factory.workspace()
    resp = client.get(
        "/api/tokens", headers=bearer(session_token(client, user), **{"X-Workspace-ID": "x"})
    )
    _error(resp, 400, "invalid_workspace_id")


def test_someone_elses_workspace_answers_404(client, factory):
    user, _ = factory.workspace()
    _, other = factory.workspace()
    resp = client.get(
        "/api/tokens",
        headers=bearer(session_token(client, user), **{"X-Workspace-ID": str(other.id)}),
    )
    _error(resp, 404)


def test_created_answers_201_and_no_content_answers_204_with_an_empty_body(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant, ("admin",))
    made = client.post(
        "/api/tokens", headers=bearer(secret), json={"name": "n", "scopes": ["read"]}
    )
    assert made.status_code == 201
    gone = client.delete(f"/api/tokens/{made.json['id']}", headers=bearer(secret))
    assert gone.status_code == 204
    assert gone.get_data() == b""


def test_times_are_iso_8601_in_utc(client, factory):
    user, tenant = factory.workspace()
    _, row = make_token(user, tenant)
    body = client.get(f"/api/tokens/{row.id}", headers=bearer(session_token(client, user))).json
    assert body["created_at"].endswith("Z")
    assert body["expires_at"].endswith("Z")
    assert body["created_at"][10] == "T"


def test_internal_errors_are_json_without_details(app, client):
    """The catch-all answers the envelope, never a traceback (exercised on a route that
    exists only in this test app's URL map)."""
    from flask import Flask

    from railsaas.errors import init_error_handlers

    probe = Flask("probe")
    init_error_handlers(probe)

    @probe.get("/api/boom")
    def boom():
        raise RuntimeError("secret detail " + str(uuid.uuid4()))

    probe.config["PROPAGATE_EXCEPTIONS"] = False
    resp = probe.test_client().get("/api/boom")
    err = _error(resp, 500, "internal_error")
    assert "secret detail" not in resp.get_data(as_text=True)
    assert err["details"] is None


def test_an_empty_workspace_header_is_malformed_not_absent(client, factory):
    user, _ = factory.workspace()
    resp = client.get(
        "/api/tokens", headers=bearer(session_token(client, user), **{"X-Workspace-ID": ""})
    )
    _error(resp, 400, "invalid_workspace_id")
