"""PostgreSQL drops the app's connections (pg_terminate_backend, as a failover, a restart
or an idle-connection reaper would): requests caught in the middle fail cleanly (an error
page or a JSON error, promptly, and nothing half-written), and the next ones succeed, in
the web processes and the worker alike, with no restart.

Two deploys (the form and the API) are held inside their transactions when every
connection of the app role is terminated: the first has written its instance and its step
and waits for the `outbox` table (locked by the owner), the second waits for the workspace
row the first one locked.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from railsaas import dbadmin
from tests.resilience.processes import MiniBeat
from tests.support import wait_until
from tests.support.lifecycle import Lifecycle
from tests.support.resilience import Browser, deploying_workspace, session_cookie

TABLES = ("instances", "deployments", "outbox", "audit_log")
PAGES = ("/dashboard", "/instances/", "/instances/status", "/templates/")


def _app_backends(admin) -> set[int]:
    with admin.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE usename = ANY(:role) "
                    "AND datname = current_database()"
                ),
                {"role": _app_role()},
            ).scalars()
        )


def _app_role() -> list[str]:
    """Every login of the app (web, admin, system: railsaas.db): the worker's deploy steps
    connect as the system login, the web's requests as the web login."""
    from flask import current_app

    return [current_app.config[k] for k in ("APP_DB_USER", "ADMIN_DB_USER", "SYSTEM_DB_USER")]


def _may_terminate(admin) -> bool:
    with admin.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') "
                    "FROM pg_roles WHERE rolname = current_user"
                )
            ).scalar()
        )


def _waiting_on_lock(admin) -> int:
    with admin.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = ANY(:role) "
                "AND datname = current_database() AND wait_event_type = 'Lock'"
            ),
            {"role": _app_role()},
        ).scalar()


def _counts(admin) -> dict[str, int]:
    with admin.connect() as conn:
        return {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()  # noqa: S608
            for t in TABLES
        }


def test_dropped_database_connections_fail_requests_cleanly_then_recover(
    app_ctx, committed_factory, railway_emulator, stack, servers
):
    user, tenant, token, template = deploying_workspace(
        committed_factory, railway_emulator, ["deploy"]
    )
    lc = Lifecycle(
        app=app_ctx,
        emulator=railway_emulator,
        factory=committed_factory,
        user=user,
        tenant=tenant,
        template=template,
        browser=None,
    )
    cookie = session_cookie(app_ctx, user, tenant.id)
    browser = Browser(stack.url, cookie)
    api = httpx.Client(
        base_url=stack.url, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )
    admin = dbadmin.admin_engine(servers.database_url)
    if not _may_terminate(admin):
        admin.dispose()
        pytest.skip(
            "the test database's admin role may not end other sessions "
            "(superuser or pg_signal_backend needed)"
        )
    pool = ThreadPoolExecutor(16)

    def burst() -> list[int]:
        """Concurrent page loads: every web process and thread takes a pooled connection."""

        def one(path: str) -> int:
            b = Browser(stack.url, cookie)
            try:
                return b.get(path).status_code
            finally:
                b.close()

        return list(pool.map(one, PAGES * 4))

    try:
        assert burst() == [200] * len(PAGES) * 4
        before = _app_backends(admin)
        assert before  # the app holds connections: there is something to drop
        rows = _counts(admin)
        csrf = browser.csrf()

        with admin.connect() as locker:
            held = locker.begin()
            locker.execute(text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))
            page = pool.submit(
                browser.post,
                f"/templates/{template.id}/deploy",
                data={"name": "doomed"},
                headers={"HX-Request": "true", "X-CSRFToken": csrf},
            )
            call = pool.submit(
                api.post,
                "/api/instances",
                json={"template_id": str(template.id), "name": "doomed-api"},
            )
            wait_until(
                lambda: _waiting_on_lock(admin) >= 2,
                message="both deploys waiting on the outbox lock",
                timeout=120,
                interval=0.5,
            )
            with admin.connect() as conn:
                killed = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE usename = ANY(:role) AND datname = current_database()"
                    ),
                    {"role": _app_role()},
                ).scalar()
            held.rollback()
        assert killed >= 2

        # Caught in the middle: a prompt, clean 503, for a person (the app's error page) and
        # for a program (the API's JSON error).
        form = page.result(timeout=120)
        assert form.status_code == 503, form.text[:500]
        assert "briefly unavailable" in form.text
        assert 'data-testid="workspace-name"' not in form.text  # drawn as for a visitor
        answer = call.result(timeout=120)
        assert answer.status_code == 503, answer.text[:500]
        assert answer.json()["error"]["code"] == "unavailable"
        # Nothing half-written: no instance, step, outbox row or audit entry.
        assert _counts(admin) == rows

        # The next requests succeed, on fresh connections (pool_pre_ping).
        assert burst() == [200] * len(PAGES) * 4
        assert api.get("/api/instances").status_code == 200
        assert not _app_backends(admin) & before, "a terminated connection still listed"

        # The worker: a deploy step caught in its transaction by the drop is retried, and
        # the deploy completes. The worker is paused while the deploy is asked for, so the
        # owner can lock the new instance's row before the step reaches for it.
        with MiniBeat(stack.redis.url):
            stack.worker.pause()
            try:
                resp = browser.deploy(template.id, "after")
                assert resp.status_code == 204, resp.text
                iid = resp.headers["HX-Redirect"].rsplit("/", 1)[1]
                locker = admin.connect()
                held = locker.begin()
                locker.execute(
                    text("SELECT 1 FROM instances WHERE id = :id FOR UPDATE"), {"id": iid}
                )
            finally:
                stack.worker.resume()
            try:
                wait_until(
                    lambda: _waiting_on_lock(admin) >= 1,
                    message="the deploy step waiting on the instance row",
                    timeout=120,
                    interval=0.5,
                )
                with admin.connect() as conn:
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE usename = ANY(:role) AND datname = current_database()"
                        ),
                        {"role": _app_role()},
                    )
            finally:
                held.rollback()
                locker.close()
            wait_until(
                lambda: lc.instance(iid).status in ("running", "failed"),
                message="the deploy caught by the drop settled",
                timeout=180,
                interval=0.5,
                alive=(stack.web, stack.worker),
            )
        inst = lc.instance(iid)
        assert inst.status == "running", (inst.status_reason, stack.worker.tail())
        assert lc.steps(iid) == [("deploy", "succeeded")]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        browser.close()
        api.close()
        admin.dispose()
