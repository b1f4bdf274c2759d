"""Stored email bodies hold reset, verification and invitation links: the hourly sweep
blanks a sent email's body, and an unsent one's after EMAIL_UNSENT_BODY_DAYS; what support
needs (recipient, subject, kind, attempts, error, times) stays, and the admin's jobs page
still shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from railsaas.accounts.auth import RESET_TASK
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Email, User
from railsaas.platform import mail
from railsaas.tasks import BEAT_SCHEDULE
from railsaas.tasks import mail as mail_tasks
from tests.support import login_as
from tests.support.accounts import emailed_link, run_queued


def newest(to: str, kind: str) -> Email:
    with db.scope(SYSTEM) as s:
        return s.scalars(
            select(Email)
            .where(Email.to_address == to, Email.kind == kind)
            .order_by(Email.created_at.desc())
        ).first()


def forgot(app, browser, email: str):
    """Ask for a reset link and run the task that mails it (/forgot only queues it)."""
    resp = browser.post("/forgot", {"email": email})
    run_queued(app, RESET_TASK)
    return resp


def sweep(app, now: datetime | None = None) -> int:
    with app.app_context(), db.scope(SYSTEM) as s:
        return mail.scrub_bodies(s, app.config["EMAIL_UNSENT_BODY_DAYS"], now=now)


def test_a_sent_reset_email_loses_its_link_at_the_sweep(app, browser, factory, mail_sink):
    user, _ = factory.workspace()
    assert forgot(app, browser, user.email).status_code == 303
    token = emailed_link(user.email, "auth/reset_password").removeprefix("/reset/")
    email = newest(user.email, "auth/reset_password")
    with app.app_context(), db.scope(SYSTEM) as s:
        assert mail.deliver(s, email.id) == "sent"
    assert token in mail_sink.wait_for(to=user.email).get_content()  # it went out whole

    assert sweep(app) >= 1

    after = newest(user.email, "auth/reset_password")
    assert token not in after.text_body
    assert token not in (after.html_body or "")
    assert (after.text_body, after.html_body) == ("", None)
    assert (after.to_address, after.subject, after.kind) == (
        email.to_address,
        email.subject,
        email.kind,
    )
    assert after.sent_at is not None
    assert after.created_at == email.created_at


def test_an_unsent_email_keeps_its_body_for_the_set_days(app, browser, factory):
    user, _ = factory.workspace()
    forgot(app, browser, user.email)
    email = newest(user.email, "auth/reset_password")
    days = app.config["EMAIL_UNSENT_BODY_DAYS"]
    sweep(app, now=email.created_at + timedelta(days=days) - timedelta(minutes=1))
    assert newest(user.email, "auth/reset_password").text_body == email.text_body
    sweep(app, now=email.created_at + timedelta(days=days, minutes=1))
    assert newest(user.email, "auth/reset_password").text_body == ""


def test_a_scrubbed_email_is_never_sent_empty(app, browser, factory, mail_sink):
    user, _ = factory.workspace()
    forgot(app, browser, user.email)
    email = newest(user.email, "auth/reset_password")
    sweep(app, now=datetime.now(UTC) + timedelta(days=30))
    with app.app_context(), db.scope(SYSTEM) as s:
        assert mail.deliver(s, email.id) == "skipped"
    assert mail_sink.messages(to=user.email) == []


def test_the_jobs_page_still_shows_a_failing_email_after_the_sweep(app, client, factory):
    admin, _ = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
        s.add(
            Email(
                to_address="stuck@example.com",
                subject="Reset your password",
                kind="auth/reset_password",
                text_body="https://x/reset/SECRET-TOKEN",
                attempts=3,
                last_error="SMTPServerDisconnected: gone",
                created_at=datetime.now(UTC) - timedelta(days=10),
            )
        )
    assert sweep(app) >= 1
    login_as(app, client, admin)
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "stuck@example.com" in html
    assert "auth/reset_password" in html
    assert "SMTPServerDisconnected" in html
    assert "SECRET-TOKEN" not in html


def test_the_sweep_is_scheduled_hourly_and_runs_as_a_task(app, browser, factory):
    assert BEAT_SCHEDULE["mail-scrub-bodies"]["task"] == "mail.scrub_bodies"
    user, _ = factory.workspace()
    forgot(app, browser, user.email)
    email = newest(user.email, "auth/reset_password")
    with db.scope(SYSTEM) as s:
        s.get(Email, email.id).sent_at = datetime.now(UTC)
    assert mail_tasks.scrub_bodies.apply().get() >= 1
    assert newest(user.email, "auth/reset_password").text_body == ""
