"""The GitHub Actions workflows: actionlint finds nothing (with shellcheck on every `run:`
when shellcheck is installed), and the pipeline has the shape issue 16 asks for: tests with
PostgreSQL and Redis on every pull request and push; the deploy only on main, only after the
tests, with secrets from the repository, never literals."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.helpers import ROOT, WORKFLOWS, load_workflow

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def actionlint() -> str:
    """The binary from the dev extra (next to this interpreter), else one on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("actionlint", path=search)
    if not found:
        pytest.fail("actionlint is not installed: pip install -e '.[dev]'")
    return found


def lint(files: list[Path], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """actionlint as the test runs it: with the repository's config named outright (its own
    lookup needs a .git folder), and shellcheck when installed ("" turns it off)."""
    shellcheck = shutil.which("shellcheck") or ""
    config = cwd / ".github" / "actionlint.yaml"
    return subprocess.run(
        [
            actionlint(),
            "-no-color",
            f"-config-file={config}",
            f"-shellcheck={shellcheck}",
            *map(str, files),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_there_are_workflows():
    assert "ci.yml" in [p.name for p in WORKFLOW_FILES]


def test_actionlint_finds_nothing():
    done = lint(WORKFLOW_FILES)
    assert done.returncode == 0, done.stdout + done.stderr


BAD_WORKFLOW = """\
name: bad
on:
  push:
    branch: main
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-24.04
    needs: build
    steps:
      - run: echo "${{ github.event.head_commit.message }}"
      - run: echo ${{ vars.PRODUCTON_URL }}
      - run: cd $HOME/x && ls
"""


def test_actionlint_is_live_and_uses_this_repositorys_config(tmp_path):
    """The same call on a broken workflow, beside a copy of .github/actionlint.yaml: every
    kind of mistake the real workflows could make is reported, so the check above can fail."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / ".github" / "actionlint.yaml", tmp_path / ".github" / "actionlint.yaml")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    done = lint([bad], cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert 'unexpected key "branch" for "push" section' in out
    assert 'job "test" needs job "build" which does not exist' in out
    assert '"github.event.head_commit.message" is potentially untrusted' in out
    assert 'undefined configuration variable "producton_url"' in out
    if shutil.which("shellcheck"):
        assert "SC2086" in out, "actionlint did not run shellcheck on the run: scripts"


# --- the pipeline's shape ----------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load_workflow("ci.yml")


def steps_running(job: dict, text: str) -> list[int]:
    return [i for i, s in enumerate(job["steps"]) if text in s.get("run", "")]


def step_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


def test_it_runs_on_pull_requests_and_pushes_with_least_privilege(workflow):
    assert {"pull_request", "push"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}
    assert "group" in workflow["concurrency"]
    # Runs on main queue instead of cancelling each other: a deploy is never cut off.
    assert workflow["concurrency"]["cancel-in-progress"] == "${{ github.ref != 'refs/heads/main' }}"


def test_every_action_is_pinned_to_a_major_version_or_a_commit(workflow):
    uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", ref), ref


def test_the_test_job_has_postgresql_and_redis_and_runs_make_test(workflow):
    job = workflow["jobs"]["test"]
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert "--health-cmd" in services["postgres"]["options"]
    assert "5432:5432" in services["postgres"]["ports"]
    assert services["redis"]["image"] == "redis:7"
    assert "--health-cmd" in services["redis"]["options"]
    assert "6379:6379" in services["redis"]["ports"]
    assert job["env"]["TEST_DATABASE_URL"].startswith("postgresql://postgres@127.0.0.1:5432/")
    assert job["env"]["TEST_REDIS_URL"].startswith("redis://127.0.0.1:6379/")
    # The README's command, which runs the browser tests too: Chromium where they look for it.
    assert [s["run"] for s in job["steps"] if s.get("run", "").strip() == "make test"]
    assert steps_running(job, "/usr/bin/chromium")
    assert steps_running(job, "/usr/bin/chromium")[0] < steps_running(job, "make test")[0]
    [python] = step_using(job, "actions/setup-python")
    assert python["with"]["python-version"] == "3.11"
    assert python["with"]["cache"] == "pip"
    [node] = step_using(job, "actions/setup-node")
    assert str(node["with"]["node-version"]) == "20"
    assert node["with"]["cache"] == "npm"
    [upload] = step_using(job, "actions/upload-artifact")
    assert upload["if"] == "failure()"
    assert upload["with"]["path"] == "artifacts/"


def test_pull_request_code_never_sees_a_secret(workflow):
    job = workflow["jobs"]["test"]
    assert "secrets." not in repr(job)
    for checkout in step_using(job, "actions/checkout"):
        assert checkout["with"]["persist-credentials"] is False


def test_the_deploy_runs_only_on_main_after_the_tests(workflow):
    job = workflow["jobs"]["deploy"]
    assert job["needs"] in ("test", ["test"])
    condition = re.sub(r"\s+", " ", job["if"])
    assert condition == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert job["environment"]["name"] == "production"
    assert job["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read", "deployments": "write"}
    assert list(workflow["jobs"]) == ["test", "deploy"]


def test_the_deploy_job_does_its_steps_in_order(workflow):
    job = workflow["jobs"]["deploy"]
    order = [
        steps_running(job, "npm install --global")[0],
        steps_running(job, "github_deployment.py create")[0],
        steps_running(job, "scripts/deploy/railway_deploy.sh")[0],
        steps_running(job, "scripts/deploy/smoke_test.py")[0],
        steps_running(job, 'github_deployment.py status --deployment-id "$DEPLOYMENT_ID"')[0],
        steps_running(job, "scripts/deploy/notify.py")[0],
    ]
    assert order == sorted(order)
    finish, notify = job["steps"][order[4]], job["steps"][order[5]]
    assert finish["if"].startswith("always()")  # a failed deploy is recorded as failed
    assert notify["if"] == "always()"
    assert notify["continue-on-error"] is True  # a broken webhook does not fail a deploy
    smoke = job["steps"][order[3]]
    assert '"$PRODUCTION_URL"' in smoke["run"]
    assert job["env"]["PRODUCTION_URL"] == "${{ vars.PRODUCTION_URL }}"


def test_the_railway_cli_comes_from_npm_at_a_pinned_version(workflow):
    job = workflow["jobs"]["deploy"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", job["env"]["RAILWAY_CLI_VERSION"])
    [install] = [job["steps"][i] for i in steps_running(job, "npm install --global")]
    assert '"@railway/cli@${RAILWAY_CLI_VERSION}"' in install["run"]


def test_secrets_come_from_the_repository_never_literals(workflow):
    job = workflow["jobs"]["deploy"]
    secret_env = {
        "RAILWAY_TOKEN": "${{ secrets.RAILWAY_TOKEN }}",
        "SLACK_WEBHOOK_URL": "${{ secrets.SLACK_WEBHOOK_URL }}",
        "DISCORD_WEBHOOK_URL": "${{ secrets.DISCORD_WEBHOOK_URL }}",
        "GITHUB_TOKEN": "${{ github.token }}",
    }
    seen = set()
    for scope in [workflow.get("env", {}), job.get("env", {})] + [
        s.get("env", {}) for j in workflow["jobs"].values() for s in j["steps"]
    ]:
        for name, value in scope.items():
            if name in secret_env:
                assert value == secret_env[name], f"{name} must be {secret_env[name]}"
                seen.add(name)
            elif re.search(r"TOKEN|SECRET|PASSWORD|WEBHOOK|_KEY$", name):
                pytest.fail(f"{name}: a secret-looking variable the test does not know")
    assert seen == set(secret_env)
    # The project token reaches only the steps that need it, never the whole job.
    assert "RAILWAY_TOKEN" not in job["env"]
    # Nothing secret-looking is written into the workflow itself.
    text = (WORKFLOWS / "ci.yml").read_text()
    for pattern in (
        r"xox[bap]-",
        r"hooks\.slack\.com",
        r"discord(app)?\.com/api/webhooks",
        r"gh[ps]_[A-Za-z0-9]",
        r"--token",
    ):
        assert not re.search(pattern, text), pattern


def test_actionlint_is_in_the_dev_extra():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert any(re.match(r"actionlint", requirement) for requirement in dev), dev
