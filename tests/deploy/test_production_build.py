"""The production build, played here: what docs/deploy.md says Railway does, step by step.

1. The build Railpack plans for this repository (railpack.json on top of its Python provider,
   railwayapp/railpack core/providers/python): `uv sync --locked --no-dev
   --no-install-project` from pyproject.toml and uv.lock alone, then railpack.json's build
   commands (npm ci, npm run build) and, at its "...", the provider's
   `uv sync --locked --no-dev --no-editable`. A fresh virtualenv, no dev dependencies.
2. The Procfile's `release` against a fresh database, then its `web`, `worker` and `beat`
   exactly as written, with DEBUG=0 and strong secrets, against PostgreSQL and Redis.
3. /readyz answers 200; the page's CSS and htmx load from fingerprinted URLs with a year's
   cache; beat schedules the outbox sweep and the worker runs it (a row it marks dispatched).

Minutes, not seconds (the first run downloads every wheel): marked `first_run`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from railsaas import dbadmin
from tests.support import wait_until

pytestmark = [pytest.mark.first_run, pytest.mark.timeout(480)]

ROOT = Path(__file__).resolve().parents[2]
UV = [sys.executable, "-m", "uv"]
PROVIDER_INSTALL = "uv sync --locked --no-dev --no-install-project"
PROVIDER_BUILD = "uv sync --locked --no-dev --no-editable"


def _procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def _build_commands() -> list[str]:
    """railpack.json's build step, its "..." replaced by the provider's own command."""
    config = json.loads((ROOT / "railpack.json").read_text())
    commands = []
    for command in config["steps"]["build"]["commands"]:
        cmd = command["cmd"] if isinstance(command, dict) else command
        commands.append(PROVIDER_BUILD if cmd == "..." else cmd)
    assert PROVIDER_BUILD in commands, "railpack.json must keep the provider's build ('...')"
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command: str, cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {command}\n")
        out.flush()
        result = subprocess.run(
            ["sh", "-c", command],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=400,
            check=False,
        )
    assert result.returncode == 0, f"`{command}` failed:\n{log.read_text()[-4000:]}"


def _checkout(destination: Path) -> None:
    """What `railway up` uploads: the working tree minus what .gitignore lists."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.fixture(scope="module")
def production(servers, tmp_path_factory):
    work = tmp_path_factory.mktemp("production")
    app_dir, logs = work / "app", work / "logs"
    app_dir.mkdir()
    logs.mkdir()
    _checkout(app_dir)
    uv_bin = str(Path(sys.executable).parent)
    build_env = {
        **os.environ,
        "PATH": f"{app_dir}/.venv/bin:{uv_bin}:{os.environ['PATH']}",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
        "VIRTUAL_ENV": str(app_dir / ".venv"),
    }
    build_env.pop("PYTHONPATH", None)
    started = time.monotonic()
    _run(
        f"{sys.executable} -m uv venv --python {sys.executable} .venv",
        app_dir,
        build_env,
        logs / "build.log",
    )
    _run(PROVIDER_INSTALL, app_dir, build_env, logs / "build.log")
    for command in _build_commands():
        _run(command, app_dir, build_env, logs / "build.log")
    build_seconds = time.monotonic() - started

    database = f"railsaas_prodbuild_{secrets.token_hex(4)}"
    dbadmin.create_database(servers.admin_url, database, drop_first=True)
    port = _free_port()
    env = {
        "PATH": build_env["PATH"],
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "PORT": str(port),
        "DEBUG": "0",
        "DATABASE_URL": dbadmin.with_database(servers.admin_url, database),
        "REDIS_URL": servers.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "RAILWAY_WEBHOOK_SECRET": secrets.token_urlsafe(48),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
        # The database logins are cluster-wide: keep the passwords the test suite gave them.
        "APP_DB_PASSWORD": os.environ["APP_DB_PASSWORD"],
        "ADMIN_DB_PASSWORD": os.environ["ADMIN_DB_PASSWORD"],
        "SYSTEM_DB_PASSWORD": os.environ["SYSTEM_DB_PASSWORD"],
        "RAILWAY_API_URL": f"http://127.0.0.1:{_free_port()}/graphql/v2",  # nothing there
        "STRIPE_API_BASE": f"http://127.0.0.1:{_free_port()}",
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
    }
    procfile = _procfile()
    _run(procfile["release"], app_dir, env, logs / "release.log")

    processes: dict[str, subprocess.Popen] = {}
    outputs = []
    try:
        for name in ("web", "worker", "beat"):
            out = (logs / f"{name}.log").open("w")
            outputs.append(out)
            processes[name] = subprocess.Popen(
                ["sh", "-c", procfile[name]],
                cwd=app_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        yield {
            "url": f"http://127.0.0.1:{port}",
            "database_url": env["DATABASE_URL"],
            "app_dir": app_dir,
            "logs": logs,
            "processes": processes,
            "build_seconds": build_seconds,
        }
    finally:
        for proc in processes.values():
            with_group(proc, signal.SIGTERM)
        for proc in processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        for out in outputs:
            out.close()
        admin = dbadmin.admin_engine(servers.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def with_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _log(production, name: str) -> str:
    return (production["logs"] / f"{name}.log").read_text()[-3000:]


def _alive(production) -> None:
    for name, proc in production["processes"].items():
        assert proc.poll() is None, f"{name} exited:\n{_log(production, name)}"


def test_the_build_installs_no_dev_dependency(production):
    venv = production["app_dir"] / ".venv"
    installed = {
        p.name.split("-")[0].lower() for p in venv.glob("lib/python*/site-packages/*.dist-info")
    }
    assert {"gunicorn", "celery", "railsaas"} <= installed
    assert not installed & {"pytest", "ruff", "playwright", "schemathesis", "pgserver"}
    # Installed as a wheel (not editable), with the vendor files npm copied in before it.
    assert list(venv.glob("lib/python*/site-packages/railsaas/static/vendor/htmx.min.js"))


def test_web_is_ready_and_serves_fingerprinted_assets_with_a_long_cache(production):
    url = production["url"]

    def ready():
        _alive(production)
        try:
            return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout=90, message="web's /readyz never answered 200")
    page = httpx.get(f"{url}/login", timeout=10)
    assert page.status_code == 200
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    for asset in ("vendor/pico.min.css", "vendor/htmx.min.js"):
        link = next(link for link in links if link.startswith(f"/static/{asset}?v="))
        response = httpx.get(url + link, timeout=10)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert len(response.content) > 1000


def test_beat_schedules_and_the_worker_runs_a_task(production):
    # An outbox row left undispatched: only the beat-scheduled sweep, run by the worker,
    # marks it dispatched (and sends its task, a harmless second sweep).
    engine = dbadmin.admin_engine(production["database_url"])
    try:
        with engine.begin() as conn:
            row_id = conn.scalar(
                text(
                    "INSERT INTO outbox (task, args, created_at) "
                    "VALUES ('outbox.sweep', '{}', now() - interval '1 minute') RETURNING id"
                )
            )

        def dispatched():
            _alive(production)
            with engine.connect() as conn:
                return (
                    conn.scalar(
                        text("SELECT dispatched_at FROM outbox WHERE id = :id"), {"id": row_id}
                    )
                    is not None
                )

        wait_until(
            dispatched, timeout=120, interval=2, message="beat's outbox sweep, run by the worker"
        )
    finally:
        engine.dispose()
    assert "outbox.sweep" in (production["logs"] / "worker.log").read_text()
