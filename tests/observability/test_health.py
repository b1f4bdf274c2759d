"""/healthz says the process is up; /readyz says whether the database, Redis and the broker
answer, and is 503 while one does not."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from devtools.embedded import free_port


def test_healthz_answers_while_the_process_is_up(app):
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok"}
    assert resp.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_when_database_redis_and_broker_answer(app):
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "ready"
    assert set(resp.json["checks"]) == {"database", "redis", "broker"}
    assert all(c["ok"] for c in resp.json["checks"].values())


@pytest.fixture
def as_owner(servers):
    """Run statements as the database administrator (to take the database away)."""
    from railsaas import dbadmin

    engine = dbadmin.admin_engine(servers.database_url, isolation_level="AUTOCOMMIT")

    def run(sql: str, **params) -> None:
        with engine.connect() as conn:
            conn.execute(text(sql), params)

    yield run
    engine.dispose()


@pytest.fixture
def database_down(app, as_owner):
    """The app role can neither keep nor open a connection: the database is gone for it."""
    role = app.config["APP_DB_USER"]
    as_owner(f'ALTER ROLE "{role}" NOLOGIN')
    as_owner("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r", r=role)
    try:
        yield
    finally:
        as_owner(f'ALTER ROLE "{role}" LOGIN')


# The app login is switched off cluster-wide: not beside other suites or xdist workers.
@pytest.mark.resilience
def test_readyz_fails_while_the_database_is_down(app, database_down):
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["status"] == "unavailable"
    checks = resp.json["checks"]
    assert checks["database"]["ok"] is False
    assert checks["redis"]["ok"] is True
    # Only the exception's class: a message could carry a URL with a password in it.
    assert "postgresql" not in resp.get_data(as_text=True)


# The app login is switched off cluster-wide: not beside other suites or xdist workers.
@pytest.mark.resilience
def test_readyz_recovers_when_the_database_is_back(app, database_down, as_owner):
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    as_owner(f'ALTER ROLE "{app.config["APP_DB_USER"]}" LOGIN')
    assert client.get("/readyz").status_code == 200
    from railsaas.extensions import db

    with db.engine.connect() as conn:  # the pool replaced its dead connections
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_readyz_fails_when_redis_and_the_broker_are_unreachable(app):
    from railsaas.app import create_app

    closed = f"redis://127.0.0.1:{free_port()}/0"
    other = create_app({"TESTING": True, "REDIS_URL": closed, "DB_RECONFIGURE": False})
    try:
        resp = other.test_client().get("/readyz")
    finally:
        app.extensions["celery"].set_default()  # the second app made its Celery the default
    assert resp.status_code == 503
    checks = resp.json["checks"]
    assert checks["database"]["ok"] is True
    assert checks["redis"]["ok"] is False
    assert checks["broker"]["ok"] is False
