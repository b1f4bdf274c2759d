"""scripts/deploy/notify.py against a real local HTTP server standing in for Slack's and
Discord's incoming webhooks."""

from __future__ import annotations

import os
import socket

import pytest

from tests.deploy.helpers import Reply, run_script

GITHUB = {
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_ACTOR": "octo-dev",
    "GITHUB_REPOSITORY": "acme/railsaas",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_RUN_ID": "987654321",
}
SLACK_PATH = "/services/T0001/B0002/slack-secret-part-XYZ"
DISCORD_PATH = "/api/webhooks/123456/discord-secret-part-ABC"
APP = "https://railsaas.example.com"


def notify(*args: str, **env: str):
    return run_script("notify.py", *args, env={"PATH": os.environ.get("PATH", ""), **env})


def test_without_webhooks_it_says_so_and_succeeds(local_server):
    done = notify("--status", "success", "--url", APP, **GITHUB)
    assert done.returncode == 0, done.stderr
    assert "neither SLACK_WEBHOOK_URL nor DISCORD_WEBHOOK_URL is set" in done.stdout
    assert local_server.requests == []


def test_blank_webhook_secrets_count_as_unset(local_server):
    """An unset GitHub secret reaches the step as an empty string."""
    done = notify("--status", "success", SLACK_WEBHOOK_URL="", DISCORD_WEBHOOK_URL="  ")
    assert done.returncode == 0
    assert "no chat notification" in done.stdout
    assert local_server.requests == []


def test_slack_gets_a_text_message_with_the_links(local_server):
    local_server.handler = lambda request: Reply(200, "ok", "text/plain")
    done = notify(
        "--status",
        "success",
        "--url",
        APP,
        SLACK_WEBHOOK_URL=local_server.url + SLACK_PATH,
        **GITHUB,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Slack notified (HTTP 200)" in done.stdout
    [request] = local_server.requests
    assert (request.method, request.path) == ("POST", SLACK_PATH)
    assert request.headers["Content-Type"] == "application/json"
    text = request.json()["text"]
    assert text.startswith(":white_check_mark: RailSaaS deploy to *production* succeeded")
    assert (
        "commit <https://github.com/acme/railsaas/commit/" + GITHUB["GITHUB_SHA"] + "|0123456789ab>"
        in text
    )
    assert "by octo-dev" in text
    assert f"<{APP}|{APP}>" in text
    assert "<https://github.com/acme/railsaas/actions/runs/987654321|workflow run>" in text


def test_discord_gets_content_that_pings_nobody(local_server):
    local_server.handler = lambda request: Reply(204, b"")
    done = notify(
        "--status",
        "failure",
        "--url",
        APP,
        DISCORD_WEBHOOK_URL=local_server.url + DISCORD_PATH,
        **GITHUB,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Discord notified (HTTP 204)" in done.stdout
    [request] = local_server.requests
    assert (request.method, request.path) == ("POST", DISCORD_PATH)
    payload = request.json()
    assert payload["username"] == "RailSaaS deploy"
    assert payload["allowed_mentions"] == {"parse": []}
    content = payload["content"]
    assert content.splitlines()[0] == (
        "❌ RailSaaS deploy to **production** FAILED (commit `0123456789ab` by octo-dev)"
    )
    assert APP in content
    assert "Workflow run: <https://github.com/acme/railsaas/actions/runs/987654321>" in content
    assert len(content) <= 2000


def test_both_webhooks_are_notified(local_server):
    local_server.handler = lambda request: Reply(200, "ok", "text/plain")
    done = notify(
        "--status",
        "cancelled",
        "--environment",
        "staging",
        SLACK_WEBHOOK_URL=local_server.url + SLACK_PATH,
        DISCORD_WEBHOOK_URL=local_server.url + DISCORD_PATH,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(r.path for r in local_server.requests) == sorted([SLACK_PATH, DISCORD_PATH])
    slack = next(r for r in local_server.requests if r.path == SLACK_PATH).json()
    assert slack["text"] == ":warning: RailSaaS deploy to *staging* was cancelled"


def test_slack_control_characters_in_names_are_escaped(local_server):
    local_server.handler = lambda request: Reply(200, "ok", "text/plain")
    done = notify(
        "--status",
        "success",
        "--environment",
        "prod<!channel>&co",
        SLACK_WEBHOOK_URL=local_server.url + SLACK_PATH,
    )
    assert done.returncode == 0
    text = local_server.requests[0].json()["text"]
    assert "*prod&lt;!channel&gt;&amp;co*" in text
    assert "<!channel>" not in text


@pytest.mark.parametrize("status", [500, 404, 403])
def test_a_rejected_delivery_fails_without_printing_the_webhook(local_server, status):
    local_server.handler = lambda request: Reply(status, "no_service", "text/plain")
    done = notify("--status", "success", SLACK_WEBHOOK_URL=local_server.url + SLACK_PATH)
    assert done.returncode == 1
    assert f"Slack webhook answered HTTP {status}" in done.stdout
    for secret in ("slack-secret-part-XYZ", SLACK_PATH, local_server.url):
        assert secret not in done.stdout + done.stderr


def test_an_unreachable_webhook_fails_without_printing_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    webhook = f"http://127.0.0.1:{port}{DISCORD_PATH}"
    done = notify("--status", "success", DISCORD_WEBHOOK_URL=webhook)
    assert done.returncode == 1
    assert "Discord webhook failed" in done.stdout
    assert "discord-secret-part-ABC" not in done.stdout + done.stderr


def test_one_failed_webhook_does_not_stop_the_other(local_server):
    local_server.handler = lambda request: Reply(500 if request.path == SLACK_PATH else 204, b"")
    done = notify(
        "--status",
        "success",
        SLACK_WEBHOOK_URL=local_server.url + SLACK_PATH,
        DISCORD_WEBHOOK_URL=local_server.url + DISCORD_PATH,
    )
    assert done.returncode == 1
    assert "Slack webhook answered HTTP 500" in done.stdout
    assert "Discord notified (HTTP 204)" in done.stdout


def test_a_non_http_webhook_is_refused():
    done = notify("--status", "success", SLACK_WEBHOOK_URL="file:///etc/hostname")
    assert done.returncode == 1
    assert "Slack webhook failed: ValueError: the webhook URL is not an http(s) URL" in done.stdout


def test_an_unknown_status_is_a_usage_error():
    done = notify("--status", "skipped")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
