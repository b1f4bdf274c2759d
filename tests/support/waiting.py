"""The one polling loop of the suite: wait for a positive signal, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float = 60.0,
    interval: float = 0.1,
    message: str = "the condition",
    alive: Iterable[Any] = (),
) -> T:
    """Call `predicate()` until it returns something truthy, and return that. Timeouts are
    generous (the machine may be loaded): a passing run returns as soon as it holds, and
    this is about whether it happens, not how fast. Fails at once if one of the `alive`
    processes (anything with `.alive()`, `.name` and `.tail()`) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for proc in alive:
            if not proc.alive():
                raise AssertionError(
                    f"{proc.name} exited while waiting for {message}\n{proc.tail()}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)
