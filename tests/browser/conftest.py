"""Browser tests: Debian's Chromium driven by Playwright against the real app served over
HTTP from a thread, with a real Celery worker; data really commits (and is truncated after).

Every page a test visits is checked for JavaScript errors (console errors and uncaught
exceptions, CSP violations included), and `shot(page, name)` saves a screenshot of each step
to artifacts/screenshots/<test>/.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.support.browser import stub_outside_images

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason="Chromium is not installed (apt-get install -y chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def live_server(app, servers):
    """The app on a real port, served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    previous = app.config["BASE_URL"]
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    app.config["BASE_URL"] = previous


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class PageErrors(list):
    def check(self) -> None:
        assert not self, "JavaScript errors on the page:\n" + "\n".join(self)


@pytest.fixture
def page_errors():
    return PageErrors()


def _new_page(browser, request, page_errors, viewport):
    context = browser.new_context(viewport=viewport)
    stub_outside_images(context)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and page_errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page_errors.append(f"uncaught: {e}"))
    page.set_default_timeout(15_000)
    return context, page


@pytest.fixture
def page(browser, request, page_errors, committed):
    context, page = _new_page(browser, request, page_errors, {"width": 1280, "height": 900})
    yield page
    context.close()
    page_errors.check()


@pytest.fixture
def phone(browser, request, page_errors, committed):
    """A page at phone width (375 px)."""
    context, page = _new_page(browser, request, page_errors, {"width": 375, "height": 812})
    yield page
    context.close()
    page_errors.check()


@pytest.fixture
def shot(request):
    """shot(page, "step-name"): save a full-page screenshot of this step."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))

    def take(page, name: str) -> Path:
        path = folder / f"{next(counter):02d}-{name}.png"
        # caret="initial": hiding the caret would inject a <style> the CSP (rightly) refuses.
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take
