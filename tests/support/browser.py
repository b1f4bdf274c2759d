"""Helpers for tests/browser (test modules import them from here, not from a conftest)."""

from __future__ import annotations


def assert_no_horizontal_scroll(page) -> None:
    """At phone width nothing may force the page wider than the screen."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"page is {overflow}px wider than the viewport"
