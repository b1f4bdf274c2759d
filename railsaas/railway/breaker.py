"""A circuit breaker shared by every process through Redis.

When Railway keeps failing (5xx, timeouts, refused connections, HTML error pages), hammering
it from every worker only spends the rate budget and ties up threads. After
`failure_threshold` consecutive failures (within `failure_window` seconds) the breaker opens:
every process fails fast with Unavailable for `reset_timeout` seconds. Then it is half-open:
exactly one caller (a Redis SET NX lock) is let through as a probe; its success closes the
breaker for everyone, its failure opens it again for another `reset_timeout`.

A success anywhere resets the failure count: some requests getting through means Railway is
up. A 429 or a GraphQL error is an answer, not a failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from railsaas.railway.errors import Unavailable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

_BEFORE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local open_until = tonumber(redis.call('GET', KEYS[1]))
if not open_until then return {'closed', '0'} end
if open_until > now then return {'open', tostring(open_until - now)} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {'probe', '0'} end
return {'open', ARGV[2]}
"""

_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if ARGV[4] == '1' or n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[3])))
  redis.call('DEL', KEYS[2])
  return 'open'
end
return 'closed'
"""


class CircuitBreaker:
    def __init__(
        self,
        redis,
        *,
        prefix: str = "railway",
        failure_threshold: int = 5,
        failure_window: float = 60.0,
        reset_timeout: float = 30.0,
        probe_timeout: float = 120.0,
    ) -> None:
        self.redis = redis
        self.failure_threshold = failure_threshold
        self.failure_window = failure_window
        self.reset_timeout = reset_timeout
        self.probe_timeout = probe_timeout  # a probe that never reports frees its slot then
        base = f"{prefix}:breaker"
        self.keys = [f"{base}:open_until", f"{base}:probe", f"{base}:failures"]
        self._before = redis.register_script(_BEFORE)
        self._failure = redis.register_script(_FAILURE)
        # Redis down: this process keeps its own breaker meanwhile.
        self._fallback = LocalCircuitBreaker(
            failure_threshold=failure_threshold,
            failure_window=failure_window,
            reset_timeout=reset_timeout,
            probe_timeout=probe_timeout,
        )

    def before(self, operation: str | None = None) -> bool:
        """Raise Unavailable while open; return True when this call is the half-open probe."""
        try:
            state, wait = self._before(
                keys=self.keys,
                args=[int(self.probe_timeout * 1000), repr(float(self.reset_timeout))],
            )
        except RedisError:
            return self._fallback.before(operation)
        if isinstance(state, bytes):
            state, wait = state.decode(), wait.decode()
        if state == "open":
            raise _open_error(operation, float(wait))
        return state == "probe"

    def success(self, probe: bool = False) -> None:
        self._fallback.success(probe)
        with contextlib.suppress(RedisError):
            self.redis.delete(*self.keys)

    def release_probe(self) -> None:
        """The probe never went out (say the rate budget said wait): let another one try."""
        self._fallback.release_probe()
        with contextlib.suppress(RedisError):
            self.redis.delete(self.keys[1])

    def failure(self, probe: bool = False) -> None:
        try:
            self._failure(
                keys=self.keys,
                args=[
                    self.failure_threshold,
                    int(self.failure_window * 1000),
                    repr(float(self.reset_timeout)),
                    "1" if probe else "0",
                ],
            )
        except RedisError:
            self._fallback.failure(probe)

    def state(self) -> str:
        open_until = self.redis.get(self.keys[0])
        if open_until is None:
            return CLOSED
        return OPEN if float(open_until) > time.time() else HALF_OPEN

    def clear(self) -> None:
        self.redis.delete(*self.keys)


def _open_error(operation: str | None, wait: float) -> Unavailable:
    return Unavailable(
        "Railway is failing; circuit breaker open, not sending",
        operation=operation,
        retry_after=max(wait, 0.0),
    )


class LocalCircuitBreaker:
    """The same breaker kept in this process only (scripts and tools without Redis)."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        failure_window: float = 60.0,
        reset_timeout: float = 30.0,
        probe_timeout: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.failure_window = failure_window
        self.reset_timeout = reset_timeout
        self.probe_timeout = probe_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: list[float] = []
        self._open_until: float | None = None
        self._probe_until = 0.0

    def before(self, operation: str | None = None) -> bool:
        with self._lock:
            now = self.clock()
            if self._open_until is None:
                return False
            if self._open_until > now:
                raise _open_error(operation, self._open_until - now)
            if self._probe_until > now:
                raise _open_error(operation, self.reset_timeout)
            self._probe_until = now + self.probe_timeout
            return True

    def success(self, probe: bool = False) -> None:
        with self._lock:
            self._failures.clear()
            self._open_until = None
            self._probe_until = 0.0

    def release_probe(self) -> None:
        with self._lock:
            self._probe_until = 0.0

    def failure(self, probe: bool = False) -> None:
        with self._lock:
            now = self.clock()
            self._failures = [t for t in self._failures if t > now - self.failure_window]
            self._failures.append(now)
            if probe or len(self._failures) >= self.failure_threshold:
                self._open_until = now + self.reset_timeout
                self._probe_until = 0.0

    def state(self) -> str:
        with self._lock:
            if self._open_until is None:
                return CLOSED
            return OPEN if self._open_until > self.clock() else HALF_OPEN

    def clear(self) -> None:
        self.success()
