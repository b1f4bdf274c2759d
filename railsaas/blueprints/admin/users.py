"""Admin: users. Search, one user with their workspaces and recent activity, suspend and
reinstate, make or revoke platform admin. Every change is audited (accounts.admin_users)."""

from __future__ import annotations

import uuid

from flask import flash, g, render_template, request, url_for

from railsaas.accounts import admin_users
from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.admin.common import PAGE_SIZE, page_number
from railsaas.blueprints.htmx_helpers import redirect_to, render
from railsaas.extensions import db
from railsaas.models import AuditLog
from railsaas.platform import audit

STATUSES = (
    ("", "Everyone"),
    ("suspended", "Suspended"),
    ("admins", "Platform admins"),
    ("unverified", "Email not verified"),
)


@bp.get("/users")
def users():
    q, status, page = request.args.get("q", "")[:200], request.args.get("status", ""), page_number()
    rows = admin_users.search(
        db.session, q, status, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
    )
    return render(
        "admin/users/index.html",
        "admin/users/_results.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        q=q,
        status=status,
        statuses=STATUSES,
    )


@bp.get("/users/<uuid:user_id>")
def user(user_id: uuid.UUID):
    uid = user_id
    person = admin_users.get(db.session, uid)
    activity = list(db.session.scalars(audit.query(audit.Filters(actor_user_id=uid), limit=20)))
    about = list(
        db.session.scalars(
            audit.query(audit.Filters(target_type="user", target_id=str(uid)), limit=20)
        )
    )
    return render_template(
        "admin/users/show.html",
        person=person,
        workspaces=admin_users.workspaces_of(db.session, uid),
        activity=activity,
        about=about,
        describe=audit.describe,
        AuditLog=AuditLog,
    )


@bp.post("/users/<uuid:user_id>/suspend")
def user_suspend(user_id: uuid.UUID):
    suspended = request.form.get("suspended") == "1"
    person = admin_users.set_suspended(db.session, g.user, user_id, suspended)
    db.session.commit()
    flash(f"{person.email} is {'suspended' if suspended else 'reinstated'}.", "success")
    return redirect_to(url_for("admin.user", user_id=person.id))


@bp.post("/users/<uuid:user_id>/role")
def user_role(user_id: uuid.UUID):
    role = request.form.get("role", "")
    person = admin_users.set_role(db.session, g.user, user_id, role)
    db.session.commit()
    flash(
        f"{person.email} is now {'a platform admin' if role == 'admin' else 'a user'}.", "success"
    )
    return redirect_to(url_for("admin.user", user_id=person.id))
