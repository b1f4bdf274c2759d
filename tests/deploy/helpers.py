"""Helpers of tests/deploy: where the scripts are, how to run them, and a real local HTTP
server whose answers a test chooses."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "deploy"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    content_type: str = ""

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/html; charset=utf-8"
        return self.body, self.content_type or "application/octet-stream"


@dataclass
class LocalServer:
    """A real HTTP server on 127.0.0.1 whose answers a test chooses: `handler(request)`
    returns a Reply. Every request it received is in `requests`."""

    url: str
    requests: list[Request] = field(default_factory=list)
    handler: Callable[[Request], Reply] = lambda request: Reply(404, "not found")


@contextmanager
def serve() -> Iterator[LocalServer]:
    state: LocalServer

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command,
                self.path,
                dict(self.headers.items()),
                self.rfile.read(length) if length else b"",
            )
            state.requests.append(request)
            reply = state.handler(request)
            body, content_type = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, *args):  # quiet: the test reads `requests` instead
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = LocalServer(url=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run_script(
    name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run scripts/deploy/<name> as the workflow does: Python scripts with this interpreter,
    shell scripts directly; `env` is the whole environment (nothing leaks in from ours)."""
    path = SCRIPTS / name
    command = [sys.executable, str(path)] if name.endswith(".py") else [str(path)]
    return subprocess.run(
        [*command, *args],
        env=env if env is not None else {},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


WORKFLOWS = ROOT / ".github" / "workflows"


def load_workflow(name: str = "ci.yml") -> dict:
    """A workflow as data. YAML 1.1 reads the key `on` as True: it is put back under "on"."""
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow
