"""The poll's schedule keeps its freshness promise: a deploying instance's status is at most
10 s old, a settled one's at most 5 minutes, although beat only looks for due instances
every few seconds (bench/polling.py measures the same over a simulated hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.instances import poll
from railsaas.models import Instance, RailwayWorkspace
from railsaas.railway import pool
from railsaas.tasks import BEAT_SCHEDULE
from railsaas.tasks import instances as instances_tasks

# The poll itself takes a moment between reading the clock here and claiming the rows.
SLACK = timedelta(seconds=1)


def _poll_and_read(factory, status: str) -> tuple[datetime, datetime]:
    user, tenant = factory.workspace()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    inst = factory.instance(
        tenant, status=status, next_poll_at=long_ago, status_changed_at=datetime.now(UTC)
    )
    asked_at = datetime.now(UTC)
    assert poll.poll()["polled"] == 1
    with db.scope(SYSTEM) as s:
        return asked_at, s.get(Instance, inst.id).next_poll_at


def test_a_settled_instance_is_asked_again_by_the_beat_within_five_minutes(app_ctx, factory):
    asked_at, due = _poll_and_read(factory, "running")
    beat = BEAT_SCHEDULE["instances-poll"]["schedule"]
    # Claimed at the first beat at or after its due time: at the latest one beat later.
    assert due + beat <= asked_at + timedelta(minutes=5) + SLACK
    assert due > asked_at + timedelta(minutes=4)  # and not much sooner: the hourly budget


def test_a_deploying_instance_is_asked_again_by_the_beat_within_ten_seconds(app_ctx, factory):
    asked_at, due = _poll_and_read(factory, "deploying")
    beat = BEAT_SCHEDULE["instances-poll"]["schedule"]
    assert due + beat <= asked_at + timedelta(seconds=10) + SLACK


def test_polls_have_their_own_queue_and_worker_line(app):
    celery = app.extensions["celery"]
    for task in ("instances.poll", "instances.refresh"):
        assert celery.amqp.router.route({}, task)["queue"].name == "polls"
    assert celery.amqp.router.route({}, "instances.run_step")["queue"].name == "celery"
    procfile = dict(
        line.split(": ", 1)
        for line in (Path(__file__).resolve().parents[2] / "Procfile").read_text().splitlines()
        if line.strip()
    )
    assert " -Q polls" in procfile["poller"]  # polls' own capacity: deploys never delay them
    # The worker reads polls too: a deployment without the poller service still polls.
    assert " -Q celery,polls" in procfile["worker"]


def test_on_hobby_the_poll_fits_the_hourly_budget(app_ctx, factory, app):
    app.config["RAILWAY_PLAN"] = "hobby"
    try:
        asked_at, due = _poll_and_read(factory, "deploying")
    finally:
        app.config["RAILWAY_PLAN"] = "pro"
    gap = (due - asked_at).total_seconds()
    # One batched status request per round at most: 3,600 / gap an hour, under half of
    # Hobby's 1,000 (the rest is for deploys, logs and metrics).
    assert 3600 / gap <= 500


def test_the_beat_task_polls_every_railway_workspace_and_adds_up_what_each_round_counts(
    app, app_ctx, factory
):
    """Each Railway workspace of the pool is polled in the same beat, and every count a round
    reports (custom domains included) is added up, none dropped or fatal."""
    saved = app.config.get("RAILWAY_TOKEN_KEY")
    app.config["RAILWAY_TOKEN_KEY"] = Fernet.generate_key().decode()
    try:
        with db.scope(SYSTEM) as s:
            pool.entries(s)  # the environment's entry
            other = RailwayWorkspace(
                name="pool-b",
                railway_workspace_id="ws-b",
                token_source=pool.STORED,
                token_ciphertext=pool.encrypt_token("token-b", app),
            )
            s.add(other)
            s.flush()
            other_id = other.id
        pool.forget()
        _, tenant = factory.workspace()
        due = datetime.now(UTC) - timedelta(hours=1)
        here = factory.instance(tenant, status="running", next_poll_at=due)
        there = factory.instance(
            tenant, status="running", next_poll_at=due, railway_workspace_id=other_id
        )
        counts = instances_tasks.poll()
        assert counts["polled"] == 2
        assert {"changed", "timed_out", "domains"} <= counts.keys()
        with db.scope(SYSTEM) as s:
            for inst in (here, there):
                assert s.get(Instance, inst.id).next_poll_at > datetime.now(UTC)
    finally:
        app.config["RAILWAY_TOKEN_KEY"] = saved
        pool.reset_clients()  # and forget the entry, rolled back with the test
