"""A per-instance lock, so two steps of one instance never talk to Railway at once.

redis-py's `Lock` under `instance-lock:<instance id>`, taken without waiting: when another
step holds it, `StepDeferred` tells the task to retry soon. It lives LOCK_TTL_SECONDS unless
its holder renews it (every third of that, from a daemon thread), so a worker killed
mid-step (SIGKILL, out of memory) leaves the instance locked for seconds, not minutes: when
the broker hands the step to another worker, it can run. When Redis is unavailable the step
runs without the lock (a warning is logged): steps are idempotent, the lock only keeps two
of them from interleaving.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid

from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.lock import Lock

from railsaas.extensions import redis_client

log = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 10


class StepDeferred(Exception):
    """The step cannot run now (another step of the instance holds its lock); retry soon."""


class InstanceLock:
    """`with InstanceLock(instance_id):` holds the instance's lock, or raises StepDeferred."""

    def __init__(self, instance_id: uuid.UUID) -> None:
        self.key = f"instance-lock:{instance_id}"
        self._lock: Lock | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> InstanceLock:
        try:
            # Not thread-local: the renewal thread must see the token the step acquired.
            lock = redis_client().lock(
                self.key, timeout=LOCK_TTL_SECONDS, blocking=False, thread_local=False
            )
            acquired = lock.acquire()
        except RedisError:
            log.warning("instance lock unavailable; running without it")
            return self
        if not acquired:
            raise StepDeferred(self.key)
        self._lock = lock
        self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.key}", daemon=True)
        self._renewer.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(LOCK_TTL_SECONDS / 3):
            try:
                self._lock.reacquire()  # the TTL starts again from now
            except LockNotOwnedError:
                log.warning("instance lock %s lost while held", self.key)
                return
            except RedisError:
                pass  # Redis is away: try again at the next beat

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self._lock is not None:
            with contextlib.suppress(LockError, RedisError):  # expired, or Redis is away
                self._lock.release()
