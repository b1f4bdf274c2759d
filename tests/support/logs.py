"""Reading what our log handler writes (JSON lines, as the test app configures it)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

from railsaas.observability.logging import installed_handler


class LogCapture:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def actions(self, action: str) -> list[dict]:
        """The lines about one action (`instance.deploy`, `billing.invoice.paid`, ...)."""
        return [r for r in self.records() if r.get("action") == action]


@contextlib.contextmanager
def capture_logs() -> Iterator[LogCapture]:
    """Everything the root handler writes inside the block (any thread: the Celery worker's
    threads included)."""
    handler = installed_handler()
    assert handler is not None, "create_app installs the railsaas log handler"
    stream = io.StringIO()
    previous = handler._explicit
    handler.stream = stream
    try:
        yield LogCapture(stream)
    finally:
        handler.stream = previous
