"""gunicorn settings read from the working directory (`gunicorn wsgi:app` finds this file).

Prometheus multiprocess mode (PROMETHEUS_MULTIPROC_DIR set): samples from a previous run are
cleared at start, and a worker that exits is marked dead so its live gauges stop counting.
Requests are logged by the app itself (JSON, with request ids, secrets redacted), so
gunicorn's own access log stays off.
"""

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
