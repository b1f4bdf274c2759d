"""The app factory: `create_app()` builds the Flask application (web and, through the same
factory, the Celery worker's app context)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from railsaas import input_guard
from railsaas.blueprints import (
    account,
    admin,
    api,
    auth,
    billing,
    catalog,
    dev,
    docs,
    instances,
    notifications,
    ops,
    pages,
    railway_webhooks,
    status,
    teams,
    tokens,
)
from railsaas.config import Config
from railsaas.context import init_context
from railsaas.errors import init_error_handlers
from railsaas.extensions import csrf, db
from railsaas.observability import setup as observability
from railsaas.platform import outbox  # noqa: F401  (registers the after-commit hook)
from railsaas.railway import pool
from railsaas.security import init_security_headers
from railsaas.static_assets import init_static_assets
from railsaas.tasks import celery_init_app


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    cfg = Config()
    cfg.check_safe_to_start()
    app.config.from_mapping(cfg.as_flask())
    app.config["app_database_url"] = (
        cfg.app_database_url if (cfg.APP_DATABASE_URL or cfg.DATABASE_URL) else ""
    )
    # One login per kind of work (railsaas.db, docs/security.md).
    app.config["database_urls"] = {
        "web": app.config["app_database_url"],
        "admin": cfg.admin_database_url if (cfg.ADMIN_DATABASE_URL or cfg.DATABASE_URL) else "",
        "system": cfg.system_database_url if (cfg.SYSTEM_DATABASE_URL or cfg.DATABASE_URL) else "",
    }
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not cfg.DEBUG,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=not cfg.DEBUG,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if overrides:
        app.config.update(overrides)
    app.config["SETTINGS"] = cfg
    if app.config["TRUSTED_PROXIES"]:
        # Behind Railway's proxy every request comes from the proxy: without this, IP
        # throttles would lock everyone out together and audit rows would log the proxy.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    _init_extensions(app)
    _register_blueprints(app)
    pool.check_token_key(app)  # stored Railway tokens need their key (railsaas.railway.pool)
    return app


def _init_extensions(app: Flask) -> None:
    input_guard.init_app(app)  # first: a NUL never reaches a view or the database
    db.init_app(app)
    csrf.init_app(app)
    init_context(app)
    account.init_two_factor_rule(app)  # after the request's user and workspace are bound
    init_error_handlers(app)
    init_security_headers(app)
    init_static_assets(app)
    celery_init_app(app)
    observability.init_app(app)  # logging, metrics, Sentry, the audit guard (after Celery)


def _register_blueprints(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(teams.bp)
    app.register_blueprint(dev.bp)  # 404 unless DEBUG
    app.register_blueprint(catalog.bp)
    app.register_blueprint(docs.bp)  # public, no database
    app.register_blueprint(instances.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(status.bp)
    csrf.exempt(railway_webhooks.bp)  # Railway posts server to server; the path holds a secret
    app.register_blueprint(railway_webhooks.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(billing.bp)
    csrf.exempt(api.bp)  # Bearer tokens, never cookies: nothing for CSRF to forge
    app.register_blueprint(api.bp)
