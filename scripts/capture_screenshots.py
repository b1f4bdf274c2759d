"""Capture the README's screenshots from a running `make dev` (seeded demo data).

    make dev                                      # in another terminal
    .venv/bin/python scripts/capture_screenshots.py [http://localhost:5000]

Writes docs/screenshots/*.png at desktop width with Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CUSTOMER = ("demo@railsaas.local", "demo-password-123")
ADMIN = ("admin@railsaas.local", "admin-demo-password")


def log_in(page, base: str, who: tuple[str, str]) -> None:
    page.goto(base + "/login")
    page.fill("#email", who[0])
    page.fill("#password", who[1])
    page.press("#password", "Enter")
    page.wait_for_url("**/dashboard")


def snap(page, name: str, full: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full, caret="initial")
    print("wrote", OUT / f"{name}.png")


def main(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(base + "/")
        snap(page, "landing")
        log_in(page, base, CUSTOMER)
        page.goto(base + "/templates/")
        snap(page, "catalog")
        page.goto(base + "/templates/?q=ghost")  # no required settings: deploys as it stands
        page.get_by_role("button", name="Deploy").first.click()
        dialog = page.locator("dialog[data-modal]")
        dialog.wait_for()
        snap(page, "deploy-dialog")
        # Deploy one app (on the Railway emulator) and wait for it to run, without reloading.
        dialog.locator('input[name="name"]').fill(f"demo-{int(time.time()) % 100000}")
        dialog.get_by_role("button", name="Deploy").click()
        page.wait_for_url("**/instances/*")
        page.locator("h1 + [data-testid=status]").filter(has_text="Running").wait_for(
            timeout=120_000
        )
        snap(page, "instance")
        page.get_by_role("link", name="Logs").click()
        page.locator(".log-line").first.wait_for()
        time.sleep(3)  # a few more lines stream in
        snap(page, "logs")
        page.goto(base + "/instances/")
        snap(page, "instances")
        page.goto(base + "/dashboard")
        snap(page, "dashboard")
        page.goto(base + "/billing")
        snap(page, "billing")
        page.goto(base + "/members")
        snap(page, "members")
        context.clear_cookies()
        log_in(page, base, ADMIN)
        page.goto(base + "/admin/metrics")
        snap(page, "admin-metrics")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:5000")
