"""Retries, backoff, 429s, the shared rate budget and circuit breaker, lost answers, and
keeping the token secret: the client against the emulator's injected faults."""

from __future__ import annotations

import json
import logging
import multiprocessing
import pickle
import threading
import time
import traceback

import pytest

from devtools.embedded import free_port
from railsaas.extensions import redis_client
from railsaas.railway import (
    InvalidRequest,
    RailwayClient,
    RateLimited,
    Unauthorized,
    Unavailable,
    fill_variables,
)
from railsaas.railway.breaker import CLOSED, HALF_OPEN, OPEN
from railsaas.railway.ratelimit import RateBudget


@pytest.fixture
def make_client(app, railway_emulator, servers):
    """Clients on the shared test Redis with per-test options (closed afterwards)."""
    made = []

    def make(**options) -> RailwayClient:
        client = RailwayClient.from_config(
            app.config, redis=redis_client(servers.redis_url), **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_server_errors_are_retried_until_an_answer(make_client, railway_emulator, caplog):
    rw = make_client()
    railway_emulator.script("error", times=2, operation="TemplateByCode")
    assert rw.template("ghost").code == "ghost"
    assert railway_emulator.count("TemplateByCode") == 3
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2


def test_the_client_gives_up_after_max_attempts(make_client, railway_emulator):
    rw = make_client(max_attempts=3)
    railway_emulator.script("error", times=10, status=502)
    with pytest.raises(Unavailable, match="after 3 attempt") as err:
        rw.template("ghost")
    assert err.value.status == 502
    assert not err.value.maybe_applied
    assert railway_emulator.count() == 3


def test_an_html_error_page_is_retried(make_client, railway_emulator):
    rw = make_client()
    railway_emulator.script("html", times=1, status=403)  # a proxy's "Access denied" page
    assert rw.template("redis").code == "redis"
    statuses = [e["status"] for e in railway_emulator.requests()["entries"]]
    assert statuses == [403, 200]


def test_a_timeout_is_retried(make_client, railway_emulator):
    # Margins wide enough for a loaded machine: the retry must fit in one read timeout.
    rw = make_client(read_timeout=1.0)
    railway_emulator.script("timeout", times=1, seconds=5)
    started = time.monotonic()
    assert rw.template("redis").code == "redis"
    assert time.monotonic() - started < 4
    assert railway_emulator.count("TemplateByCode") == 2


def test_connection_errors_are_retried_then_reported_unavailable(app):
    client = RailwayClient(
        api_url=f"http://127.0.0.1:{free_port()}/graphql/v2",
        token="x",
        backoff_base=0.01,
        max_attempts=3,
        connect_timeout=0.5,
    )
    with pytest.raises(Unavailable, match="ConnectError") as err:
        client.template("ghost")
    assert not err.value.maybe_applied  # nothing reached Railway
    client.close()


def test_backoff_is_capped_exponential_with_full_jitter(make_client, railway_emulator):
    sleeps: list[float] = []
    rw = make_client(
        max_attempts=6, backoff_base=0.5, backoff_cap=2.0, sleep=sleeps.append, breaker_threshold=10
    )
    railway_emulator.script("error", times=5)
    rw.template("ghost")
    assert len(sleeps) == 5
    bounds = [0.5, 1.0, 2.0, 2.0, 2.0]
    assert all(0 <= s <= b for s, b in zip(sleeps, bounds, strict=True))
    assert len(set(sleeps)) == 5  # jittered, not a fixed schedule


def test_a_429_waits_at_least_retry_after_for_every_process(
    make_client, railway_emulator, redis_conn
):
    rw = make_client()
    other = make_client()  # another worker sharing the budget
    railway_emulator.script("rate_limit", times=1, retry_after=1)
    started = time.monotonic()
    assert rw.template("ghost").code == "ghost"
    assert time.monotonic() - started >= 1.0
    assert railway_emulator.count("TemplateByCode") == 2
    railway_emulator.script("rate_limit", times=1, retry_after=1)
    with pytest.raises(RateLimited):
        make_client(max_attempts=1).template("ghost")
    started = time.monotonic()
    other.template("ghost")  # held back by the 429 another client saw
    assert time.monotonic() - started >= 0.8


def test_a_429_longer_than_the_caller_waits_raises_rate_limited(make_client, railway_emulator):
    rw = make_client(max_rate_wait=2)
    railway_emulator.script("rate_limit", times=1, retry_after=30)
    with pytest.raises(RateLimited) as err:
        rw.template("ghost")
    assert err.value.retry_after == 30
    assert err.value.status == 429
    with pytest.raises(RateLimited):  # every process now waits; nothing is sent
        make_client(max_rate_wait=2).template("ghost")
    assert railway_emulator.count() == 1


def test_the_servers_remaining_budget_stops_every_client(make_client, railway_emulator):
    railway_emulator.configure(rate_per_hour=3)
    first, second = make_client(max_rate_wait=1), make_client(max_rate_wait=1)
    for client in (first, second, first):
        client.projects()
    for client in (first, second):
        with pytest.raises(RateLimited) as err:
            client.projects()
        assert err.value.retry_after > 3000  # until the hour's window resets
    assert railway_emulator.count() == 3  # the fourth and fifth never left


def test_the_plans_per_hour_budget_is_shared_through_redis(make_client, railway_emulator):
    a = make_client(rate_per_hour=4, max_rate_wait=0.2)
    b = make_client(rate_per_hour=4, max_rate_wait=0.2)
    done = 0
    for client in (a, b, a, b, a, b):
        try:
            client.template("redis")
            done += 1
        except RateLimited:
            pass
    assert done == 4
    assert railway_emulator.count() == 4
    snap = a.budget.snapshot()
    assert snap["last_hour"] == 4
    assert snap["per_hour"] == 4


def _spawn(railway_emulator, servers, count, per_second, per_hour, max_wait):
    from tests.railway.budget_worker import spend

    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start_at = time.time() + 1.5  # after both interpreters have started
    procs = [
        ctx.Process(
            target=spend,
            args=(
                servers.redis_url,
                railway_emulator.graphql_url,
                railway_emulator.token,
                start_at,
                count,
                per_second,
                per_hour,
                max_wait,
                results,
            ),
        )
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    out = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
        assert p.exitcode == 0
    return start_at, out


@pytest.mark.processes
def test_two_processes_share_one_rate_budget(railway_emulator, servers):
    """Real processes, one Redis budget of 4 a second and 9 an hour; each wants 6."""
    start_at, out = _spawn(railway_emulator, servers, count=6, per_second=4, per_hour=9, max_wait=3)
    # Apart, each would get its 6 (12 in all) in about half a second.
    assert sum(ok for ok, _, _ in out) == 9
    assert sum(limited for _, limited, _ in out) == 3
    assert max(end for _, _, end in out) - start_at >= 1.0  # 9 at 4 a second, shared
    assert railway_emulator.count("TemplateByCode") == 9


def test_the_breaker_opens_after_repeated_failures_and_fails_fast(make_client, railway_emulator):
    rw = make_client(max_attempts=1, breaker_threshold=3, breaker_reset_seconds=30)
    railway_emulator.script("error", times=3)
    for _ in range(3):
        with pytest.raises(Unavailable, match="HTTP 503"):
            rw.template("ghost")
    assert rw.breaker.state() == OPEN
    other_worker = make_client(max_attempts=1, breaker_threshold=3)
    with pytest.raises(Unavailable, match="circuit breaker open") as err:
        other_worker.template("ghost")
    assert err.value.retry_after > 0
    assert railway_emulator.count() == 3  # failing fast: nothing more was sent


def test_the_breaker_half_opens_and_lets_one_probe_through(make_client, railway_emulator):
    rw = make_client(max_attempts=1, breaker_threshold=2, breaker_reset_seconds=0.3)
    railway_emulator.script("error", times=3)
    for _ in range(2):
        with pytest.raises(Unavailable):
            rw.template("ghost")
    assert rw.breaker.state() == OPEN
    time.sleep(0.35)  # a bounded wait on purpose: the 0.3 s reset time is what is tested
    assert rw.breaker.state() == HALF_OPEN
    with pytest.raises(Unavailable, match="HTTP 503"):  # the probe fails: open again
        rw.template("ghost")
    assert rw.breaker.state() == OPEN
    time.sleep(0.35)

    railway_emulator.set_faults(latency_ms=300)
    outcomes: list[str] = []

    def call():
        try:
            rw.template("ghost")
            outcomes.append("ok")
        except Unavailable:
            outcomes.append("fast-fail")

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["fast-fail"] * 3 + ["ok"]  # exactly one probe went through
    assert railway_emulator.count() == 4
    assert rw.breaker.state() == CLOSED
    rw.template("ghost")


def test_a_lost_project_create_answer_is_recovered_without_a_duplicate(rw, railway_emulator):
    railway_emulator.script("lose_response", operation="ProjectCreate")
    project = rw.create_project("rs-lost")
    assert project.name == "rs-lost"
    assert project.environment("production")
    names = [p["name"] for p in railway_emulator.state()["projects"]]
    assert names == ["rs-lost"]
    log = railway_emulator.requests()["by_operation"]
    assert log["ProjectCreate"] == 1
    assert log["Projects"] == 1


def test_a_project_create_that_failed_before_running_is_sent_again(rw, railway_emulator):
    railway_emulator.script("error", operation="ProjectCreate")
    project = rw.create_project("rs-again")
    assert [p["name"] for p in railway_emulator.state()["projects"]] == ["rs-again"]
    assert railway_emulator.count("ProjectCreate") == 2
    assert rw.project(project.id).name == "rs-again"


def test_a_lost_template_deploy_answer_does_not_deploy_twice(rw, railway_emulator):
    # Railway's services appear only as the workflow runs: right after a lost answer the
    # project is empty, which proves nothing. The client used to look, find nothing, and
    # deploy again (two copies).
    railway_emulator.configure(workflow_seconds=60)
    railway_emulator.freeze()
    tpl = rw.template("umami")
    project = rw.create_project("rs-umami")
    railway_emulator.script("lose_response", operation="TemplateDeployV2")
    with pytest.raises(Unavailable) as err:
        rw.deploy_template(tpl.id, fill_variables(tpl.serialized_config, {}), project_id=project.id)
    assert err.value.maybe_applied
    assert rw.project(project.id).services == ()
    railway_emulator.advance(61)
    assert len(rw.project(project.id).services) == 2
    assert railway_emulator.count("TemplateDeployV2") == 1


def test_mutations_wait_at_least_90_seconds_for_their_answer(make_client, railway_emulator):
    assert make_client().mutation_timeout.read >= 90
    # Scaled down: reads give up after 0.5 s, mutations wait 1.5 s; an answer that takes
    # 1 s (Railway's templateDeployV2 can take over 60 s) reaches a mutation.
    client = make_client(read_timeout=0.5, mutation_read_timeout=1.5)
    railway_emulator.script("slow", operation="ProjectCreate", seconds=1.0)
    assert client.create_project("rs-slow").name == "rs-slow"
    assert railway_emulator.count("ProjectCreate") == 1


def test_a_redeploy_is_not_blindly_sent_twice(rw, railway_emulator):
    tpl = rw.template("redis")
    project = rw.create_project("rs-redeploy")
    rw.deploy_template(tpl.id, fill_variables(tpl.serialized_config, {}), project_id=project.id)
    env = project.environments[0]
    railway_emulator.advance(1)
    dep = rw.latest_deployment(env.id, rw.project(project.id).services[0].id)
    railway_emulator.advance(2)
    railway_emulator.script("error", operation="DeploymentRedeploy")
    with pytest.raises(Unavailable) as err:
        rw.redeploy_deployment(dep.id)
    assert err.value.maybe_applied
    assert railway_emulator.count("DeploymentRedeploy") == 1
    for op in ("ServiceInstanceRedeploy", "ServiceInstanceDeployV2"):
        railway_emulator.script("error", operation=op)
    with pytest.raises(Unavailable):
        rw.redeploy_service(env.id, dep.service_id)
    with pytest.raises(Unavailable):
        rw.deploy_service(env.id, dep.service_id)
    assert railway_emulator.count("ServiceInstanceRedeploy") == 1
    assert railway_emulator.count("ServiceInstanceDeployV2") == 1
    railway_emulator.script("error", operation="DeploymentStop")
    assert rw.stop_deployment(dep.id) is True  # stopping twice is harmless: retried
    assert railway_emulator.count("DeploymentStop") == 2


def test_the_token_appears_in_no_log_line_error_or_repr(make_client, railway_emulator, caplog):
    token = railway_emulator.token
    caplog.set_level(logging.DEBUG)
    rw = make_client(read_timeout=0.3)
    railway_emulator.script("error", times=1)
    railway_emulator.script("timeout", times=1, seconds=1)
    railway_emulator.script("html", times=1)
    rw.create_project("rs-secret")
    railway_emulator.script("error", status=200, message=f"bad credentials {token}")
    with pytest.raises(InvalidRequest) as invalid:
        rw.create_project("rs-echo")
    railway_emulator.script("error", times=rw.max_attempts)
    with pytest.raises(Unavailable) as unavailable:
        rw.project("whatever")
    with pytest.raises(Unauthorized) as unauthorized:
        make_client(token=token + "-revoked").project("x")

    assert any(r.name.startswith("httpcore") for r in caplog.records)  # DEBUG was captured
    assert token not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in repr(record.args)
    for err in (invalid.value, unavailable.value, unauthorized.value):
        assert token not in str(err)
        assert token not in repr(err)
        assert token not in "".join(traceback.format_exception(err))
        assert err.__cause__ is None
        assert err.__context__ is None  # no httpx exception (and its headers) chained
        assert token.encode() not in pickle.dumps(err)
    assert "<redacted>" in str(invalid.value)
    assert token not in repr(rw)
    assert token not in repr(vars(rw))
    assert token not in repr(rw.budget.__dict__)
    assert token not in repr(rw.breaker.__dict__)
    with pytest.raises(TypeError):
        pickle.dumps(rw)
    with pytest.raises(TypeError):
        json.dumps(rw)


def test_the_factory_builds_one_client_per_configuration(app, railway_emulator, monkeypatch):
    from railsaas.railway import railway_client

    first = railway_client(app)
    with app.app_context():
        assert railway_client() is first
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(railway_client(app))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c is first for c in seen)
    assert isinstance(first.budget, RateBudget)  # shared through Redis
    assert first.template("ghost").code == "ghost"

    monkeypatch.setitem(app.config, "RAILWAY_PLAN", "hobby")
    hobby = railway_client(app)
    assert hobby is not first
    assert (hobby.budget.limits.per_hour, hobby.budget.limits.per_second) == (1000, 10)
    monkeypatch.setitem(app.config, "RAILWAY_RATE_PER_SECOND", "3")
    assert railway_client(app).budget.limits.per_second == 3
    monkeypatch.setitem(app.config, "RAILWAY_BATCH_SIZE", 50)
    assert railway_client(app).batch_size == 50


def test_without_redis_the_client_paces_and_breaks_on_its_own(app, railway_emulator):
    """Redis down (or not configured) must not stop the platform talking to Railway."""
    import redis as redis_lib

    dead = redis_lib.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2, decode_responses=True
    )
    client = RailwayClient.from_config(
        app.config, redis=dead, max_attempts=1, breaker_threshold=2, breaker_reset_seconds=30
    )
    assert client.template("ghost").code == "ghost"
    railway_emulator.script("error", times=2)
    for _ in range(2):
        with pytest.raises(Unavailable, match="HTTP 503"):
            client.template("ghost")
    with pytest.raises(Unavailable, match="circuit breaker open"):
        client.template("ghost")
    assert railway_emulator.count() == 3
    client.close()
    dead.close()
