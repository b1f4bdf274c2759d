"""Test fixtures: a real PostgreSQL (as the app role), a real Redis, the Flask app.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL when set (CI points them at the machine's
services); otherwise an embedded PostgreSQL under .local/test-pg and a private Redis.

The suite creates a fresh database, migrates it as the owner role, and connects as the app
role (NOSUPERUSER NOBYPASSRLS): row-level security is exercised for real.

Two ways to touch the database:
- `dbconn` (most tests): one outer transaction per test, rolled back at the end; code under
  test may commit (SQLAlchemy's join_transaction_mode="create_savepoint").
- `committed` (tests with Celery workers or several connections): data really commits, and
  every table is truncated afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from tests import support
from tests.support import redis as support_redis
from tests.support.railway import RAILWAY_TEST_CLIENT_OPTIONS, RAILWAY_TEST_TOKEN
from tests.support.redis import RedisDatabases
from tests.support.transactions import rolled_back_connection

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run long load and fault tests")


# Markers by place, so `-m "not browser and not resilience"` selects without every module
# remembering a `pytestmark` (pyproject.toml declares them; `make test-fast` deselects them).
# `--durations` in every run shows what else belongs here.
TESTS = Path(__file__).resolve().parent
MARKED_DIRECTORIES = {"browser": "browser", "resilience": "resilience"}
MARKED_MODULES = {
    "api/test_fuzz.py": ("fuzz",),  # Schemathesis against a live server
    "browser/test_first_run.py": ("first_run",),  # `make dev` from a clean checkout
    "teams/test_seed.py": ("first_run",),  # `make dev`'s demo data, seeded twice
    "observability/test_seed_history.py": ("first_run",),
    # A real Celery worker deploying on the Railway emulator: seconds per test, a minute here.
    "lifecycle/test_lifecycle_railway.py": ("e2e",),
    # The emulator's pessimistic timings (answers lost, services a minute late): seconds each.
    "lifecycle/test_railway_behaviour.py": ("e2e",),
    # The product started in fresh interpreters (as gunicorn and celery start it), pg_dump.
    "security/test_production_secrets.py": ("processes",),
    "foundation/test_transport_security.py": ("processes",),
    "backups/test_roundtrip.py": ("processes",),
    "deploy/test_production_build.py": ("processes",),
    # Sweeps: every route x role, every API operation's contract, every page's query count
    # (hundreds of requests; `make test` runs them, `pytest -m sweep` alone).
    "teams/test_role_matrix.py": ("sweep",),
    "api/test_contracts.py": ("sweep",),
    "foundation/test_query_counts.py": ("sweep",),
}


@pytest.hookimpl(tryfirst=True)  # before tests/browser/conftest.py's, which reads the marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        relative = item.path.relative_to(TESTS).as_posix()
        top = relative.split("/", 1)[0]
        if top in MARKED_DIRECTORIES:
            item.add_marker(MARKED_DIRECTORIES[top])
        for name in MARKED_MODULES.get(relative, ()):
            item.add_marker(name)
        # A real Celery worker (directly or through a fixture such as `lifecycle`) means
        # seconds of waiting on queues, emulators and the worker's own start and stop.
        if "celery_worker" in getattr(item, "fixturenames", ()):
            item.add_marker("e2e")
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _worker_suffix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker else ""


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """Resolve (or start) PostgreSQL and Redis, create and migrate the test database, and
    point the environment at them before any app is built."""
    from devtools import embedded
    from railsaas import dbadmin

    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        admin_url = embedded.start_postgres(embedded.local_dir() / "test-pg")
    redis_base = os.environ.get("TEST_REDIS_URL")
    if not redis_base:
        redis_base = embedded.start_redis(tmp_path_factory.mktemp("redis"), persist=False)
    # This worker's own Redis databases (tests/support/redis.py), flushed below.
    redis_dbs = RedisDatabases.for_this_worker(redis_base)
    redis_url = redis_dbs.app_url

    # TEST_DB_NAME: a name of its own for a second checkout testing against the same server.
    name = os.environ.get("TEST_DB_NAME", "railsaas_test") + _worker_suffix()
    dbadmin.create_database(admin_url, name, drop_first=True)
    database_url = dbadmin.with_database(admin_url, name)

    env = {
        "DATABASE_URL": database_url,
        "APP_DATABASE_URL": "",
        "REDIS_URL": redis_url,
        # Caches in a database of their own (tests/support/redis.py).
        "CACHE_REDIS_URL": redis_dbs.cache_url,
        "DEBUG": "0",
        "BCRYPT_ROUNDS": "4",  # speed; production refuses less than 12 (see accounts.passwords)
        "LOG_FORMAT": "json",
        "RAILWAY_API_TOKEN": "test-railway-master-token-7f3a9c",
        "RAILWAY_WORKSPACE_ID": "ws-test",  # required with a token (config start-up check)
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "JWT_SECRET": "test-jwt-secret-0123456789abcdef",
        # DEBUG=0 is production: every secret must be set and long (config.REQUIRED_SECRETS).
        "RAILWAY_WEBHOOK_SECRET": "test-railway-webhook-secret-0123456789",
        "STRIPE_WEBHOOK_SECRET": "whsec_test_0123456789abcdef",
        "APP_DB_PASSWORD": "test-app-db-password-0123456789",
        "ADMIN_DB_PASSWORD": "test-admin-db-password-0123456789",
        "SYSTEM_DB_PASSWORD": "test-system-db-password-0123456789",
        # Every test client is 127.0.0.1: API rate limits would couple unrelated tests.
        # tests/api/test_rate_limits.py lowers them where they are the subject.
        "API_RATE_LIMIT_PER_IP": "1000000",
        "API_RATE_LIMIT_PER_TOKEN": "1000000",
        # Likewise the per-IP limits on sign-up, forgot and verification resend
        # (tests/accounts/test_ip_throttles.py lowers them).
        "SIGNUPS_PER_IP_PER_HOUR": "1000000",
        "FORGOT_PER_IP_PER_HOUR": "1000000",
        "VERIFY_RESEND_PER_IP_PER_HOUR": "1000000",
        # DEBUG=0 requires TLS to PostgreSQL and Redis; the test servers are local, plaintext.
        "DATABASE_ALLOW_PLAINTEXT": "1",
        "REDIS_ALLOW_PLAINTEXT": "1",
    }
    os.environ.update(env)
    dbadmin.migrate(database_url)

    redis_dbs.flush()
    return support.Servers(
        admin_url=admin_url,
        database_url=database_url,
        redis_url=redis_url,
        cache_redis_url=redis_dbs.cache_url,
    )


@pytest.fixture(scope="session")
def app(servers):
    from railsaas.app import create_app

    app = create_app({"TESTING": True})
    return app


@pytest.fixture(autouse=True)
def _tasks_run_in_the_session_app(request):
    """Every create_app() makes its Celery app the default one, and tasks (shared_task) run
    in the default app's Flask context: a test that built another app would leave later
    tests' tasks running with its config (another Stripe URL, say). Point it back."""
    if "app" in request.fixturenames:
        celery = request.getfixturevalue("app").extensions["celery"]
        celery.set_default()
        celery.set_current()  # shared_task resolves the thread's current app first


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture(scope="session")
def switching_engine(app, servers):
    """Connections as the database administrator, which may SET ROLE to each of the three
    logins: `dbconn` acts as whichever login each transaction's context chooses (railsaas.db),
    all inside one outer transaction. Never used without a SET ROLE."""
    from railsaas.db import make_engine

    engine = make_engine(servers.database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def dbconn(app, switching_engine):
    """One outer transaction per test; everything the test and the app commit is rolled back
    (tests/support/transactions.py)."""
    with rolled_back_connection(switching_engine) as conn:
        yield conn


@pytest.fixture
def committed(app, servers):
    """Real commits; every table is emptied afterwards (as the owner, bypassing nothing),
    and the catalog's Redis cache with it (it would otherwise outlive its rows)."""
    support.forget_cached_catalog(servers.redis_url, servers.cache_redis_url)
    yield
    support.truncate_all(servers.database_url)
    support.forget_cached_catalog(servers.redis_url, servers.cache_redis_url)


@pytest.fixture
def factory(app, dbconn):
    """Builds tenants, users, memberships, plans, templates and instances (system context).
    It needs no app context; tests that call services directly use `app_ctx`, but should not
    then make client requests: Flask would reuse that app context, and with it `g` (the
    request's session and flask-login's cached user)."""
    return support.Factory()


@pytest.fixture
def committed_factory(app, committed):
    return support.Factory()


@pytest.fixture
def client(app, dbconn):
    return app.test_client()


@pytest.fixture
def redis_conn(servers):
    """The one way tests reach Redis: this worker's app database, with `.forget(pattern)`
    and `.forget_catalog()` (tests/support/redis.py names the namespaces)."""
    r = support_redis.connect(servers.redis_url, servers.cache_redis_url)
    yield r
    r.close()


@pytest.fixture
def owner_sql(servers):
    """Run SQL as the database administrator (for catalog checks, never for app behaviour)."""
    from railsaas import dbadmin

    engine = dbadmin.admin_engine(servers.database_url)

    def run(sql: str, **params):
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.all() if result.returns_rows else []

    yield run
    engine.dispose()


@pytest.fixture
def celery_worker(app, committed):
    """A real Celery worker (threads) consuming the test Redis broker. Data must really
    commit for it to see it, hence `committed`."""
    from celery.contrib.testing.worker import start_worker

    celery = app.extensions["celery"]
    # The default queue and the poll's own (the Procfile's worker and poller lines).
    with start_worker(
        celery,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
        queues=["celery", "polls"],
    ):
        yield celery


@pytest.fixture(scope="session")
def _stripe_emulator_server():
    from devtools.emulators.stripe import StripeEmulator

    emulator = StripeEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def stripe_emulator(_stripe_emulator_server, app):
    """The Stripe emulator (one server thread per session, emptied for each test), with the
    app's STRIPE_* settings pointing at it for the duration of the test."""
    emulator = _stripe_emulator_server
    emulator.reset()
    keys = ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
    saved = {k: app.config.get(k) for k in keys}
    app.config.update(
        STRIPE_API_BASE=emulator.url,
        STRIPE_SECRET_KEY="sk_test_emulator",
        STRIPE_WEBHOOK_SECRET=emulator.dispatcher.settings.secret,
    )
    yield emulator
    emulator.reset()
    app.config.update(saved)


@pytest.fixture
def mail_sink(app, tmp_path):
    """The development SMTP sink on a free port, capturing into a temporary directory; the
    app (and the Celery worker threads, which share its config) send mail to it.
    `.messages(to=None)`, `.wait_for(to=..., timeout=...)`."""
    from devtools.devmail import MailSink

    sink = MailSink(tmp_path / "mail").start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = sink.url
    try:
        yield sink
    finally:
        app.config["SMTP_URL"] = previous
        sink.stop()


# -- Railway emulator (devtools/emulators/railway; control API in its package docstring) --


@pytest.fixture(scope="session")
def railway_emulator_server():
    from devtools.emulators.railway import EmulatorServer

    server = EmulatorServer(
        token=RAILWAY_TEST_TOKEN,
        workspace_id="ws-test",
        deploy_seconds=1.0,
        deploy_jitter=0.0,
        workflow_seconds=0.2,
        log_interval=0.2,
        crash_after=0.5,
        removal_seconds=0.2,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def railway_emulator(app, railway_emulator_server, redis_conn):
    """The Railway emulator, reset, with the app's config pointed at it. Yields an
    `EmulatorControl` (reset, set_faults, script, count, requests, advance, configure,
    force_status, verify_domain, ...) with `.graphql_url`, `.token`, `.workspace_id`."""
    from devtools.emulators.railway import EmulatorControl
    from railsaas.railway.pool import reset_clients  # every Railway client, pool entries' too

    ctl = EmulatorControl(railway_emulator_server.url)
    ctl.graphql_url = railway_emulator_server.graphql_url
    ctl.token = RAILWAY_TEST_TOKEN
    ctl.workspace_id = "ws-test"
    ctl.reset()
    redis_conn.forget(support_redis.RAILWAY)  # the shared budget and breaker
    keys = (
        "RAILWAY_API_URL",
        "RAILWAY_API_TOKEN",
        "RAILWAY_WORKSPACE_ID",
        "RAILWAY_CLIENT_OPTIONS",
    )
    saved = {k: app.config.get(k) for k in keys}
    app.config.update(
        RAILWAY_API_URL=ctl.graphql_url,
        RAILWAY_API_TOKEN=ctl.token,
        RAILWAY_WORKSPACE_ID=ctl.workspace_id,
        RAILWAY_CLIENT_OPTIONS=dict(RAILWAY_TEST_CLIENT_OPTIONS),
    )
    yield ctl
    app.config.update(saved)
    reset_clients()
    ctl.close()
