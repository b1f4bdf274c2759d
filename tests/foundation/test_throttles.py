"""The throttle module (railsaas.platform.throttles) on its own: counting, checking,
clearing, the wait, a limit turned off, per-UTC-day counts, and failing open without Redis."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from railsaas.platform import throttles
from railsaas.platform.throttles import Limit

THREE_A_MINUTE = Limit("test:three", lambda c: 3, lambda c: 60)
OFF = Limit("test:off", lambda c: 0, lambda c: 60)
DAILY = Limit("test:daily", lambda c: 1, lambda c: 86400, per_utc_day=True)


@pytest.fixture
def ctx(app_ctx, redis_conn):
    redis_conn.forget("throttle:test:*")
    yield app_ctx
    redis_conn.forget("throttle:test:*")


def test_hit_counts_to_the_amount_and_test_counts_nothing(ctx):
    assert [throttles.hit(THREE_A_MINUTE, "a") for _ in range(4)] == [True, True, True, False]
    assert throttles.test(THREE_A_MINUTE, "a") is False
    assert throttles.test(THREE_A_MINUTE, "b") is True
    assert throttles.test(THREE_A_MINUTE, "b") is True  # checking is free
    assert 55 <= throttles.reset_after(THREE_A_MINUTE, "a") <= 60
    throttles.clear(THREE_A_MINUTE, "a")
    assert throttles.hit(THREE_A_MINUTE, "a") is True


def test_take_reports_the_window(ctx):
    first = throttles.take(THREE_A_MINUTE, "w")
    assert (first.limit, first.remaining, first.exceeded) == (3, 2, False)
    assert 1 <= first.reset <= 60
    for _ in range(2):
        throttles.take(THREE_A_MINUTE, "w")
    over = throttles.take(THREE_A_MINUTE, "w")
    assert (over.remaining, over.exceeded) == (0, True)


def test_an_amount_of_zero_turns_a_limit_off(ctx, redis_conn):
    assert all(throttles.hit(OFF, "x") for _ in range(5))
    assert throttles.take(OFF, "x") is None
    assert not list(redis_conn.scan_iter("throttle:test:off*"))


def test_a_daily_limit_counts_per_utc_day_and_waits_for_midnight(ctx, redis_conn):
    assert throttles.hit(DAILY, "ws") is True
    assert throttles.hit(DAILY, "ws") is False
    today = f"{datetime.now(UTC):%Y%m%d}"
    assert [k for k in redis_conn.scan_iter("throttle:test:daily/*") if f"/ws/{today}/" in k]
    now = datetime.now(UTC)
    to_midnight = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert abs(throttles.reset_after(DAILY, "ws") - to_midnight) <= 2


def test_without_redis_every_throttle_fails_open_and_says_so(ctx, caplog):
    ctx.config["REDIS_URL"], saved = "redis://127.0.0.1:1/0", ctx.config["REDIS_URL"]
    try:
        with caplog.at_level(logging.WARNING, logger="railsaas.platform.throttles"):
            assert all(throttles.hit(THREE_A_MINUTE, "down") for _ in range(5))
            assert throttles.test(THREE_A_MINUTE, "down") is True
            assert throttles.take(THREE_A_MINUTE, "down") is None
            throttles.clear(THREE_A_MINUTE, "down")
            assert throttles.reset_after(THREE_A_MINUTE, "down") == 0
    finally:
        ctx.config["REDIS_URL"] = saved
    assert any("redis unavailable: test:three throttle" in r.getMessage() for r in caplog.records)
