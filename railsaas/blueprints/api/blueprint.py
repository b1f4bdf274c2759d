"""The API blueprint, on which every area registers its routes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.after_request
def _never_cached(response):
    """Every API answer is one caller's data, and some carry tokens (login, refresh, new API
    tokens): no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Pragma", "no-cache")
    return response
