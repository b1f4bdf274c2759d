"""A per-instance lock, so two steps of one instance never talk to Railway at once.

A Redis key `instance-lock:<instance id>` set with NX, taken without waiting: when another
step holds it, `StepDeferred` tells the task to retry soon. It lives LOCK_TTL_MS unless its
holder renews it (every third of that, from a thread), so a worker killed mid-step (SIGKILL,
out of memory) leaves the instance locked for seconds, not minutes: when the broker hands
the step to another worker, it can run. When Redis is unavailable the step runs without
the lock (a warning is logged).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid

import redis

from railsaas.extensions import redis_client

log = logging.getLogger(__name__)

LOCK_TTL_MS = 10_000
_RENEW = """if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"""
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1]) else return 0 end"""


class StepDeferred(Exception):
    """The step cannot run now (another step of the instance holds its lock); retry soon."""


class InstanceLock:
    """`with InstanceLock(instance_id):` holds the instance's lock, or raises StepDeferred."""

    def __init__(self, instance_id: uuid.UUID) -> None:
        self.key = f"instance-lock:{instance_id}"
        self.token = uuid.uuid4().hex
        self._redis: redis.Redis | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self):
        try:
            r = redis_client()
            if not r.set(self.key, self.token, nx=True, px=LOCK_TTL_MS):
                raise StepDeferred(str(self.key))
        except redis.RedisError:
            log.warning("instance lock unavailable; running without it")
            return self
        self._redis = r
        self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.key}",
                                         daemon=True)
        self._renewer.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(LOCK_TTL_MS / 3000):
            try:
                if not self._redis.eval(_RENEW, 1, self.key, self.token, LOCK_TTL_MS):
                    log.warning("instance lock %s lost while held", self.key)
                    return
            except redis.RedisError:
                pass  # Redis is away: try again at the next beat

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self._redis is not None:
            with contextlib.suppress(redis.RedisError):
                self._redis.eval(_RELEASE, 1, self.key, self.token)
