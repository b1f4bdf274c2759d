"""`make dev`: the whole product on one machine.

Uses DATABASE_URL / REDIS_URL when set; otherwise starts an embedded PostgreSQL and Redis with
their data under `.local/` (a second run reuses it). Runs migrations (which create the roles),
seeds demo data, then runs the web app, a Celery worker, Celery beat, the Railway and Stripe
emulators and a mail sink together, each line of output prefixed with its name. Ctrl-C stops
every process it started.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools import embedded, seed
from railsaas import dbadmin

COLORS = ["36", "33", "35", "32", "34", "31", "37"]


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_port(port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _pump(name: str, color: str, stream) -> None:
    prefix = f"\033[{color}m{name:>8} |\033[0m " if sys.stdout.isatty() else f"{name:>8} | "
    for line in iter(stream.readline, ""):
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


class Stack:
    def __init__(self) -> None:
        self.procs: list[tuple[Service, subprocess.Popen]] = []

    def start(self, svc: Service, env: dict[str, str]) -> None:
        if svc.port and not _port_free(svc.port):
            raise SystemExit(
                f"port {svc.port} for {svc.name} is in use; set another with the "
                f"environment (see `python -m devtools.devstack --help`)"
            )
        proc = subprocess.Popen(  # noqa: S603 (our own argv)
            svc.argv,
            env={**env, **svc.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        color = COLORS[len(self.procs) % len(COLORS)]
        threading.Thread(target=_pump, args=(svc.name, color, proc.stdout), daemon=True).start()
        self.procs.append((svc, proc))
        if svc.port and not _wait_port(svc.port):
            self.stop()
            raise SystemExit(f"{svc.name} did not start listening on port {svc.port}")

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def watch(self) -> None:
        """Block until Ctrl-C or until a process dies (then stop the rest)."""
        while True:
            for svc, proc in self.procs:
                if proc.poll() is not None:
                    print(f"\n{svc.name} exited with {proc.returncode}; stopping everything.")
                    return
            time.sleep(0.5)


def prepare_services(local: Path) -> dict[str, str]:
    """Database and Redis URLs: from the environment, or embedded servers under `local`."""
    env: dict[str, str] = {}
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print("Starting embedded PostgreSQL (data in .local/pg) ...")
        admin_url = embedded.start_postgres(local / "pg")
        dbadmin.create_database(admin_url, "railsaas")
        database_url = dbadmin.with_database(admin_url, "railsaas")
    env["DATABASE_URL"] = database_url
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        port = int(os.environ.get("DEV_REDIS_PORT", "6390"))
        print(f"Starting embedded Redis on port {port} (data in .local/redis) ...")
        redis_url = embedded.start_redis(local / "redis", port=port)
    env["REDIS_URL"] = redis_url
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--no-seed", action="store_true", help="skip demo data")
    args = parser.parse_args(argv)

    local = embedded.local_dir()
    local.mkdir(exist_ok=True)
    mail_dir = local / "mail"
    mail_dir.mkdir(exist_ok=True)
    ports = {
        "web": args.port,
        "railway": int(os.environ.get("DEV_RAILWAY_PORT", "5101")),
        "stripe": int(os.environ.get("DEV_STRIPE_PORT", "5102")),
        "smtp": int(os.environ.get("DEV_SMTP_PORT", "1025")),
    }
    base_url = f"http://localhost:{ports['web']}"
    railway_token = os.environ.get("RAILWAY_API_TOKEN") or "dev-railway-token"

    env = dict(os.environ)
    env.update(prepare_services(local))
    env.setdefault("DEBUG", "1")
    env.setdefault("BASE_URL", base_url)
    env.setdefault("MAIL_CAPTURE_DIR", str(mail_dir))
    env.setdefault("SMTP_URL", f"smtp://127.0.0.1:{ports['smtp']}")
    env.setdefault("RAILWAY_API_URL", f"http://127.0.0.1:{ports['railway']}/graphql/v2")
    # Uptime checks ask the emulator, which answers for its service domains by Host.
    env.setdefault("UPTIME_CONNECT_TO", f"127.0.0.1:{ports['railway']}")
    env.setdefault("UPTIME_ALLOW_PRIVATE", "1")
    env.setdefault("RAILWAY_API_TOKEN", railway_token)
    env.setdefault("RAILWAY_WORKSPACE_ID", "dev-workspace")
    env.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{ports['stripe']}")
    env.setdefault("LOG_FORMAT", "text")
    env["PYTHONUNBUFFERED"] = "1"
    # One metrics directory for web and worker, so /metrics shows both (cleared each start).
    metrics_dir = local / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    os.environ.update(env)  # migrations and seeding below read the same settings

    print("Migrating ...")
    dbadmin.migrate(env["DATABASE_URL"])

    py = sys.executable
    services = []
    if _has_module("devtools.devmail"):
        services.append(
            Service(
                "mail",
                [
                    py,
                    "-m",
                    "devtools.devmail",
                    "--port",
                    str(ports["smtp"]),
                    "--dir",
                    str(mail_dir),
                ],
                port=ports["smtp"],
            )
        )
    if _has_module("devtools.emulators.railway"):
        services.append(
            Service(
                "railway",
                [
                    py,
                    "-m",
                    "devtools.emulators.railway",
                    "--port",
                    str(ports["railway"]),
                    "--token",
                    railway_token,
                ],
                port=ports["railway"],
            )
        )
    if _has_module("devtools.emulators.stripe"):
        services.append(
            Service(
                "stripe",
                [
                    py,
                    "-m",
                    "devtools.emulators.stripe",
                    "--port",
                    str(ports["stripe"]),
                    "--webhook-url",
                    f"http://127.0.0.1:{ports['web']}/api/stripe/webhook",
                    "--webhook-secret",
                    env.get("STRIPE_WEBHOOK_SECRET", "whsec_emulator"),
                ],
                port=ports["stripe"],
            )
        )
    celery = [py, "-m", "celery", "-A", "railsaas.tasks.worker"]
    services += [
        Service(
            "web",
            [
                py,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "run",
                "--port",
                str(ports["web"]),
                "--with-threads",
                "--no-reload",
            ],
            port=ports["web"],
        ),
        # One dev worker takes both queues (production: the Procfile's worker and poller).
        Service(
            "worker",
            celery
            + [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "8",
                "-Q",
                "celery,polls",
                "--loglevel",
                "INFO",
            ],
        ),
        Service(
            "beat",
            celery
            + ["beat", "--loglevel", "INFO", "--schedule", str(local / "celerybeat-schedule")],
        ),
    ]

    stack = Stack()
    # Ctrl-C and SIGTERM both stop the stack (a shell may start us with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # Emulators first: seeding may read the Railway emulator's catalog.
        for svc in services:
            if svc.name in ("mail", "railway", "stripe"):
                stack.start(svc, env)
        logins = [] if args.no_seed else seed.run()
        for svc in services:
            if svc.name not in ("mail", "railway", "stripe"):
                stack.start(svc, env)
        _banner(base_url, logins, ports, bool(os.environ.get("DATABASE_URL")))
        stack.watch()
    except KeyboardInterrupt:
        print("\nStopping ...")
    finally:
        stack.stop()


def _banner(
    base_url: str, logins: list[tuple[str, str, str]], ports: dict[str, int], external_db: bool
) -> None:
    lines = ["", "=" * 64, f"  RailSaaS is running at {base_url}", ""]
    for role, email, password in logins:
        lines.append(f"  {role:<15} {email}  /  {password}")
    lines += [
        "",
        f"  Captured mail:   {base_url}/dev/mail",
        f"  Railway emulator: http://127.0.0.1:{ports['railway']}/graphql/v2",
        f"  Stripe emulator:  http://127.0.0.1:{ports['stripe']}",
        "  Ctrl-C stops everything.",
        "=" * 64,
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
