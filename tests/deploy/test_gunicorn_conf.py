"""gunicorn.conf.py: what each web worker does once the app is loaded."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_a_worker_freezes_the_loaded_app_out_of_the_garbage_collectors_walks():
    hooks = runpy.run_path(str(CONF))
    before = gc.get_freeze_count()
    try:
        hooks["post_worker_init"](None)
        frozen = gc.get_freeze_count()
        assert frozen > before
        # Everything alive at that moment is left out of later collections' walks.
        assert len(gc.get_objects()) < frozen // 10
    finally:
        gc.unfreeze()
