"""scripts/deploy/github_deployment.py against a real local HTTP server standing in for
GitHub's REST API (GITHUB_API_URL points at it, as GitHub Actions sets that variable)."""

from __future__ import annotations

import os

import pytest

from tests.deploy.helpers import Reply, Request, run_script

TOKEN = "ghs_test-token-5f0c1d"
SHA = "0123456789abcdef0123456789abcdef01234567"


def github_api(request: Request) -> Reply:
    repo = "/repos/acme/railsaas"
    if request.method == "POST" and request.path == f"{repo}/deployments":
        return Reply(201, {"id": 4242, "ref": request.json()["ref"]})
    if request.method == "POST" and request.path == f"{repo}/deployments/4242/statuses":
        return Reply(201, {"id": 1, "state": request.json()["state"]})
    return Reply(404, {"message": "Not Found"})


def env_for(server, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": server.url,
        "GITHUB_REPOSITORY": "acme/railsaas",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "777",
        **extra,
    }


def test_create_makes_a_deployment_of_exactly_this_commit(local_server, tmp_path):
    local_server.handler = github_api
    outputs = tmp_path / "github_output"
    done = run_script(
        "github_deployment.py",
        "create",
        "--environment",
        "production",
        "--ref",
        SHA,
        env=env_for(local_server, GITHUB_OUTPUT=str(outputs)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4242"
    assert outputs.read_text() == "deployment_id=4242\n"
    [request] = local_server.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.json() == {
        "ref": SHA,
        "environment": "production",
        "description": "Railway: web, worker and beat",
        "auto_merge": False,
        "required_contexts": [],
        "production_environment": True,
    }
    assert TOKEN not in done.stdout + done.stderr


def test_the_ref_defaults_to_github_sha(local_server):
    local_server.handler = github_api
    done = run_script("github_deployment.py", "create", env=env_for(local_server, GITHUB_SHA=SHA))
    assert done.returncode == 0, done.stderr
    assert local_server.requests[0].json()["ref"] == SHA


@pytest.mark.parametrize(
    ("given", "state"),
    [
        ("success", "success"),
        ("failure", "failure"),
        ("cancelled", "error"),
        ("in_progress", "in_progress"),
    ],
)
def test_status_maps_the_job_status_to_a_deployment_state(local_server, given, state):
    local_server.handler = github_api
    done = run_script(
        "github_deployment.py",
        "status",
        "--deployment-id",
        "4242",
        "--state",
        given,
        "--environment-url",
        "https://railsaas.example.com",
        "--description",
        "web, worker and beat: " + given,
        env=env_for(local_server),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"deployment 4242: {state}"
    [request] = local_server.requests
    assert request.path == "/repos/acme/railsaas/deployments/4242/statuses"
    assert request.json() == {
        "state": state,
        "auto_inactive": True,
        "environment_url": "https://railsaas.example.com",
        "log_url": "https://github.com/acme/railsaas/actions/runs/777",
        "description": "web, worker and beat: " + given,
    }


def test_an_api_error_fails_with_githubs_message_and_no_token(local_server):
    local_server.handler = lambda request: Reply(
        403, {"message": "Resource not accessible by integration"}
    )
    done = run_script("github_deployment.py", "create", "--ref", SHA, env=env_for(local_server))
    assert done.returncode == 1
    assert "HTTP 403" in done.stderr
    assert "Resource not accessible by integration" in done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_without_a_token_nothing_is_sent(local_server):
    env = env_for(local_server)
    del env["GITHUB_TOKEN"]
    done = run_script("github_deployment.py", "create", "--ref", SHA, env=env)
    assert done.returncode == 1
    assert "GITHUB_TOKEN is not set" in done.stderr
    assert local_server.requests == []
