"""The public documentation (/docs): no sign-in, no database. The pages and their search
live in railsaas.docs; this only picks the page and renders it."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from railsaas.blueprints.htmx_helpers import render
from railsaas.docs import library as docs

bp = Blueprint("docs", __name__, url_prefix="/docs")


def _library() -> docs.Library:
    return docs.library(docs.settings_values(current_app.config))


@bp.get("")
def index():
    return render_template("docs/index.html", library=_library(), current=None)


@bp.get("/search")
def search():
    """The results page; with HTMX aimed at #docs-results, only the results (live search)."""
    query = request.args.get("q", "", type=str)[: docs.MAX_QUERY]
    lib = _library()
    return render(
        "docs/search.html",
        "docs/_results.html",
        partial_for="docs-results",
        library=lib,
        current=None,
        query=query,
        terms=docs.query_terms(query),
        hits=lib.search(query),
    )


@bp.get("/<slug>")
def page(slug: str):
    lib = _library()
    current = lib.get(slug)  # NotFound: the 404 page
    previous, following = lib.neighbours(current)
    return render_template(
        "docs/page.html", library=lib, current=current, previous=previous, following=following
    )
