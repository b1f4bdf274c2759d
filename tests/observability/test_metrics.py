"""/metrics: Prometheus text with the product's counters, readable only with the token or as
a platform admin; Celery task metrics; samples from other processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import JobFailure
from railsaas.observability import metrics
from tests.observability import tasks_for_tests
from tests.support import login_as, wait_until

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}  # not loopback: no local-scraper allowance


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


@pytest.fixture
def token(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token-abcdef123")
    return "scrape-token-abcdef123"


def scrape(client, token: str) -> str:
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}, environ_base=REMOTE)
    assert resp.status_code == 200, resp.data
    assert resp.content_type.startswith("text/plain")
    return resp.get_data(as_text=True)


def test_metrics_refuse_anonymous_and_wrong_tokens(client, token):
    assert client.get("/metrics", environ_base=REMOTE).status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"}, environ_base=REMOTE)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


def test_metrics_refuse_signed_in_customers_and_allow_platform_admins(
    app, client, factory, admin_user, token
):
    # (a token is configured, so the loopback test client gets no local-scraper allowance)
    user, _ = factory.workspace()
    login_as(app, client, user)
    assert client.get("/metrics").status_code == 403
    admin_client = app.test_client()
    login_as(app, admin_client, admin_user)
    assert admin_client.get("/metrics").status_code == 200


def test_without_a_token_only_a_direct_local_scraper_may_read(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert proxied.status_code == 401


def test_requests_are_counted_by_endpoint_with_latency_and_errors(client, token):
    before = scrape(client, token)
    client.get("/")
    client.get("/no-such-page")
    after = scrape(client, token)
    key = {"endpoint": "pages.index", "method": "GET", "status": "200"}
    assert (value(after, "railsaas_http_requests_total", **key) or 0) == (
        value(before, "railsaas_http_requests_total", **key) or 0
    ) + 1
    assert value(
        after, "railsaas_http_requests_total", endpoint="unmatched", method="GET", status="404"
    )
    assert (
        value(
            after,
            "railsaas_http_request_duration_seconds_count",
            endpoint="pages.index",
            method="GET",
        )
        >= 1
    )
    assert "railsaas_http_request_errors_total" in after


def test_product_hooks_show_up_as_counters(client, token):
    metrics.registration()
    metrics.deploy_finished("succeeded")
    metrics.deploy_finished("failed", kind="redeploy")
    metrics.cache_lookup("catalog", hit=True)
    metrics.cache_lookup("catalog", hit=False)
    metrics.railway_rate_remaining(987, limit=1000)
    with metrics.railway_call("projectCreate"):
        pass

    class RateLimited(Exception):
        pass

    with pytest.raises(RateLimited), metrics.railway_call("deploymentRedeploy"):
        raise RateLimited("429")
    text = scrape(client, token)
    assert value(text, "railsaas_registrations_total") >= 1
    assert value(text, "railsaas_deploys_total", outcome="succeeded", kind="deploy") >= 1
    assert value(text, "railsaas_deploys_total", outcome="failed", kind="redeploy") >= 1
    assert value(text, "railsaas_cache_lookups_total", cache="catalog", result="hit") >= 1
    assert value(text, "railsaas_cache_lookups_total", cache="catalog", result="miss") >= 1
    assert value(text, "railsaas_railway_rate_limit_remaining") == 987
    assert value(text, "railsaas_railway_rate_limit") == 1000
    assert (
        value(text, "railsaas_railway_request_duration_seconds_count", operation="projectCreate")
        >= 1
    )
    assert (
        value(
            text,
            "railsaas_railway_request_errors_total",
            operation="deploymentRedeploy",
            error="rate_limited",
        )
        >= 1
    )


def test_instances_by_status_come_from_the_database_at_scrape_time(client, factory, token):
    tenant = factory.tenant()
    template = factory.template()
    for status in ("running", "running", "stopped", "deploying", "deleted"):
        factory.instance(tenant, template, status=status)
    text = scrape(client, token)
    assert value(text, "railsaas_instances", status="running") == 2
    assert value(text, "railsaas_instances", status="stopped") == 1
    assert value(text, "railsaas_instances", status="deleted") is None
    assert value(text, "railsaas_instances_active") == 3


def test_celery_task_durations_and_failures_are_measured_and_failures_kept(
    app, celery_worker, token
):
    secret = app.config["RAILWAY_API_TOKEN"]
    with app.app_context():
        tasks_for_tests.log_line.delay("measured")
        tasks_for_tests.boom.delay(secret, tenant_id=None)

    def failure_row():
        with db.scope(SYSTEM) as s:
            return s.query(JobFailure).filter_by(task_name="tests.observability.boom").first()

    row = wait_until(failure_row, timeout=15, interval=0.05, message="the failure row")
    assert row is not None
    assert row.exception_type == "Boom"
    assert secret not in (row.message or "")
    assert secret not in (row.traceback or "")
    assert secret not in str(row.args)
    assert "[REDACTED]" in row.message
    text = wait_until(
        lambda: (
            (t := scrape(app.test_client(), token))
            and value(
                t,
                "railsaas_celery_task_duration_seconds_count",
                task="tests.observability.log_line",
                outcome="success",
            )
            and t
        )
    )
    assert (
        value(
            text,
            "railsaas_celery_task_failures_total",
            task="tests.observability.boom",
            exception="Boom",
        )
        >= 1
    )
    assert (
        value(
            text,
            "railsaas_celery_task_duration_seconds_count",
            task="tests.observability.boom",
            outcome="failure",
        )
        >= 1
    )


CHILD = """
from railsaas.observability import metrics
metrics.registration()
metrics.task_finished("deploy.run", "success", 1.5)
metrics.railway_rate_remaining(42)
"""


@pytest.mark.processes
def test_samples_from_other_processes_are_merged_in_multiprocess_mode(
    client, token, tmp_path: Path, monkeypatch
):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two worker processes, each counting one registration
        subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=root, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = scrape(client, token)
    assert value(text, "railsaas_registrations_total") == 2
    assert (
        value(
            text,
            "railsaas_celery_task_duration_seconds_count",
            task="deploy.run",
            outcome="success",
        )
        == 2
    )
    assert value(text, "railsaas_railway_rate_limit_remaining") == 42
    assert value(text, "railsaas_instances_active") is not None  # still from the database


def test_a_worker_on_its_own_machine_serves_metrics_behind_the_token():
    import httpx

    from railsaas.observability.setup import serve_metrics

    server = serve_metrics(0, "worker-token-123456", host="127.0.0.1")
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        resp = httpx.get(url, headers={"Authorization": "Bearer worker-token-123456"})
        assert resp.status_code == 200
        assert "railsaas_celery_task_duration_seconds" in resp.text
        assert httpx.get(url.replace("/metrics", "/other")).status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_railway_client_reports_latency_errors_and_budget(app, railway_emulator):
    """Through the real client against the Railway emulator (its X-RateLimit headers)."""
    from prometheus_client import REGISTRY

    from railsaas.railway import railway_client
    from railsaas.railway.errors import NotFound

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    before_ok = sample("railsaas_railway_request_duration_seconds_count", operation="Projects")
    before_5xx = sample(
        "railsaas_railway_request_errors_total", operation="Projects", error="http_502"
    )
    before_nf = sample(
        "railsaas_railway_request_errors_total", operation="Project", error="not_found"
    )
    metrics.railway_rate_remaining(-1)  # a sentinel the emulator's headers must replace
    rw = railway_client(app)
    railway_emulator.script("error", times=1, status=502, operation="Projects")
    # Railway may say "Not Authorized" for a missing project; this test is about not_found.
    railway_emulator.configure(missing_project_answer="Project not found")
    rw.projects()  # one 502, retried, then an answer
    with pytest.raises(NotFound):
        rw.project("no-such-project")
    assert (
        sample("railsaas_railway_request_duration_seconds_count", operation="Projects")
        == before_ok + 2
    )
    assert (
        sample("railsaas_railway_request_errors_total", operation="Projects", error="http_502")
        == before_5xx + 1
    )
    assert (
        sample("railsaas_railway_request_errors_total", operation="Project", error="not_found")
        == before_nf + 1
    )
    assert REGISTRY.get_sample_value("railsaas_railway_rate_limit_remaining") >= 0


def test_the_railway_breaker_state_is_read_from_redis_at_scrape_time(client, token, redis_conn):
    from railsaas.railway.breaker import CircuitBreaker

    for key in redis_conn.scan_iter("railway:*"):
        redis_conn.delete(key)
    assert "railsaas_railway_breaker_open 0.0" in scrape(client, token)
    breaker = CircuitBreaker(redis_conn, failure_threshold=2)
    breaker.failure()
    breaker.failure()
    try:
        assert "railsaas_railway_breaker_open 1.0" in scrape(client, token)
    finally:
        for key in redis_conn.scan_iter("railway:*"):
            redis_conn.delete(key)


def test_loading_the_catalog_twice_counts_a_miss_then_a_hit(client, token, redis_conn):
    redis_conn.forget_catalog()
    before = scrape(client, token)
    hits = value(before, "railsaas_cache_lookups_total", cache="catalog", result="hit") or 0
    misses = value(before, "railsaas_cache_lookups_total", cache="catalog", result="miss") or 0
    assert client.get("/templates/").status_code == 200
    first = scrape(client, token)
    assert (
        value(first, "railsaas_cache_lookups_total", cache="catalog", result="miss") == misses + 1
    )  # the first lookup fills the cache
    hits = value(first, "railsaas_cache_lookups_total", cache="catalog", result="hit") or 0
    assert client.get("/templates/").status_code == 200
    second = scrape(client, token)
    assert (
        value(second, "railsaas_cache_lookups_total", cache="catalog", result="miss") == misses + 1
    )
    assert value(second, "railsaas_cache_lookups_total", cache="catalog", result="hit") > hits


def test_redis_info_is_exported(client, token):
    text = scrape(client, token)
    assert value(text, "railsaas_redis_used_memory_bytes") > 0
    assert value(text, "railsaas_redis_connected_clients") >= 1
    assert value(text, "railsaas_redis_keyspace_hits") is not None
    assert value(text, "railsaas_redis_keyspace_misses") is not None


WEB_CHILD = """
import os
from railsaas.app import create_app
app = create_app({"TESTING": True})
assert app.test_client().get("/readyz").status_code == 200  # a request that queries
print(os.getpid())
"""


@pytest.mark.processes
def test_process_and_database_metrics_survive_multiprocess_mode(
    client, token, tmp_path: Path, monkeypatch
):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pid = subprocess.run(
        [sys.executable, "-c", WEB_CHILD],
        env=env,
        cwd=root,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = scrape(client, token)
    assert value(text, "railsaas_process_cpu_seconds", pid=pid) > 0
    assert value(text, "railsaas_process_resident_memory_bytes", pid=pid) > 10_000_000
    assert value(text, "railsaas_db_query_duration_seconds_count", kind="select") >= 1


def test_a_slow_statement_is_logged_normalised_and_counted(app, dbconn, log_output, monkeypatch):
    from prometheus_client import REGISTRY
    from sqlalchemy import text

    monkeypatch.setitem(app.config, "SLOW_QUERY_MS", 20)
    before = REGISTRY.get_sample_value("railsaas_db_slow_queries_total", {"kind": "select"}) or 0
    with app.app_context():
        dbconn.execute(
            text("SELECT pg_sleep(0.05), :marker AS marker"), {"marker": "private-value-42"}
        )
        dbconn.execute(text("SELECT 1"))  # fast: not logged
    slow = [r for r in log_output.records() if r["message"] == "slow query"]
    assert len(slow) == 1
    assert slow[0]["duration_ms"] >= 50
    assert "pg_sleep" in slow[0]["statement"]
    assert "private-value-42" not in log_output.text  # parameters are never logged
    assert (
        REGISTRY.get_sample_value("railsaas_db_slow_queries_total", {"kind": "select"})
        == before + 1
    )
