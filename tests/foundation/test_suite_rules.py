"""Rules of the test suite itself (tests/support/__init__.py says why)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _sources():
    return [p for p in TESTS.rglob("*.py") if p.name != "test_suite_rules.py"]


def test_no_module_imports_from_a_conftest():
    offenders = [
        str(p.relative_to(TESTS))
        for p in _sources()
        if re.search(r"^\s*from tests(\.\w+)*\.conftest import", p.read_text(), re.M)
    ]
    assert offenders == [], "move shared helpers to tests/support/"


def test_polling_goes_through_wait_until():
    offenders = [
        str(p.relative_to(TESTS))
        for p in _sources()
        if p.parent.name != "support"
        and re.search(r"deadline = time\.monotonic\(\)", p.read_text())
    ]
    assert offenders == [], "use tests.support.wait_until"
