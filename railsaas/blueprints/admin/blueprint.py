"""The admin blueprint: platform admins only, every request."""

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
