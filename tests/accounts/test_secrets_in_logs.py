"""No password, token or reset link reaches a log line."""

import logging

from devtools.embedded import free_port
from railsaas.accounts.auth import RESET_TASK
from tests.support.accounts import emailed_link, run_queued

PASSWORD = "hunter2-but-much-longer"
NEW_PASSWORD = "an-even-longer-new-secret"


def test_auth_flows_log_no_password_or_token(caplog, app, client, browser):
    caplog.set_level(logging.DEBUG)
    client.post(
        "/api/auth/register",
        json={"email": "logs@example.com", "password": PASSWORD, "name": "Logs"},
    )
    client.post(
        "/api/auth/register",
        json={"email": "logs@example.com", "password": PASSWORD, "name": "Logs"},
    )  # taken: answered as new
    client.post(
        "/api/auth/login", json={"email": "logs@example.com", "password": "wrong-" + PASSWORD}
    )
    pair = client.post(
        "/api/auth/login", json={"email": "logs@example.com", "password": PASSWORD}
    ).json
    refresh = {"refresh_token": pair["refresh_token"]}
    refreshed = client.post("/api/auth/refresh", json=refresh).json
    client.post("/api/auth/refresh", json=refresh)  # reuse
    client.get(
        "/api/users/profile", headers={"Authorization": "Bearer " + refreshed["access_token"]}
    )
    browser.post("/forgot", {"email": "logs@example.com"})
    run_queued(app, RESET_TASK)
    reset_path = emailed_link("logs@example.com", "auth/reset_password")
    browser.post(reset_path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    browser.login("logs@example.com", NEW_PASSWORD)

    secrets = [
        PASSWORD,
        NEW_PASSWORD,
        pair["access_token"],
        pair["refresh_token"],
        refreshed["access_token"],
        reset_path.rsplit("/", 1)[-1],
    ]
    # With Redis down the throttles log warnings (and let sign-in through).
    redis_url = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    try:
        assert (
            client.post(
                "/api/auth/login", json={"email": "logs@example.com", "password": NEW_PASSWORD}
            ).status_code
            == 200
        )
    finally:
        app.config["REDIS_URL"] = redis_url
    assert any("redis unavailable" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        line = record.getMessage() + " " + repr(record.__dict__)
        for secret in secrets:
            assert secret not in line, f"{record.name}: secret in log line"
