"""Uptime checks against the Railway emulator's app domains (apps.py): what is recorded for
an answer, a failure and a timeout; private addresses refused outside development; incidents
told once with their recovery; the figures and the pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Email, Notification, UptimeCheck, UptimeHourly, UptimeMonitor
from railsaas.uptime import figures, monitor, probe
from tests.support import csrf_from, login_as

NOW = datetime(2026, 12, 10, 12, 30, tzinfo=UTC)


@pytest.fixture
def apps(app, railway_emulator, railway_emulator_server):
    """Checks go to the emulator (a local address, allowed as in `make dev`)."""
    saved = {
        k: app.config[k]
        for k in ("UPTIME_CONNECT_TO", "UPTIME_ALLOW_PRIVATE", "UPTIME_TIMEOUT_SECONDS")
    }
    app.config.update(
        UPTIME_CONNECT_TO=urlsplit(railway_emulator_server.url).netloc,
        UPTIME_ALLOW_PRIVATE=True,
        UPTIME_TIMEOUT_SECONDS=1.0,
    )
    yield railway_emulator
    app.config.update(saved)


def _checks(instance_id) -> list[UptimeCheck]:
    with db.scope(SYSTEM) as s:
        rows = list(
            s.scalars(
                select(UptimeCheck)
                .where(UptimeCheck.instance_id == instance_id)
                .order_by(UptimeCheck.checked_at)
            )
        )
        s.expunge_all()
    return rows


def _domain() -> str:
    return f"app-{uuid.uuid4().hex[:8]}.up.railway.app"


def test_an_answer_a_failure_and_a_timeout_are_recorded(app_ctx, apps, factory):
    _, tenant = factory.workspace()
    ok, bad, slow = (factory.instance(tenant, domain=_domain()) for _ in range(3))
    apps.app_answers(ok.domain, status=200)
    apps.app_answers(bad.domain, status=500)
    apps.app_answers(slow.domain, timeout=3)
    stopped = factory.instance(tenant, domain=_domain(), status="stopped")

    counts = monitor.run(NOW)

    assert counts["checked"] == 3  # the stopped one is not asked
    [c] = _checks(ok.id)
    assert (c.up, c.status_code, c.error) == (True, 200, None)
    assert c.latency_ms is not None
    assert c.latency_ms >= 0
    [c] = _checks(bad.id)
    assert (c.up, c.status_code, c.error) == (False, 500, "HTTP 500")
    [c] = _checks(slow.id)
    assert (c.up, c.status_code, c.error) == (False, None, "timeout")
    assert _checks(stopped.id) == []
    hits = apps.app_hits()
    assert hits.get(ok.domain) == 1
    assert stopped.domain not in hits

    # Claimed for a minute: a second run straight away asks nobody again.
    assert monitor.run(NOW + timedelta(seconds=10))["checked"] == 0
    assert monitor.run(NOW + timedelta(seconds=61))["checked"] == 3


def test_the_check_is_polite_and_follows_no_redirect(app_ctx, apps, factory):
    _, tenant = factory.workspace()
    inst = factory.instance(tenant, domain=_domain())
    apps.app_answers(inst.domain, status=302)  # a redirect elsewhere is never followed
    monitor.run(NOW)
    [c] = _checks(inst.id)
    assert (c.up, c.status_code) == (True, 302)
    assert apps.app_hits() == {inst.domain: 1}
    assert "RailSaaS" in probe.USER_AGENT


def test_a_cap_per_run_bounds_the_checks(app, app_ctx, apps, factory):
    _, tenant = factory.workspace()
    for _ in range(4):
        apps.app_answers((inst := factory.instance(tenant, domain=_domain())).domain, status=200)
    app.config["UPTIME_MAX_PER_RUN"], saved = 3, app.config["UPTIME_MAX_PER_RUN"]
    try:
        assert monitor.run(NOW)["checked"] == 3
        assert monitor.run(NOW + timedelta(seconds=1))["checked"] == 1  # the one left over
    finally:
        app.config["UPTIME_MAX_PER_RUN"] = saved
    assert inst.domain


def test_private_addresses_are_refused_outside_development(app, app_ctx, apps, factory):
    _, tenant = factory.workspace()
    local = factory.instance(tenant, domain="localhost")
    emulated = factory.instance(tenant, domain=_domain())
    apps.app_answers(emulated.domain, status=200)
    app.config["UPTIME_ALLOW_PRIVATE"] = False  # production: the emulator is 127.0.0.1

    monitor.run(NOW)

    for inst in (local, emulated):
        [c] = _checks(inst.id)
        assert (c.up, c.status_code, c.error) == (False, None, "private address")
    assert apps.app_hits() == {}  # nothing was sent
    app.config["UPTIME_CONNECT_TO"] = ""
    opts = probe.Options(timeout=1.0)
    for host in ("localhost", "127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1"):
        assert probe.probe(None, host, opts).error == "private address"
    assert not probe.is_public("::1")
    assert not probe.is_public("::ffff:10.0.0.1")
    assert probe.is_public("1.1.1.1")
    assert probe.probe(None, "evil.com/path", opts).error == "invalid domain"
    assert probe.probe(None, "user@evil.com", opts).error == "invalid domain"


def test_an_incident_is_told_once_and_its_recovery_once(app_ctx, apps, factory):
    owner, tenant = factory.workspace()
    viewer = factory.user()
    factory.member(tenant, viewer, "viewer")
    inst = factory.instance(tenant, domain=_domain(), name="shop", user_id=owner.id)
    apps.app_answers(inst.domain, status=503)

    def kinds() -> list[tuple[str, uuid.UUID]]:
        with db.scope(SYSTEM) as s:
            return sorted(
                (n.kind, n.user_id)
                for n in s.scalars(select(Notification).where(Notification.tenant_id == tenant.id))
            )

    def mails() -> list[str]:
        with db.scope(SYSTEM) as s:
            return [
                e.to_address for e in s.scalars(select(Email).where(Email.tenant_id == tenant.id))
            ]

    t = NOW
    counts = monitor.run(t)
    assert counts["incidents"] == 0
    assert kinds() == []
    for _ in range(3):
        t += timedelta(seconds=61)
        monitor.run(t)
    assert kinds() == sorted([("instance.down", owner.id), ("instance.down", viewer.id)])
    assert mails() == [owner.email]  # owners and admins get the email, viewers the bell

    apps.app_answers(inst.domain, status=200)
    for _ in range(2):
        t += timedelta(seconds=61)
        monitor.run(t)
    assert [k for k, u in kinds() if u == owner.id] == ["instance.down", "instance.up"]
    assert mails() == [owner.email, owner.email]
    with db.scope(SYSTEM) as s:
        mon = s.get(UptimeMonitor, inst.id)
        assert mon.down_since is None
        assert mon.consecutive_failures == 0

    # A single failure afterwards opens nothing.
    apps.app_answers(inst.domain, status=500)
    t += timedelta(seconds=61)
    monitor.run(t)
    assert len(kinds()) == 4


def _seed_history(tenant_id, instance_id, now: datetime) -> None:
    """Known rows: the last 24 h raw (one check a minute for 4 h: 230 up, 10 down), older
    hours rolled up (3 days ago: 60 checks, 30 up; 20 days ago: 60 checks, all up)."""
    with db.scope(SYSTEM) as s:
        start = now - timedelta(hours=4)
        for i in range(240):
            s.add(
                UptimeCheck(
                    tenant_id=tenant_id,
                    instance_id=instance_id,
                    checked_at=start + timedelta(minutes=i),
                    up=i >= 10,
                    status_code=200 if i >= 10 else 500,
                    latency_ms=100 + i if i >= 10 else None,
                )
            )
        top = now.replace(minute=0, second=0, microsecond=0)
        for hour, ups in ((top - timedelta(days=3), 30), (top - timedelta(days=20), 60)):
            s.add(
                UptimeHourly(
                    tenant_id=tenant_id,
                    instance_id=instance_id,
                    hour=hour,
                    checks=60,
                    up_checks=ups,
                    latency_ms_sum=6000,
                    latency_count=60,
                    latency_ms_max=300,
                )
            )
        # Outside every window: 40 days ago (past retention, not yet trimmed).
        s.add(
            UptimeHourly(
                tenant_id=tenant_id,
                instance_id=instance_id,
                hour=top - timedelta(days=40),
                checks=60,
                up_checks=0,
                latency_ms_sum=0,
                latency_count=0,
                latency_ms_max=None,
            )
        )


def test_uptime_figures_from_known_rows(app_ctx, factory):
    _, tenant = factory.workspace()
    inst = factory.instance(tenant, domain=_domain())
    other = factory.instance(tenant, domain=_domain())
    _seed_history(tenant.id, inst.id, NOW)
    with db.scope(SYSTEM) as s:
        w = figures.uptime_by_instance(s, tenant.id, [inst.id, other.id], NOW)
        section = figures.for_instance(s, s.get(type(inst), inst.id), NOW)
    assert (w[inst.id]["24h"].checks, w[inst.id]["24h"].up) == (240, 230)
    assert (w[inst.id]["7d"].checks, w[inst.id]["7d"].up) == (300, 260)
    assert (w[inst.id]["30d"].checks, w[inst.id]["30d"].up) == (360, 320)
    assert str(w[inst.id]["24h"]) == "95.83%"
    assert str(w[other.id]["30d"]) == "no data"
    assert section.windows == w[inst.id]
    assert section.monitor is None
    assert section.state == "unknown"
    assert "Response time" in str(section.chart)
    assert "<path" in str(section.chart)


def test_rollup_and_retention(app, app_ctx, factory):
    _, tenant = factory.workspace()
    inst = factory.instance(tenant, domain=_domain())
    _seed_history(tenant.id, inst.id, NOW)
    with db.scope(SYSTEM) as s:
        s.add(
            UptimeCheck(
                tenant_id=tenant.id,
                instance_id=inst.id,
                up=True,
                status_code=200,
                latency_ms=50,
                checked_at=NOW - timedelta(hours=49),
            )
        )
    with db.scope(SYSTEM) as s:
        before = figures.uptime_by_instance(s, tenant.id, [inst.id], NOW)[inst.id]
        monitor.rollup(s, NOW)
        monitor.rollup(s, NOW)  # a rerun changes nothing
    with db.scope(SYSTEM) as s:
        hours = {
            h.hour: h
            for h in s.scalars(select(UptimeHourly).where(UptimeHourly.instance_id == inst.id))
        }
        top = NOW.replace(minute=0)
        first, second = hours[top - timedelta(hours=4)], hours[top - timedelta(hours=3)]
        assert (first.checks, first.up_checks, first.latency_count) == (30, 20, 20)
        assert (second.checks, second.up_checks, second.latency_ms_max) == (60, 60, 189)
        assert top not in hours  # the current hour is not complete
        assert top - timedelta(days=40) not in hours  # past UPTIME_ROLLUP_DAYS
        assert (
            s.scalar(
                select(UptimeCheck.id).where(UptimeCheck.checked_at < NOW - timedelta(hours=48))
            )
            is None
        )
        assert figures.uptime_by_instance(s, tenant.id, [inst.id], NOW)[inst.id] == before


def test_the_instance_page_shows_uptime_and_the_opt_in(app, client, factory):
    user, tenant = factory.workspace()
    inst = factory.instance(tenant, domain=_domain(), name="shop")
    _seed_history(tenant.id, inst.id, datetime.now(UTC))
    login_as(app, client, user)
    html = client.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert 'data-testid="uptime-24h">95.83%' in html
    assert 'data-testid="latency-chart"' in html
    assert 'data-testid="status-page-show"' in html


def _csrf_post(client, url, data):
    return client.post(
        url,
        data={
            **data,
            "csrf_token": csrf_from(client.get("/workspace/settings").get_data(as_text=True)),
        },
    )


def test_the_public_status_page_shows_only_opted_in_instances(app, client, factory):
    user, tenant = factory.workspace()
    shown = factory.instance(tenant, domain=_domain(), name="public-shop")
    hidden = factory.instance(tenant, domain=_domain(), name="secret-admin")
    _seed_history(tenant.id, shown.id, datetime.now(UTC))
    with db.scope(SYSTEM) as s:
        s.add(
            UptimeMonitor(
                instance_id=hidden.id, tenant_id=tenant.id, next_check_at=NOW, last_up=True
            )
        )
    url = f"/status/{tenant.slug}"
    assert client.get(url).status_code == 404  # off by default
    assert client.get("/status/no-such-workspace").status_code == 404

    login_as(app, client, user)
    assert _csrf_post(
        client, f"/instances/{shown.id}/status-page", {"public": "1"}
    ).status_code in (302, 303)
    assert _csrf_post(client, "/workspace/status-page", {"enabled": "1"}).status_code in (302, 303)
    client.get("/logout")
    client.delete_cookie("session")

    resp = client.get(url)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "public-shop" in html
    assert "30 days" in html
    assert "secret-admin" not in html
    for private in (str(shown.id), str(tenant.id), shown.domain, hidden.domain):
        assert private not in html

    # Another workspace's member cannot publish this one's instance (404, nothing changes).
    stranger, _ = factory.workspace()
    login_as(app, client, stranger)
    assert (
        _csrf_post(client, f"/instances/{hidden.id}/status-page", {"public": "1"}).status_code
        == 404
    )
    with db.scope(SYSTEM) as s:
        assert s.get(UptimeMonitor, hidden.id).public is False
    # A viewer may not publish or turn the page off.
    viewer = factory.user()
    factory.member(tenant, viewer, "viewer")
    login_as(app, client, viewer)
    assert _csrf_post(client, "/workspace/status-page", {"enabled": "0"}).status_code == 403
    assert client.get(url).status_code == 200

    with db.scope(SYSTEM) as s:
        s.get(type(tenant), tenant.id).status_page_enabled = False
    assert client.get(url).status_code == 404
