"""Where the admin's business metrics read from: a read replica when REPORTING_DATABASE_URL
is set (their set-based queries scan whole tables; a replica keeps that load off the
primary), the request's own session otherwise. Row-level security applies on the replica
too: REPORTING_DATABASE_URL names the admin login (docs/security.md), whose policies let it
read every workspace."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from flask import current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from railsaas.db import TenantContext, make_engine, set_context
from railsaas.extensions import db

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _engine(url: str) -> Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url, pool_size=2)
        return engine


@contextlib.contextmanager
def session() -> Iterator[Session]:
    url = current_app.config.get("REPORTING_DATABASE_URL") or ""
    if not url:
        yield db.session
        return
    s = Session(bind=_engine(url))
    user = g.get("user")
    set_context(s, TenantContext(user_id=user.id if user else None, role="platform_admin"))
    try:
        yield s
    finally:
        s.close()
