"""The admin panel under /admin: platform admins only. Requests here run with
app.role = 'platform_admin' (bound in railsaas.context), so they see every workspace.

Each area adds a module here (plans.py, templates.py, users.py, ...) registering routes on
`bp`, and imports it at the bottom of this file.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from railsaas.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _require_platform_admin():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_platform_admin:
        abort(403)
    return None


@bp.get("/")
def index():
    return render_template("admin/index.html")


from railsaas.blueprints.admin import (  # noqa: E402, F401
    audit,
    instances,
    jobs,
    metrics,
    plans,
    templates,
    users,
    workspaces,
)
