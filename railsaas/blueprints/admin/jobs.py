"""Admin: what failed in the background. Tasks that failed for good (retry or dismiss them,
audited), emails that will not send, work stuck in the outbox, and deployments stuck past
the deploy timeout."""

from __future__ import annotations

from flask import current_app, flash, g, render_template, url_for

from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.extensions import db
from railsaas.reporting import jobs


@bp.get("/jobs", endpoint="jobs")
def jobs_index():
    timeout = int(current_app.config["DEPLOY_TIMEOUT_SECONDS"])
    return render_template(
        "admin/jobs/index.html",
        failures=jobs.open_failures(db.session),
        counts=jobs.failure_counts(db.session),
        stuck=jobs.stuck_instances(db.session, timeout),
        timeout_minutes=timeout // 60,
        emails=jobs.failing_emails(db.session),
        backlog=jobs.outbox_backlog(db.session),
    )


@bp.post("/jobs/<int:failure_id>/retry")
def job_retry(failure_id: int):
    failure = jobs.retry(db.session, failure_id, g.user.id)
    db.session.commit()
    flash(f"{failure.task_name} sent again.", "success")
    return redirect_to(url_for("admin.jobs"))


@bp.post("/jobs/<int:failure_id>/dismiss")
def job_dismiss(failure_id: int):
    failure = jobs.dismiss(db.session, failure_id, g.user.id)
    db.session.commit()
    flash(f"Dismissed the failure of {failure.task_name}.", "success")
    return redirect_to(url_for("admin.jobs"))
