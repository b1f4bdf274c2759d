"""Structured logging: JSON lines with the seed's fields, a request id on every line and in
the response, and no configured secret ever written (web and Celery)."""

from __future__ import annotations

import json
import logging

from railsaas.observability import logging as logs
from railsaas.observability.logging import REDACTED, SEED_FIELDS
from tests.observability import tasks_for_tests
from tests.support import login_as, wait_until

TOKEN = "test-railway-master-token-7f3a9c"  # RAILWAY_API_TOKEN in tests/conftest.py


def test_every_request_gets_an_id_in_the_header_and_on_its_log_lines(client, log_output):
    resp = client.get("/")
    rid = resp.headers["X-Request-ID"]
    assert len(rid) >= 16
    lines = [r for r in log_output.records() if r["request_id"] == rid]
    assert lines, log_output.text
    access = next(r for r in lines if r["logger"] == "railsaas.access")
    assert access["status"] == 200
    assert access["endpoint"] == "pages.index"
    assert isinstance(access["duration_ms"], float)


def test_log_lines_are_json_with_the_seed_fields(app, client, factory, log_output):
    user, tenant = factory.workspace()
    login_as(app, client, user)
    client.get("/dashboard")
    line = log_output.text.strip().splitlines()[-1]
    record = json.loads(line)
    for key in ("timestamp", "level", "service", "message", "request_id", *SEED_FIELDS):
        assert key in record, key
    assert record["timestamp"].endswith("Z")
    assert record["level"] == "info"
    assert record["user_id"] == str(user.id)
    assert record["tenant_id"] == str(tenant.id)


def test_extra_fields_and_bound_fields_appear_on_the_line(app, log_output):
    log = logging.getLogger("railsaas.instances.lifecycle")
    with app.test_request_context("/"), logs.bind(request_id="req-bound-123"):
        log.info(
            "instance deployed",
            extra={
                "action": "create_instance",
                "template_id": "tpl-1",
                "railway_service_id": "service-123",
                "duration_ms": 1234,
                "status": "success",
            },
        )
    record = log_output.records()[-1]
    assert record["service"] == "instances"
    assert record["request_id"] == "req-bound-123"
    assert record["action"] == "create_instance"
    assert record["railway_service_id"] == "service-123"
    assert record["duration_ms"] == 1234
    assert record["status"] == "success"


def test_a_sane_incoming_request_id_is_kept_and_a_forged_one_replaced(client):
    kept = client.get("/", headers={"X-Request-ID": "edge-1234abcd"})
    assert kept.headers["X-Request-ID"] == "edge-1234abcd"
    forged = client.get("/", headers={"X-Request-ID": 'x" , "level": "fake'})
    assert forged.headers["X-Request-ID"] != 'x" , "level": "fake'
    assert " " not in forged.headers["X-Request-ID"]
    too_long = client.get("/", headers={"X-Request-ID": "a" * 500})
    assert len(too_long.headers["X-Request-ID"]) < 200


def test_secret_values_are_redacted_from_message_args_extras_and_tracebacks(app, log_output):
    log = logging.getLogger("railsaas.railway.client")
    log.warning("calling Railway with %s", TOKEN, extra={"headers": {"Authorization": TOKEN}})
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    log.info("secret key is %s", app.config["SECRET_KEY"])
    text = log_output.text
    assert TOKEN not in text
    assert app.config["SECRET_KEY"] not in text
    assert text.count(REDACTED) >= 4
    failed = next(r for r in log_output.records() if r["message"] == "request failed")
    assert "RuntimeError" in failed["exception"]


def test_url_encoded_secrets_are_redacted_too(log_output):
    logs.register_secret("p@ss word/with:odd chars")
    logging.getLogger("railsaas.test").error(
        "connect failed: postgresql://app:p%40ss%20word%2Fwith%3Aodd%20chars@db/x"
    )
    assert "p%40ss" not in log_output.text
    assert REDACTED in log_output.text


def test_text_format_is_readable_and_still_redacted(app):
    import io

    stream = io.StringIO()
    handler = logs.configure(fmt="text", stream=stream)
    try:
        with logs.bind(request_id="abcdef123456789"):
            logging.getLogger("railsaas.billing.subscriptions").info(
                "charged %s", TOKEN, extra={"status": "ok"}
            )
        line = stream.getvalue()
        assert "billing" in line
        assert "[abcdef123456]" in line
        assert "status=ok" in line
        assert TOKEN not in line
    finally:
        logging.getLogger().removeHandler(handler)
        logs.configure(fmt="json")  # what the test app uses


def test_celery_task_lines_carry_the_request_id_that_queued_them_and_are_redacted(
    app, celery_worker, log_output
):
    with app.app_context(), logs.bind(request_id="web-req-0001"):
        tasks_for_tests.log_line.delay(f"hello with {TOKEN}")
    record = wait_until(
        lambda: next((r for r in log_output.records() if r.get("action") == "test_task"), None),
        timeout=15,
        interval=0.05,
        message="the task's log line",
    )
    assert record["request_id"] == "web-req-0001"
    assert record["task"] == "tests.observability.log_line"
    assert TOKEN not in log_output.text
    assert REDACTED in record["message"]


def test_secret_url_parts_like_reset_tokens_are_masked_in_access_lines(client, log_output):
    token = "eyJ1aWQiOiJhYmMifQ.awhFEg.Wyo0kNaYO0ejlbKJMCXb2oWUAZs"
    client.get(f"/reset/{token}")
    assert token not in log_output.text
    access = [r for r in log_output.records() if r["logger"] == "railsaas.access"]
    assert access[-1]["path"] == f"/reset/{REDACTED}"


def test_routine_runs_of_every_few_seconds_jobs_are_not_logged_but_other_tasks_are(
    app, celery_worker, log_output
):
    from celery import signals

    from railsaas.tasks import FREQUENT_TASKS
    from railsaas.tasks.instances import poll

    assert "instances.poll" in FREQUENT_TASKS
    done = set()

    def note(task_id=None, **_):
        done.add(task_id)

    signals.task_postrun.connect(note, weak=False)
    try:
        with app.app_context():
            ids = {poll.delay().id, tasks_for_tests.log_line.delay("an ordinary task").id}
        wait_until(lambda: ids <= done, timeout=20, interval=0.05, message="both tasks to run")
    finally:
        signals.task_postrun.disconnect(note)
    lines = [r for r in log_output.records() if r["logger"].startswith("celery")]
    about = lambda name: [r for r in lines if name in r["message"]]  # noqa: E731
    assert about("tests.observability.log_line"), log_output.text  # received and succeeded
    assert not about("instances.poll"), log_output.text


def test_every_task_run_writes_one_line_with_its_action_duration_and_status(
    app, celery_worker, log_output
):
    tid = "5b0c6f57-3c1e-4c55-9a8e-2d7f1f0b7a11"
    with app.app_context():
        tasks_for_tests.log_line.delay("counted", tenant_id=tid)
        tasks_for_tests.boom.delay("nothing secret")
    ok = wait_until(
        lambda: next(
            (
                r
                for r in log_output.records()
                if r.get("action") == "task.tests.observability.log_line" and r.get("status")
            ),
            None,
        ),
        timeout=15,
        interval=0.05,
        message="the task's run line",
    )
    assert ok["status"] == "succeeded"
    assert isinstance(ok["duration_ms"], float)
    assert ok["tenant_id"] == tid
    assert ok["service"] == "tests"
    assert ok["message"] == "task.tests.observability.log_line succeeded"
    # The lines written inside the task carry its action unless they name their own.
    inner = next(r for r in log_output.records() if r.get("message") == "counted")
    assert inner["action"] == "test_task"
    failed = wait_until(
        lambda: next(
            (
                r
                for r in log_output.records()
                if r.get("action") == "task.tests.observability.boom" and r.get("status")
            ),
            None,
        ),
        timeout=15,
        interval=0.05,
        message="the failed task's run line",
    )
    assert failed["status"] == "failed"
    assert failed["level"] == "warning"


def test_a_timed_action_binds_its_fields_and_names_a_deferral(app, log_output):
    log = logging.getLogger("railsaas.instances.steps")

    class Later(Exception):
        pass

    with logs.timed(log, "instance.restart", template_id="tpl-9") as act:
        log.info("inside")
        act.bind(railway_service_id="svc-1")
        log.info("after the service is known")
    try:
        with logs.timed(
            log, "instance.restart", outcome=lambda e: "deferred" if isinstance(e, Later) else None
        ):
            raise Later
    except Later:
        pass
    inside, after, done, deferred = log_output.records()[-4:]
    assert (inside["action"], inside["template_id"], inside["status"]) == (
        "instance.restart",
        "tpl-9",
        None,
    )
    assert after["railway_service_id"] == "svc-1"
    assert (done["status"], done["template_id"], done["railway_service_id"]) == (
        "succeeded",
        "tpl-9",
        "svc-1",
    )
    assert (deferred["status"], deferred["error"], deferred["level"]) == (
        "deferred",
        "Later",
        "info",
    )
    assert deferred["template_id"] is None  # the first block's fields ended with it
