"""Admin: the most expensive database statements (pg_stat_statements), when available."""

from __future__ import annotations

from flask import current_app, render_template

from railsaas.blueprints.admin.blueprint import bp
from railsaas.extensions import db
from railsaas.reporting import database


@bp.get("/database", endpoint="database")
def database_index():
    return render_template(
        "admin/database/index.html",
        report=database.top_statements(db.session),
        slow_query_ms=current_app.config["SLOW_QUERY_MS"],
    )
