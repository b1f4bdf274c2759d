"""`make dev`: the whole product on one machine.

Uses DATABASE_URL / REDIS_URL when set; otherwise starts an embedded PostgreSQL and Redis with
their data under `.local/` (a second run reuses it). Runs migrations (which create the roles),
seeds demo data, then runs the web app, a Celery worker, Celery beat, the Railway and Stripe
emulators and a mail sink together, each line of output prefixed with its name.

However it is stopped, nothing stays behind to hold a port for the next run: Ctrl-C (SIGINT),
SIGTERM (`kill -- -PGID`), SIGHUP (the terminal closed) and its parent dying all stop every
process it started, and each of those dies with it even if it is killed outright (SIGKILL:
the kernel's parent-death signal, PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import contextlib
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
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Runs each service: asks the kernel to SIGTERM it when devstack dies (PR_SET_PDEATHSIG = 1),
# then becomes the service (exec keeps the setting). A wrapper rather than Popen's preexec_fn,
# which is unsafe once threads run (the output pumps). If devstack died before the prctl, the
# parent is already someone else: give up at once.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class Stopping(BaseException):
    """A stop signal arrived (SIGINT, SIGTERM, SIGHUP): unwind to the cleanup."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopping(signum: int, _frame) -> None:
    # Once: further signals while stopping must not interrupt the cleanup itself.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Stopping(signum)


def _say(text: str) -> None:
    """Print, unless the terminal is gone (SIGHUP): cleanup must not fail on a closed pipe."""
    with contextlib.suppress(BrokenPipeError, OSError):
        print(text, flush=True)


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
        try:
            sys.stdout.write(prefix + line)
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            pass  # the terminal is gone; keep draining so the service never blocks on output


class Stack:
    def __init__(self) -> None:
        self.procs: list[tuple[Service, subprocess.Popen]] = []
        self.parent = os.getppid()

    def start(self, svc: Service, env: dict[str, str]) -> None:
        if svc.port and not _port_free(svc.port):
            raise SystemExit(
                f"port {svc.port} for {svc.name} is in use; set another with the "
                f"environment (see `python -m devtools.devstack --help`)"
            )
        argv = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *svc.argv]
        if not os.path.isabs(argv[4]):
            argv[4] = shutil.which(argv[4]) or argv[4]
        proc = subprocess.Popen(  # noqa: S603 (our own argv)
            argv,
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
        """SIGTERM each service's process group, wait up to 10 s, then SIGKILL what is left."""
        for _, proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Also after a clean exit: a service's own children may outlive it.
            _signal_group(proc, signal.SIGKILL)
            proc.wait()

    def watch(self) -> None:
        """Block until a stop signal, a process dying, or our parent dying (`make`, a shell or
        a terminal killed outright: nobody would be left to stop us)."""
        while True:
            for svc, proc in self.procs:
                if proc.poll() is not None:
                    _say(f"\n{svc.name} exited with {proc.returncode}; stopping everything.")
                    return
            if os.getppid() != self.parent:
                _say("\nThe process that started `make dev` is gone; stopping everything.")
                return
            time.sleep(0.5)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    # Already gone: the group's leader was reaped and nothing else is in it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


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
    # From the start: a stop during migrations or seeding must still run the cleanup (atexit
    # stops the embedded servers), not die on the default SIGTERM/SIGHUP action.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stopping)
    try:
        _run(args)
    except Stopping as stopping:
        _say(f"\nStopped ({stopping}) before the stack was up.")


def _run(args: argparse.Namespace) -> None:
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
    except (Stopping, KeyboardInterrupt) as stopping:
        _say(f"\nStopping ({stopping or 'Ctrl-C'}) ...")
    finally:
        for sig in STOP_SIGNALS:  # nothing interrupts the cleanup
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        _say("Stopped.")


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
