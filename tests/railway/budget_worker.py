"""Run in a separate process by the shared-budget test: spends the shared Redis budget."""

from __future__ import annotations

import time


def spend(
    redis_url: str,
    api_url: str,
    token: str,
    start_at: float,
    count: int,
    per_second: int,
    per_hour: int,
    max_wait: float,
    results,
) -> None:
    import redis

    from railsaas.railway import RailwayClient, RateLimited

    r = redis.Redis.from_url(redis_url, decode_responses=True)
    client = RailwayClient(
        api_url=api_url,
        token=token,
        redis=r,
        rate_per_second=per_second,
        rate_per_hour=per_hour,
        max_rate_wait=max_wait,
    )
    time.sleep(max(0.0, start_at - time.time()))  # both processes start together
    ok = limited = 0
    for _ in range(count):
        try:
            client.template("redis")
            ok += 1
        except RateLimited:
            limited += 1
    results.put((ok, limited, time.time()))
    client.close()
    r.close()
