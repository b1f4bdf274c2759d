"""Plan limits and the rate-limit header formats the budget accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from railsaas.railway.errors import RateLimited
from railsaas.railway.ratelimit import (
    LocalRateBudget,
    RateLimits,
    limits_for,
    parse_reset,
    parse_retry_after,
)

NOW = 1_780_000_000.0


def test_plans_have_railways_published_limits_and_overrides_win():
    assert limits_for("hobby") == RateLimits(per_hour=1_000, per_second=10)
    assert limits_for("PRO") == RateLimits(per_hour=10_000, per_second=50)
    assert limits_for("pro", "", "") == RateLimits(per_hour=10_000, per_second=50)
    assert limits_for("hobby", "500", 5) == RateLimits(per_hour=500, per_second=5)
    with pytest.raises(ValueError, match="unknown Railway plan"):
        limits_for("platinum")
    with pytest.raises(ValueError, match="positive"):
        limits_for("pro", 0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1780003600", 1780003600.0),  # epoch seconds
        ("1780003600000", 1780003600.0),  # epoch milliseconds
        ("120", NOW + 120),  # seconds from now
        ("2026-05-28T21:06:40Z", datetime(2026, 5, 28, 21, 6, 40, tzinfo=UTC).timestamp()),
        ("Thu, 28 May 2026 21:06:40 GMT", datetime(2026, 5, 28, 21, 6, 40, tzinfo=UTC).timestamp()),
        ("soon", None),
        (None, None),
    ],
)
def test_reset_header_formats(header, expected):
    assert parse_reset(header, NOW) == expected


def test_retry_after_is_seconds_or_a_date():
    assert parse_retry_after("7", NOW) == 7
    assert parse_retry_after(None, NOW) == 1.0
    assert parse_retry_after("Thu, 01 Jan 2099 00:00:00 GMT", NOW) > 0


def test_the_local_budget_paces_and_obeys_the_server():
    clock = [NOW]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        clock[0] += s

    budget = LocalRateBudget(
        RateLimits(per_hour=100, per_second=2), sleep=sleep, clock=lambda: clock[0]
    )
    for _ in range(3):
        budget.acquire(max_wait=5)
    assert slept == [pytest.approx(1.0)]  # the third waited for the second to pass
    budget.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 60)})
    with pytest.raises(RateLimited) as err:
        budget.acquire(max_wait=5)
    assert err.value.retry_after == pytest.approx(59, abs=1)
    budget.clear()
    budget.block(3)
    budget.acquire(max_wait=5)
    assert slept[-1] == pytest.approx(3)
