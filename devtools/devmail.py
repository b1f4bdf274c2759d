"""Development SMTP sink: accepts every message and writes it as an .eml file.

    python -m devtools.devmail --port 1025 --dir .local/mail

`make dev` runs it and the `/dev/mail` page (DEBUG only) lists what it captured, so a
verification or reset link can be clicked without a real mailbox. The tests run the same
sink in a thread (the `mail_sink` fixture) and read the files back with `MailSink`.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from devtools.embedded import free_port
from railsaas.platform.captured_mail import read_messages


class _SaveToDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp.write_bytes(data)
        os.replace(tmp, self.directory / name)  # readers never see half a message
        return "250 Message accepted for delivery"


@dataclass
class MailSink:
    """The sink in a background thread (tests, make dev)."""

    directory: Path
    host: str = "127.0.0.1"
    port: int = 0

    def start(self) -> MailSink:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self._controller = Controller(
            _SaveToDirectory(self.directory), hostname=self.host, port=self.port
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        found = read_messages(self.directory)
        if to is not None:
            found = [m for m in found if to.lower() in str(m.get("To", "")).lower()]
        return found

    def wait_for(
        self, to: str | None = None, timeout: float = 10.0, subject: str | None = None
    ) -> EmailMessage:
        """The first message to `to` (and with `subject` in its subject), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages(to):
                if subject is None or subject.lower() in str(m.get("Subject", "")).lower():
                    return m
            if time.monotonic() > deadline:
                seen = [(str(m["To"]), str(m["Subject"])) for m in self.messages()]
                raise TimeoutError(f"no mail to {to!r} within {timeout}s; captured: {seen}")
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", required=True, help="where to write .eml files")
    args = parser.parse_args(argv)
    sink = MailSink(Path(args.dir), host=args.host, port=args.port).start()
    print(f"devmail: SMTP on {args.host}:{sink.port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sink.stop()


if __name__ == "__main__":
    main()
