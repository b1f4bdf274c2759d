"""One way to ask "are you sure?": `data-confirm`, which app.js answers with its accessible
<dialog>. htmx's `hx-confirm` and the browser's `window.confirm` would be a second and third
look (and hx-confirm skips the dialog), so no template or script uses them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "railsaas"


def test_no_template_uses_hx_confirm_or_window_confirm():
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        if re.search(r"hx-confirm|window\.confirm|onclick", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_app_js_asks_with_its_own_dialog_only():
    script = (ROOT / "static" / "js" / "app.js").read_text()
    assert "window.confirm(" not in script
    assert "htmx:confirm" in script  # htmx requests wait for the same dialog
    assert "showModal()" in script


def test_confirmations_are_still_asked_where_they_were():
    templates = " ".join(p.read_text() for p in (ROOT / "templates").rglob("*.html"))
    # Stopping an instance, suspending a user, leaving a workspace, revoking a token (macro).
    for question in ("Stop {{ inst.name }}?", "Suspend {{ person.email }}?", "Leave {{"):
        assert question in templates
    assert 'data-confirm="{{ confirm }}"' in templates
