"""Two Railway workspaces in the pool, against the emulator with a real Celery worker: each
customer workspace's instances deploy into its own Railway workspace, each Railway workspace
spends its own budget, and a token that stops working on one leaves the other untouched."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import RailwayWorkspace, Tenant
from railsaas.railway import pool
from tests.support import login_as, wait_until

B_TOKEN = "railway-token-of-workspace-b-5e6f"


@pytest.fixture
def two_workspaces(app, lifecycle):
    saved = app.config.get("RAILWAY_TOKEN_KEY")
    app.config["RAILWAY_TOKEN_KEY"] = Fernet.generate_key().decode()
    pool.reset_clients()
    lifecycle.emulator.add_workspace("ws-b", B_TOKEN)
    with app.app_context(), db.scope(SYSTEM) as s:
        pool.entries(s)  # the environment's entry first (older, in its own transaction)
    with app.app_context(), db.scope(SYSTEM) as s:
        b = RailwayWorkspace(
            name="pool-b",
            railway_workspace_id="ws-b",
            token_source=pool.STORED,
            token_ciphertext=pool.encrypt_token(B_TOKEN, app),
        )
        s.add(b)
        s.flush()
        b_id = b.id
    # A second customer, signed in with a browser of its own.
    plan = lifecycle.factory.plan(max_instances=20)
    user, tenant = lifecycle.factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    browser = app.test_client()
    login_as(app, browser, user)
    other = dataclasses.replace(lifecycle, user=user, tenant=tenant, browser=browser)
    yield lifecycle, other, b_id
    app.config["RAILWAY_TOKEN_KEY"] = saved
    pool.reset_clients()


def _placement(tenant):
    with db.scope(SYSTEM) as s:
        return s.get(Tenant, tenant.id, populate_existing=True).railway_workspace_id


def test_each_workspace_deploys_into_its_own_railway_workspace_and_a_dead_token_stays_there(
    app, two_workspaces
):
    first, second, b_id = two_workspaces
    a1 = first.deploy("blog")  # both empty: the oldest entry, the environment's
    with app.app_context():
        env_id = next(e.id for e in pool.entries() if e.is_environment)
    assert _placement(first.tenant) == env_id
    b1 = second.deploy("shop")  # the environment's holds one now: B is the least loaded
    assert _placement(second.tenant) == b_id
    first.wait_for([a1, b1], "running")
    assert first.instance(b1).railway_workspace_id == b_id
    assert first.emulator.workspaces() == {"ws-test": 1, "ws-b": 1}

    with app.app_context():
        env_client, b_client = pool.client_for(env_id), pool.client_for(b_id)
    assert env_client is not b_client
    assert set(env_client.budget.keys).isdisjoint(b_client.budget.keys)
    assert set(env_client.breaker.keys).isdisjoint(b_client.breaker.keys)
    assert b_client.budget.snapshot()["last_hour"] > 0  # B's requests spend B's budget

    # B's budget spent: the environment's workspace still deploys and is polled.
    b_client.budget.block(120)
    a2 = first.deploy("wiki")
    first.wait_for(a2, "running")
    b_client.budget.clear()

    # B's token stops working (revoked on Railway). Its customer restarts its instance.
    first.emulator.revoke_workspace("ws-b")
    second.act(b1, "restart")
    wait_until(lambda: b_client.breaker.state() == "open", timeout=20, message="B's breaker open")
    assert env_client.breaker.state() == "closed"
    wait_until(
        lambda: ("restart", "failed") in first.steps(b1), timeout=20, message="restart failed"
    )
    a3 = first.deploy("forum")
    first.wait_for(a3, "running")  # deploys and polls on the other workspace go on
    assert first.instance(a1).status == "running"
    assert env_client.breaker.state() == "closed"
    assert b_client.breaker.state() != "closed"  # open, or half-open awaiting a probe
    with db.scope(SYSTEM) as s:
        row = s.scalar(select(RailwayWorkspace).where(RailwayWorkspace.id == b_id))
        assert row.state == "open"  # an operator decides; the breaker only fails fast
