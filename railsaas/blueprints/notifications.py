"""In-app notifications: the bell (an HTMX partial in the header) and the list page."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, url_for
from flask_login import login_required

from railsaas.blueprints.htmx_helpers import current_tenant_id, redirect_to, render
from railsaas.extensions import db
from railsaas.platform import audit, notifications

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.get("/bell")
def bell():
    """The bell with the unread count; it refreshes itself every 30 seconds."""
    workspace = g.get("workspace")
    count = notifications.unread_count(db.session, workspace.id, g.user.id) if workspace else 0
    return render("notifications/_bell.html", count=count)


@bp.get("/")
def index():
    items = notifications.recent(db.session, current_tenant_id(), g.user.id)
    return render("notifications/index.html", items=items)


@bp.post("/read")
@audit.exempt("marks the reader's own notifications read: no one else's state changes")
def read_all():
    notifications.mark_read(db.session, current_tenant_id(), g.user.id)
    db.session.commit()
    return redirect_to(url_for("notifications.index"))


@bp.post("/<uuid:notification_id>/read")
@audit.exempt("marks the reader's own notification read: no one else's state changes")
def read_one(notification_id: uuid.UUID):
    notifications.mark_read(db.session, current_tenant_id(), g.user.id, notification_id)
    db.session.commit()
    return redirect_to(url_for("notifications.index"))
