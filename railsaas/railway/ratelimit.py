"""One request budget for every process that talks to Railway, kept in Redis.

Railway limits a token per hour (Hobby 1,000, Pro 10,000) and per second (Hobby 10, Pro 50)
and says how much is left in `X-RateLimit-Remaining` / `X-RateLimit-Reset`. Web workers,
Celery workers and beat all spend the same budget, so it lives in Redis:

- two sliding-window logs (sorted sets of request times): the last second and the last hour,
  paced to the plan's limits, so no window of either length ever holds more than the limit;
- what the server last said (remaining, reset time): when it says 0 is left, everyone waits
  for the reset, and each request spent since counts down the remainder;
- a "blocked until" time set by a 429's Retry-After, honoured by every process.

All checks and the spend happen in one Lua script, so concurrent processes cannot both take
the last slot. The clock is Redis's own (TIME), so hosts with skewed clocks agree.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from redis.exceptions import RedisError

from railsaas.railway.errors import RateLimited

log = logging.getLogger("railsaas.railway")


@dataclass(frozen=True)
class RateLimits:
    per_hour: int
    per_second: int


# Railway's published limits (docs, integrations/api). Free has no per-second figure.
PLAN_LIMITS = {
    "free": RateLimits(per_hour=100, per_second=10),
    "hobby": RateLimits(per_hour=1_000, per_second=10),
    "pro": RateLimits(per_hour=10_000, per_second=50),
}


def limits_for(
    plan: str, per_hour: str | int | None = None, per_second: str | int | None = None
) -> RateLimits:
    """The plan's limits, with explicit overrides (empty strings mean "no override")."""
    base = PLAN_LIMITS.get((plan or "pro").strip().lower())
    if base is None:
        raise ValueError(f"unknown Railway plan {plan!r}; expected one of {sorted(PLAN_LIMITS)}")
    hour = int(per_hour) if per_hour not in (None, "") else base.per_hour
    sec = int(per_second) if per_second not in (None, "") else base.per_second
    if hour < 1 or sec < 1:
        raise ValueError("Railway rate limits must be positive")
    return RateLimits(per_hour=hour, per_second=sec)


def parse_reset(value: str | None, now: float) -> float | None:
    """X-RateLimit-Reset -> epoch seconds. Its format is undocumented, so accept epoch
    seconds, epoch milliseconds, seconds from now, an ISO 8601 date or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number > 1e12:
            return number / 1000.0
        if number > 1e9:
            return number
        return now + max(number, 0.0)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_retry_after(value: str | None, now: float, default: float = 1.0) -> float:
    """Retry-After in seconds (Railway sends an integer; an HTTP date is also legal)."""
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
        except (TypeError, ValueError):
            return default


_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local reserve = tonumber(ARGV[4])
local per_sec = math.max(math.floor(tonumber(ARGV[1]) * (1 - reserve)), 1)
local per_hour = math.max(math.floor(tonumber(ARGV[2]) * (1 - reserve)), 1)
local held_back = tonumber(ARGV[2]) - per_hour
local blocked = tonumber(redis.call('GET', KEYS[4]))
if blocked and blocked > now then return {'wait', tostring(blocked - now), 'blocked'} end
local srv = redis.call('HMGET', KEYS[3], 'remaining', 'reset_at')
local remaining = tonumber(srv[1])
local reset_at = tonumber(srv[2])
local srv_live = remaining and reset_at and reset_at > now
if srv_live and remaining <= held_back then
  return {'wait', tostring(reset_at - now), 'server'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1)
if redis.call('ZCARD', KEYS[1]) >= per_sec then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'wait', tostring(tonumber(oldest[2]) + 1 - now), 'second'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600)
if redis.call('ZCARD', KEYS[2]) >= per_hour then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'wait', tostring(tonumber(oldest[2]) + 3600 - now), 'hour'}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2000)
redis.call('PEXPIRE', KEYS[2], 3601000)
if srv_live then redis.call('HINCRBY', KEYS[3], 'remaining', -1) end
return {'ok', '0', ''}
"""

# Responses arrive out of order from many processes: within one server window keep the
# lowest remaining seen; a later reset time starts a new window; an older one is stale.
_OBSERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local remaining = tonumber(ARGV[1])
local reset_at = tonumber(ARGV[2])
local cur = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at')
local cur_remaining = tonumber(cur[1])
local cur_reset = tonumber(cur[2])
if (not cur_reset) or cur_reset <= now or reset_at > cur_reset + 1 then
  redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', tostring(reset_at))
elseif math.abs(reset_at - cur_reset) <= 1 then
  if (not cur_remaining) or remaining < cur_remaining then
    redis.call('HSET', KEYS[1], 'remaining', remaining)
  end
end
local ttl = math.ceil(math.max(reset_at - now, 1)) + 5
redis.call('EXPIRE', KEYS[1], ttl)
return 1
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]))
if (not cur) or untl > cur then
  redis.call('SET', KEYS[1], tostring(untl), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""


class RateBudget:
    """The shared budget. `acquire` before every request, `observe` every response's
    headers, `block` on a 429."""

    def __init__(
        self,
        redis,
        limits: RateLimits,
        *,
        prefix: str = "railway",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.limits = limits
        self.sleep = sleep
        # Redis down: keep pacing this process alone rather than stop talking to Railway.
        self._fallback = LocalRateBudget(limits, sleep=sleep)
        self._warned_at = 0.0
        base = f"{prefix}:rate"
        self.keys = [f"{base}:sec", f"{base}:hour", f"{base}:server", f"{base}:blocked"]
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)
        self._block = redis.register_script(_BLOCK)

    def _redis_down(self, exc: Exception) -> None:
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning(
                "Railway rate budget: Redis unavailable (%s); pacing this process on its own",
                type(exc).__name__,
            )

    def _try(self, reserve: float = 0.0) -> tuple[float, str]:
        try:
            verdict, wait, reason = self._acquire(
                keys=self.keys,
                args=[
                    self.limits.per_second,
                    self.limits.per_hour,
                    uuid.uuid4().hex,
                    repr(float(reserve)),
                ],
            )
        except RedisError as exc:
            self._redis_down(exc)
            return self._fallback._try(reserve)
        if isinstance(verdict, bytes):
            verdict, wait, reason = verdict.decode(), wait.decode(), reason.decode()
        return (0.0, "") if verdict == "ok" else (max(float(wait), 0.001), reason)

    def acquire(self, max_wait: float, reserve: float = 0.0) -> float:
        """Take one request from the budget, sleeping while it is spent for at most
        `max_wait` seconds in all; past that raise RateLimited with the wait still ahead.
        `reserve` (a share, 0..1) leaves that part of the budget to others: web reads pass
        one so deploys and polls always find room. Returns the seconds slept."""
        return _acquire_loop(lambda: self._try(reserve), self.sleep, max_wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("x-ratelimit-remaining")
        reset_at = parse_reset(headers.get("x-ratelimit-reset"), time.time())
        if remaining is None or reset_at is None:
            return
        try:
            left = int(float(remaining))
        except ValueError:
            return
        try:
            self._observe(keys=[self.keys[2]], args=[left, repr(reset_at)])
        except RedisError as exc:
            self._redis_down(exc)
            self._fallback.observe(headers)

    def block(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            self._block(keys=[self.keys[3]], args=[repr(float(seconds))])
        except RedisError as exc:
            self._redis_down(exc)
            self._fallback.block(seconds)

    def snapshot(self) -> dict:
        """For dashboards: requests spent in the last second and hour, what the server last
        said, and how long everyone is blocked."""
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.zcount(self.keys[0], now - 1, "+inf")
        pipe.zcount(self.keys[1], now - 3600, "+inf")
        pipe.hgetall(self.keys[2])
        pipe.get(self.keys[3])
        last_second, last_hour, server, blocked = pipe.execute()
        server = {
            (k.decode() if isinstance(k, bytes) else k): float(v) for k, v in (server or {}).items()
        }
        blocked_for = max(float(blocked) - now, 0.0) if blocked else 0.0
        return {
            "per_second": self.limits.per_second,
            "per_hour": self.limits.per_hour,
            "last_second": last_second,
            "last_hour": last_hour,
            "server_remaining": server.get("remaining"),
            "server_reset_at": server.get("reset_at"),
            "blocked_for": blocked_for,
        }

    def clear(self) -> None:
        self.redis.delete(*self.keys)


def _acquire_loop(
    attempt: Callable[[], tuple[float, str]], sleep: Callable[[float], None], max_wait: float
) -> float:
    waited = 0.0
    while True:
        wait, reason = attempt()
        if wait <= 0:
            return waited
        if waited + wait > max_wait:
            raise RateLimited(
                f"Railway request budget spent ({reason} limit); retry in {math.ceil(wait)} s",
                retry_after=wait,
            )
        sleep(wait)
        waited += wait


class LocalRateBudget:
    """The same budget kept in this process only (scripts and tools without Redis)."""

    def __init__(
        self,
        limits: RateLimits,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()
        self._second: deque[float] = deque()
        self._hour: deque[float] = deque()
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._blocked_until = 0.0

    def _try(self, reserve: float = 0.0) -> tuple[float, str]:
        per_second = max(math.floor(self.limits.per_second * (1 - reserve)), 1)
        per_hour = max(math.floor(self.limits.per_hour * (1 - reserve)), 1)
        with self._lock:
            now = self.clock()
            if self._blocked_until > now:
                return self._blocked_until - now, "blocked"
            live = self._remaining is not None and self._reset_at and self._reset_at > now
            if live and self._remaining <= self.limits.per_hour - per_hour:
                return self._reset_at - now, "server"
            for log, span, limit, reason in (
                (self._second, 1, per_second, "second"),
                (self._hour, 3600, per_hour, "hour"),
            ):
                while log and log[0] <= now - span:
                    log.popleft()
                if len(log) >= limit:
                    return log[0] + span - now, reason
            self._second.append(now)
            self._hour.append(now)
            if live:
                self._remaining -= 1
            return 0.0, ""

    def acquire(self, max_wait: float, reserve: float = 0.0) -> float:
        return _acquire_loop(lambda: self._try(reserve), self.sleep, max_wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        now = self.clock()
        reset_at = parse_reset(headers.get("x-ratelimit-reset"), now)
        try:
            left = int(float(headers.get("x-ratelimit-remaining", "")))
        except ValueError:
            return
        if reset_at is None:
            return
        with self._lock:
            if self._reset_at is None or self._reset_at <= now or reset_at > self._reset_at + 1:
                self._remaining, self._reset_at = left, reset_at
            elif abs(reset_at - self._reset_at) <= 1:
                self._remaining = min(
                    self._remaining if self._remaining is not None else left, left
                )

    def block(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    def snapshot(self) -> dict:
        now = self.clock()
        with self._lock:
            return {
                "per_second": self.limits.per_second,
                "per_hour": self.limits.per_hour,
                "last_second": sum(1 for t in self._second if t > now - 1),
                "last_hour": sum(1 for t in self._hour if t > now - 3600),
                "server_remaining": self._remaining,
                "server_reset_at": self._reset_at,
                "blocked_for": max(self._blocked_until - now, 0.0),
            }

    def clear(self) -> None:
        with self._lock:
            self._second.clear()
            self._hour.clear()
            self._remaining = self._reset_at = None
            self._blocked_until = 0.0
