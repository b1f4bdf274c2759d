"""scripts/deploy/railway_deploy.sh with a fake `railway` first on PATH: a small program that
records its arguments, working directory and the Railway variables it was given, and fails
when told to. Also the deploy job's own step, with its environment built from ci.yml."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.helpers import ROOT, SCRIPTS, load_workflow

TOKEN = "rw-project-token-4b1f9c-test"
WORKSPACE_TOKEN = "customers-workspace-token-77e2"  # the app's RAILWAY_API_TOKEN
MESSAGE = "RailSaaS 0123abc (test)"

FAKE_RAILWAY = """#!{python}
import json, os, sys
with open(os.environ["FAKE_RAILWAY_LOG"], "a") as log:
    log.write(json.dumps({{
        "argv": sys.argv[1:], "cwd": os.getcwd(),
        "RAILWAY_TOKEN": os.environ.get("RAILWAY_TOKEN"),
        "RAILWAY_API_TOKEN": os.environ.get("RAILWAY_API_TOKEN"),
    }}) + "\\n")
args = sys.argv[1:]
if args == ["--version"]:
    print("railway 5.63.1")
    sys.exit(0)
service = args[args.index("--service") + 1] if "--service" in args else None
if service and service == os.environ.get("FAKE_RAILWAY_FAIL_SERVICE"):
    print("Deploy failed", file=sys.stderr)
    sys.exit(1)
print("Deploy complete")
"""


class FakeRailway:
    def __init__(self, folder: Path):
        self.bin = folder / "bin"
        self.bin.mkdir()
        self.log = folder / "railway-calls.jsonl"
        path = self.bin / "railway"
        path.write_text(FAKE_RAILWAY.format(python=sys.executable))
        path.chmod(0o755)

    @property
    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    @property
    def argvs(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a run: the fake first on PATH, and nothing else of ours."""
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", "/tmp"),
            "FAKE_RAILWAY_LOG": str(self.log),
            **extra,
        }


@pytest.fixture
def railway(tmp_path) -> FakeRailway:
    return FakeRailway(tmp_path)


def up(service: str, environment: str = "production", message: str = MESSAGE) -> list[str]:
    return ["up", "--ci", "--service", service, "--environment", environment, "--message", message]


def deploy(env: dict[str, str], script: Path = SCRIPTS / "railway_deploy.sh"):
    return subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_web_then_worker_then_beat_with_the_token_in_the_environment_only(railway):
    done = deploy(
        railway.env(RAILWAY_TOKEN=TOKEN, RAILWAY_API_TOKEN=WORKSPACE_TOKEN, DEPLOY_MESSAGE=MESSAGE)
    )
    assert done.returncode == 0, done.stderr
    assert railway.argvs == [["--version"], up("web"), up("worker"), up("beat")]
    for call in railway.calls:
        assert call["RAILWAY_TOKEN"] == TOKEN  # the CLI reads the project token from here
        assert call["RAILWAY_API_TOKEN"] is None  # never the customers' workspace token
        assert call["cwd"] == str(ROOT)  # `railway up` uploads the checkout
        assert not any(TOKEN in arg for arg in call["argv"])
    assert TOKEN not in done.stdout + done.stderr
    assert "deployed web, worker and beat to 'production'" in done.stderr


def test_names_and_environment_come_from_the_environment(railway):
    done = deploy(
        railway.env(
            RAILWAY_TOKEN=TOKEN,
            DEPLOY_MESSAGE=MESSAGE,
            RAILWAY_ENVIRONMENT="staging",
            RAILWAY_WEB_SERVICE="railsaas-web",
            RAILWAY_WORKER_SERVICE="railsaas worker",
            RAILWAY_BEAT_SERVICE="railsaas.beat",
        )
    )
    assert done.returncode == 0, done.stderr
    assert railway.argvs == [
        ["--version"],
        up("railsaas-web", "staging"),
        up("railsaas worker", "staging"),
        up("railsaas.beat", "staging"),
    ]


def test_the_message_names_the_commit_when_none_is_given(railway):
    sha = "89abcdef" * 5
    done = deploy(railway.env(RAILWAY_TOKEN=TOKEN, GITHUB_SHA=sha))
    assert done.returncode == 0, done.stderr
    assert railway.argvs[1] == up("web", message=f"RailSaaS {sha}")


@pytest.mark.parametrize(
    ("failing", "deployed"),
    [
        ("web", ["web"]),
        ("worker", ["web", "worker"]),
        ("beat", ["web", "worker", "beat"]),
    ],
)
def test_a_failed_deploy_fails_the_script_and_stops_it(railway, failing, deployed):
    done = deploy(
        railway.env(RAILWAY_TOKEN=TOKEN, DEPLOY_MESSAGE=MESSAGE, FAKE_RAILWAY_FAIL_SERVICE=failing)
    )
    assert done.returncode != 0
    assert railway.argvs == [["--version"], *(up(s) for s in deployed)]
    assert f"deploying '{failing}' failed" in done.stderr
    assert "Deploy failed" in done.stderr  # the CLI's own output is not swallowed


def test_without_a_token_nothing_runs(railway):
    done = deploy(railway.env(DEPLOY_MESSAGE=MESSAGE, RAILWAY_API_TOKEN=WORKSPACE_TOKEN))
    assert done.returncode != 0
    assert "RAILWAY_TOKEN is not set" in done.stderr
    assert railway.calls == []


def test_a_missing_cli_is_a_clear_failure(railway, tmp_path):
    done = deploy(railway.env(RAILWAY_TOKEN=TOKEN, RAILWAY_BIN=str(tmp_path / "no-railway")))
    assert done.returncode != 0
    assert "did not run: npm install -g @railway/cli" in done.stderr
    assert railway.calls == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RAILWAY_WEB_SERVICE", "--detach"),
        ("RAILWAY_WORKER_SERVICE", " worker"),
        ("RAILWAY_ENVIRONMENT", "-e"),
        ("RAILWAY_BEAT_SERVICE", "beat;rm"),
    ],
)
def test_option_like_or_odd_names_are_refused(railway, variable, value):
    done = deploy(railway.env(RAILWAY_TOKEN=TOKEN, **{variable: value}))
    assert done.returncode != 0
    assert "invalid" in done.stderr
    assert railway.calls == []


def test_two_roles_on_one_service_are_refused(railway):
    done = deploy(railway.env(RAILWAY_TOKEN=TOKEN, RAILWAY_BEAT_SERVICE="worker"))
    assert done.returncode != 0
    assert "three different services" in done.stderr
    assert railway.calls == []


def test_dry_run_prints_the_exact_commands_and_runs_nothing(railway):
    done = deploy(railway.env(DRY_RUN="1", DEPLOY_MESSAGE=MESSAGE))
    assert done.returncode == 0, done.stderr
    printed = [shlex.split(line[2:]) for line in done.stdout.splitlines()]
    assert all(line.startswith("+ ") for line in done.stdout.splitlines())
    assert printed == [
        ["railway", "--version"],
        ["railway", *up("web")],
        ["railway", *up("worker")],
        ["railway", *up("beat")],
    ]
    assert railway.calls == []
    assert "RAILWAY_TOKEN is not set (dry run: continuing)" in done.stderr


def test_the_migrations_run_before_anything_else_is_deployed():
    """Web deploys first and its pre-deploy command is the migration: the Procfile's release
    command, run by Railway in its own network before the new web takes traffic."""
    config = json.loads((ROOT / "railway.json").read_text())
    assert config["deploy"]["preDeployCommand"] == ["alembic upgrade head"]
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert procfile["release"] == "alembic upgrade head"
    for name in ("railway-worker.json", "railway-beat.json"):
        assert "preDeployCommand" not in json.loads((ROOT / "deploy" / name).read_text())["deploy"]


def _copy_with_config(tmp_path: Path, config: dict) -> Path:
    tree = tmp_path / "checkout"
    (tree / "scripts" / "deploy").mkdir(parents=True)
    script = tree / "scripts" / "deploy" / "railway_deploy.sh"
    shutil.copy2(SCRIPTS / "railway_deploy.sh", script)
    (tree / "railway.json").write_text(json.dumps(config))
    return script


@pytest.mark.parametrize(
    "deploy_section",
    [
        {"startCommand": "gunicorn wsgi:app"},
        {"preDeployCommand": ["python -c 'pass'"], "startCommand": "gunicorn wsgi:app"},
    ],
)
def test_without_the_migration_pre_deploy_command_it_refuses(railway, tmp_path, deploy_section):
    script = _copy_with_config(tmp_path, {"deploy": deploy_section})
    done = deploy(railway.env(RAILWAY_TOKEN=TOKEN), script)
    assert done.returncode != 0
    assert "railway.json must run 'alembic upgrade head'" in done.stderr
    assert railway.calls == []


def test_the_guard_accepts_the_command_as_a_string_too(railway, tmp_path):
    script = _copy_with_config(tmp_path, {"deploy": {"preDeployCommand": "alembic upgrade head"}})
    done = deploy(railway.env(RAILWAY_TOKEN=TOKEN, DEPLOY_MESSAGE=MESSAGE), script)
    assert done.returncode == 0, done.stderr
    assert railway.calls[-1]["cwd"] == str(script.parents[2])


# --- the deploy job's step, with the environment ci.yml gives it --------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(value: str, context: dict[str, dict[str, str]]) -> str:
    """The few expression forms the deploy job's env uses; any other fails the test, so a new
    form gets handled here rather than silently ignored."""

    def one(match: re.Match) -> str:
        expr = match.group(1)
        if m := re.fullmatch(r"vars\.(\w+)\s*\|\|\s*'([^']*)'", expr):
            return context["vars"].get(m.group(1)) or m.group(2)
        if m := re.fullmatch(r"(vars|secrets|github)\.(\w+)", expr):
            return context[m.group(1)].get(m.group(2), "")
        raise AssertionError(f"no evaluation for ${{{{ {expr} }}}} in this test")

    return EXPRESSION.sub(one, str(value))


def deploy_step_environment(vars_: dict[str, str]) -> tuple[str, dict[str, str]]:
    job = load_workflow()["jobs"]["deploy"]
    [step] = [s for s in job["steps"] if "railway_deploy.sh" in s.get("run", "")]
    context = {
        "vars": vars_,
        "secrets": {"RAILWAY_TOKEN": TOKEN},
        "github": {"sha": "feedface" * 5, "run_id": "4711"},
    }
    env = {k: evaluate(v, context) for k, v in {**job["env"], **step["env"]}.items()}
    return step["run"], env


def run_step(run: str, env: dict[str, str]):
    # As GitHub runs a `run:` step: bash -e -o pipefail, in the checkout.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", run],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_deploy_jobs_step_with_default_variables(railway):
    run, env = deploy_step_environment({})
    done = run_step(run, railway.env(**env))
    assert done.returncode == 0, done.stderr
    message = f"RailSaaS {'feedface' * 5} (GitHub Actions run 4711)"
    assert railway.argvs == [
        ["--version"],
        up("web", message=message),
        up("worker", message=message),
        up("beat", message=message),
    ]
    assert {c["RAILWAY_TOKEN"] for c in railway.calls} == {TOKEN}


def test_the_deploy_jobs_step_with_repository_variables_set(railway):
    run, env = deploy_step_environment(
        {
            "RAILWAY_ENVIRONMENT": "prod-eu",
            "RAILWAY_WEB_SERVICE": "app",
            "RAILWAY_WORKER_SERVICE": "jobs",
            "RAILWAY_BEAT_SERVICE": "scheduler",
        }
    )
    done = run_step(run, railway.env(DRY_RUN="1", **env))
    assert done.returncode == 0, done.stderr
    message = f"RailSaaS {'feedface' * 5} (GitHub Actions run 4711)"
    printed = [shlex.split(line[2:]) for line in done.stdout.splitlines()]
    assert printed == [["railway", "--version"]] + [
        ["railway", *up(service, "prod-eu", message)] for service in ("app", "jobs", "scheduler")
    ]
    assert railway.calls == []


@pytest.mark.skipif(
    shutil.which("shellcheck") is None,
    reason="shellcheck is not installed (apt-get install -y shellcheck)",
)
def test_the_script_passes_shellcheck():
    done = subprocess.run(
        ["shellcheck", "--severity=style", str(SCRIPTS / "railway_deploy.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
