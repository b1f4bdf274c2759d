"""Public pages and the signed-in home."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("pages/index.html")


@bp.get("/dashboard")
@login_required
def dashboard():
    return render_template("pages/dashboard.html")
