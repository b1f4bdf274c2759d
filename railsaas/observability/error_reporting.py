"""Sentry, when SENTRY_DSN is set: Flask and Celery integrations, the user and workspace on
every event, and no secret in any of it.

What leaves the process is kept small on purpose: no request bodies (login and payment
forms), no local variables of stack frames (a token in a variable), no cookies or IPs
(send_default_pii off), and every string left is passed through the same redactor as the
logs (railsaas.observability.logging), in before_send and before_breadcrumb.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any

import sentry_sdk
from flask import has_request_context, request
from sentry_sdk.consts import ClientConstructor
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from railsaas.observability.logging import _flask_fields, bound_fields, redactor, safe_path

log = logging.getLogger(__name__)


def _context_tags() -> dict[str, Any]:
    """Who and where: the request's user and workspace, or the task's bound fields."""
    fields = bound_fields()
    fields.update(_flask_fields(fields))
    return {
        k: str(v)
        for k, v in fields.items()
        if v is not None and k in ("request_id", "user_id", "tenant_id", "task", "task_id")
    }


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    tags = _context_tags()
    _mask_url(event)
    if tags.get("user_id"):
        event["user"] = {"id": tags["user_id"]}  # an id, never the email
    if tags.get("tenant_id"):
        tags["workspace_id"] = tags.pop("tenant_id")
    event["tags"] = {**(event.get("tags") or {}), **tags}
    return redactor.value(event)


def _mask_url(event: dict[str, Any]) -> None:
    """A reset or verification link's token is part of the path: mask it in the URL."""
    req = event.get("request")
    if not (isinstance(req, dict) and req.get("url") and has_request_context()):
        return
    req["url"] = req["url"].replace(request.path, safe_path())


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    return redactor.value(crumb)


def _privacy_options() -> dict[str, Any]:
    """No user details beyond the id we set, no cookies, bodies or frame variables. Newer SDKs
    say it with `data_collection` (and deprecate send_default_pii); older ones cannot."""
    if "data_collection" in inspect.signature(ClientConstructor.__init__).parameters:
        return {
            "data_collection": {
                "user_info": False,
                "cookies": {"mode": "off"},
                "http_bodies": [],
                "stack_frame_variables": False,
                "database_query_data": False,
                "queues": False,
                "graphql": {"document": False, "variables": False},
            }
        }
    return {"send_default_pii": False, "include_local_variables": False}


def init_app(app) -> bool:
    """Initialise Sentry once per process when a DSN is configured. Returns whether it is."""
    dsn = app.config.get("SENTRY_DSN") or ""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        integrations=[
            FlaskIntegration(),
            CeleryIntegration(),
            # Errors logged with log.exception() become events; INFO lines breadcrumbs.
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        environment=app.config.get("SENTRY_ENVIRONMENT")
        or ("development" if app.config.get("DEBUG") else "production"),
        # Railway sets the deployed commit; elsewhere Sentry guesses from git.
        release=os.environ.get("RAILWAY_GIT_COMMIT_SHA") or None,
        max_request_body_size="never",
        **_privacy_options(),
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        traces_sample_rate=app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0,
    )
    log.info("error reporting to Sentry enabled")
    return True
