"""Errors: JSON `{"error": {"code", "message", "details"}}` under /api, pages elsewhere, and a
short fragment for an HTMX request (app.js shows its message where the person clicked: htmx
does not swap a 4xx/5xx answer, so a whole error page would be thrown away unseen).

Services raise `ServiceError` subclasses; views never build error responses by hand.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A business rule said no. Carries an HTTP status and a stable machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details
        self.status = status or self.status


class ValidationFailed(ServiceError):
    status, code = 422, "validation_failed"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class Unauthenticated(ServiceError):
    status, code = 401, "unauthenticated"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class LimitExceeded(ServiceError):
    status, code = 402, "limit_exceeded"


class RateLimited(ServiceError):
    """Too many attempts (railsaas.platform.throttles): 429 with `Retry-After` seconds, which
    the JSON error's details repeat."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _error_page(status: int, message: str) -> Response:
    """The error page, or for an HTMX request (not boosted: a boosted one wants a whole page)
    just the message, which app.js reads from `[data-error-message]`."""
    htmx = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")
    template = "errors/_message.html" if htmx else "errors/error.html"
    response = current_app.make_response(
        (render_template(template, status=status, message=message), status)
    )
    response.vary.add("HX-Request")
    return response


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        if wants_json():
            response = jsonify(error_body(exc.code, exc.message, exc.details))
        else:
            response = _error_page(exc.status, exc.message)
        response.status_code = exc.status
        if isinstance(exc, RateLimited) and exc.retry_after > 0:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        if wants_json():
            return jsonify(error_body("csrf_failed", exc.description)), 400
        return _error_page(400, "Your form expired. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        if wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            response = jsonify(error_body(code, exc.description or exc.name))
            response.status_code = status
        else:
            response = _error_page(status, exc.description or exc.name)
        valid_methods = getattr(exc, "valid_methods", None)
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(exc: OperationalError):
        # The database went away mid-request (failover, restart, a dropped connection) or
        # gave up on a statement: the request's transaction is lost, and the next request
        # gets a fresh connection (pool_pre_ping). Say so, as a 503 the client may retry.
        log.error(
            "database unavailable: %s",
            type(exc.orig or exc).__name__,
            exc_info=exc,
            extra={"path": request.path},
        )
        _forget_request_rows()
        message = "The service is briefly unavailable. Try again in a moment."
        if wants_json():
            return jsonify(error_body("unavailable", message)), 503
        return _error_page(503, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"path": request.path})
        if isinstance(exc, SQLAlchemyError):
            _forget_request_rows()
        if wants_json():
            return jsonify(error_body("internal_error", "Something went wrong on our side.")), 500
        return _error_page(500, "Something went wrong on our side.")


def _forget_request_rows() -> None:
    """After a failed transaction the request's rows (user, workspace) are expired and the
    session cannot reload them: end the session, and render the error page as for a visitor
    rather than fail a second time while drawing the user's menu."""
    session = g.pop("db_session", None)
    if session is not None:
        with contextlib.suppress(Exception):  # the connection is gone already
            session.close()
    g.user = g.workspace = None
    g._login_user = current_app.login_manager.anonymous_user()  # flask-login's current_user
