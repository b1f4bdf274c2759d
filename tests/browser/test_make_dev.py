"""`make dev`'s own start-up (devtools/devstack.py, as `make dev` runs it): /dev/mail shows
captured mail, and however the stack is stopped (Ctrl-C, SIGTERM to its process group, SIGHUP
from a closed terminal, its parent killed outright) no process it started stays behind and
every port is free for the next run.

Against the test PostgreSQL (a database of its own) and Redis, so no embedded servers and no
new virtualenv: seconds per start, not minutes (test_first_run.py covers the clean checkout).
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import redis

from devtools.devstack import _port_free
from devtools.embedded import free_port
from railsaas import dbadmin
from tests.support import wait_until
from tests.support.redis import DATABASES, with_db, worker_index

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 180


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now running (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(pid: int) -> set[int]:
    parents = _parents()
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, parent in parents.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits to be read


class DevStack:
    """devtools.devstack in a session of its own, as a terminal runs `make dev`, optionally
    under a shell (`parent=True`) that a test can kill."""

    def __init__(self, database_url: str, redis_url: str, local: Path) -> None:
        self.ports = {
            "PORT": free_port(),
            "DEV_RAILWAY_PORT": free_port(),
            "DEV_STRIPE_PORT": free_port(),
            "DEV_SMTP_PORT": free_port(),
        }
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        self.env = {k: v for k, v in os.environ.items() if k in keep}
        self.env.update({k: str(v) for k, v in self.ports.items()})
        self.env.update(
            DATABASE_URL=database_url, REDIS_URL=redis_url, RAILSAAS_LOCAL_DIR=str(local)
        )
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self, *, parent: bool = False) -> None:
        argv = [sys.executable, "-m", "devtools.devstack", "--no-seed"]
        if parent:
            # A shell that waits on devstack, as `make` or a terminal's shell does.
            argv = ["/bin/sh", "-c", '"$@" & wait', "sh", *argv]
        self.proc = subprocess.Popen(  # noqa: S603 (our own argv)
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.url = self.wait_for(r"RailSaaS is running at (http://\S+)").group(1)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = STARTUP_TIMEOUT) -> re.Match:
        def printed():
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                pytest.fail("devstack exited:\n" + "\n".join(self.lines[-60:]))
            return None

        return wait_until(printed, timeout=timeout, interval=0.2, message=pattern)

    def processes(self) -> set[int]:
        """The session's processes: the one we started and everything under it."""
        return {self.proc.pid} | _descendants(self.proc.pid)

    def stopped_cleanly(self, pids: set[int]) -> None:
        wait_until(
            lambda: not any(_alive(p) for p in pids),
            timeout=60,
            interval=0.2,
            message="every process of `make dev` to exit",
        )
        for name, port in self.ports.items():
            assert _port_free(port), f"{name} {port} still in use\n" + "\n".join(self.lines[-40:])

    def close(self) -> None:
        if self.proc is None:
            return
        # Whatever a failing test left running: never leak into the next test.
        for pid in self.processes():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def dev_database(servers):
    name = os.environ.get("TEST_DB_NAME", "railsaas_test") + "_devstack"
    dbadmin.create_database(servers.admin_url, name, drop_first=True)
    return dbadmin.with_database(servers.admin_url, name)


@pytest.fixture
def stack(dev_database, servers, tmp_path):
    # A Redis database of its own: its worker must not take the test worker's tasks.
    redis_url = with_db(servers.redis_url, DATABASES - 1 - worker_index())
    redis.Redis.from_url(redis_url).flushdb()
    stack = DevStack(dev_database, redis_url, tmp_path / "local")
    yield stack
    stack.close()


def _send_mail(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "RailSaaS <noreply@railsaas.test>"
    message["To"] = "someone@example.com"
    message["Subject"] = subject
    message.set_content("Open https://example.com/verify to go on.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_dev_mail_shows_captured_mail_and_sigterm_to_the_group_stops_everything(stack):
    stack.start()
    # The page the banner points to, served by `make dev`'s own web server (flask run).
    assert f"Captured mail:   {stack.url}/dev/mail" in "\n".join(stack.lines)
    _send_mail(stack.ports["DEV_SMTP_PORT"], "Verify your email, captured")

    def mail_page():
        response = httpx.get(stack.url + "/dev/mail", timeout=10)
        assert response.status_code == 200, response.text[:300]
        return "Verify your email, captured" in response.text

    wait_until(mail_page, timeout=30, message="the captured mail on /dev/mail")

    pids = stack.processes()
    assert len(pids) >= 7, pids  # devstack, mail, railway, stripe, web, worker, beat
    os.killpg(stack.proc.pid, signal.SIGTERM)  # `kill -- -PGID`
    stack.proc.wait(timeout=60)
    stack.stopped_cleanly(pids)
    assert any("Stopping (SIGTERM)" in line for line in stack.lines)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "hangup"])
def test_ctrl_c_or_a_closed_terminal_stops_everything(stack, signum):
    stack.start()
    pids = stack.processes()
    os.killpg(stack.proc.pid, signum)  # a terminal signals the whole foreground group
    stack.proc.wait(timeout=60)
    stack.stopped_cleanly(pids)


def test_killing_the_parent_outright_stops_everything(stack):
    stack.start(parent=True)
    pids = stack.processes()
    shell = stack.proc.pid
    os.kill(shell, signal.SIGKILL)  # no chance to pass anything on
    stack.proc.wait(timeout=10)
    stack.stopped_cleanly(pids - {shell})
    assert any("is gone; stopping everything" in line for line in stack.lines)


def test_killing_devstack_itself_outright_takes_its_services_with_it(stack):
    """SIGKILL leaves devstack no chance to clean up: the kernel's parent-death signal does."""
    stack.start()
    pids = stack.processes()
    os.kill(stack.proc.pid, signal.SIGKILL)
    stack.proc.wait(timeout=10)
    stack.stopped_cleanly(pids)
