"""Small helpers for views that serve a page and its HTMX fragment from one URL."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from railsaas.errors import NotFound

# HTMX stops polling an element whose response carries this status (htmx docs, "polling").
STOP_POLLING = 286


def wants_fragment() -> bool:
    """The one rule for "answer with the fragment": an HTMX request that is not boosted (a
    boosted link or form wants the whole page, which htmx swaps into the body)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


def htmx_target() -> str | None:
    return request.headers.get("HX-Target")


def render(
    page: str,
    partial: str | None = None,
    /,
    *,
    status_code: int = 200,
    partial_for: str | None = None,
    **context,
) -> Response:
    """The whole page, or just `partial` when `wants_fragment()` (optionally only when the
    request targets `partial_for`), with HX-Request added to Vary (never replacing what is
    there) so caches keep the two apart. A fragment-only endpoint passes just `page`. The two names
    are positional-only and the status is `status_code`, so a template may still get a `page`
    (of results) or a `status` (filter) in its context."""
    use_partial = (
        partial is not None
        and wants_fragment()
        and (partial_for is None or htmx_target() == partial_for)
    )
    response = make_response(
        render_template(partial if use_partial else page, **context), status_code
    )
    response.vary.add("HX-Request")
    return response


def redirect_to(url: str) -> Response:
    """After a change: HX-Redirect for HTMX, 303 See Other for a plain form post."""
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def current_tenant_id():
    workspace = g.get("workspace")
    if workspace is None:
        raise NotFound("Choose or create a workspace first.")
    return workspace.id
