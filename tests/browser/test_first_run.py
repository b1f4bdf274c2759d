"""First run: `make dev` from a clean checkout serves the product, the printed demo login
works, and Ctrl-C stops it all.

This is the newcomer's experience, end to end: a fresh clone, no DATABASE_URL or REDIS_URL
(embedded PostgreSQL and Redis), a new virtualenv, npm assets, migrations, demo data.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from devtools.embedded import free_port, local_dir
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 600  # a new virtualenv is most of it


class MakeDev:
    def __init__(self, checkout: Path):
        self.checkout = checkout
        self.ports = {
            "PORT": free_port(),
            "DEV_RAILWAY_PORT": free_port(),
            "DEV_STRIPE_PORT": free_port(),
            "DEV_SMTP_PORT": free_port(),
            "DEV_REDIS_PORT": free_port(),
        }
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        keep = (
            "PATH",
            "HOME",
            "LANG",
            "PIP_INDEX_URL",
            "PIP_EXTRA_INDEX_URL",
            "PIP_CONSTRAINT",
            "npm_config_registry",
            "TMPDIR",
        )
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update({k: str(v) for k, v in self.ports.items()})
        self.proc = subprocess.Popen(
            ["make", "dev"],
            cwd=self.checkout,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        seen = 0

        def printed():
            nonlocal seen
            while seen < len(self.lines):
                m = re.search(pattern, self.lines[seen])
                seen += 1
                if m:
                    return m
            if self.proc.poll() is not None:
                raise AssertionError("`make dev` exited")
            return None

        try:
            return wait_until(
                printed, timeout=timeout, interval=0.2, message=f"`make dev` to print {pattern!r}"
            )
        except AssertionError as e:
            tail = "\n".join(self.lines[-60:])
            pytest.fail(f"{e}:\n{tail}")

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the whole foreground process group, as a terminal does."""
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=60)  # EOF once every process holding the pipe is gone
        self.proc.stdout.close()
        return code


def _processes_under(path: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(path) in line]


@pytest.fixture
def checkout():
    # Not under pytest's tmp_path: as root, pgserver runs PostgreSQL as its own system user,
    # which must traverse every parent folder, and pytest keeps its tmp root private (0700).
    dest = local_dir() / "first-run" / uuid.uuid4().hex[:8]
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    yield dest
    shutil.rmtree(dest, ignore_errors=True)


def test_make_dev_from_a_clean_checkout_serves_the_product(checkout, browser, shot, page_errors):
    dev = MakeDev(checkout)
    dev.start()
    try:
        url = dev.wait_for(r"RailSaaS is running at (http://\S+)", STARTUP_TIMEOUT).group(1)
        demo = dev.wait_for(r"Customer\s+(\S+@\S+)\s+/\s+(\S+)", 5)
        context = browser.new_context()
        page = context.new_page()
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.goto(url)
        assert "RailSaaS" in page.title()
        shot(page, "first-run-landing")
        # Log in with exactly what `make dev` printed.
        page.goto(url + "/login")
        page.fill("#email", demo.group(1))
        page.fill("#password", demo.group(2))
        page.click("form >> text=Log in")
        page.wait_for_url("**/dashboard")
        assert "Demo Co" in page.inner_text("header")
        shot(page, "first-run-dashboard")
        context.close()
    finally:
        code = dev.interrupt()
    # make itself dies of the SIGINT (-2); what matters is that everything it started stops.
    assert code in (0, 2, 130, -signal.SIGINT), "\n".join(dev.lines[-40:])
    wait_until(
        lambda: not _processes_under(checkout),
        timeout=60,
        interval=0.5,
        message="every process of the checkout to stop after Ctrl-C",
    )
    assert any("Stopping" in line for line in dev.lines)
    page_errors.check()
