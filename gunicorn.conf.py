"""gunicorn settings read from the working directory (`gunicorn wsgi:app` finds this file).

Prometheus multiprocess mode (PROMETHEUS_MULTIPROC_DIR set): samples from a previous run are
cleared at start, and a worker that exits is marked dead so its live gauges stop counting.
Requests are logged by the app itself (JSON, with request ids, secrets redacted), so
gunicorn's own access log stays off.
"""

import gc
import os
from pathlib import Path

from prometheus_client import multiprocess


def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # The loaded app is ~185,000 objects that live as long as the worker: a full garbage
    # collection walked them all (~100 ms on an idle core, more under load), freezing every
    # thread of the worker mid-request; that was the paced p99 of docs/benchmarks.md.
    # Frozen, they are skipped: a full collection only walks what requests allocate.
    gc.collect()
    gc.freeze()
