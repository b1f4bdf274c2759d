"""Who is asking and for which workspace: the request's user, workspace and membership, and
the row-level-security context derived from them.

Browser sessions store the user id with its session version (so a bump ends every other
session) and the selected workspace id. API requests authenticate with a Bearer token
(see railsaas.accounts.auth) and name their workspace through the token or `X-Workspace-ID`.

A browser request resolves all of it in two statements: the transaction's first sets the
row-level-security settings for the user and the workspace the session names, and one query
reads the user with their membership of that workspace and the workspace itself. Only when the
session names no workspace, or one the user no longer belongs to, are the memberships listed
and the settings set again. A page read (GET) takes the same from the cache Redis, without a
statement, while the user's and the workspace's version tokens say nothing in it has changed
(railsaas.context_cache).

Polled fragments (`@conditional`) answer `304 Not Modified` before any of that when the
browser's ETag is still current: the ETag is an HMAC of the user and workspace the signed
session names, the URL and the version tokens of railsaas.versions, read from Redis. The
first answer went through authorization in full, and another user or workspace computes
another ETag, so a 304 only ever tells someone that what they were shown is unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from flask import Flask, current_app, g, make_response, request, session
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import and_, select
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from railsaas import context_cache, versions
from railsaas.db import TenantContext, get_context, set_context
from railsaas.extensions import cache_redis, db, login_manager
from railsaas.models import Membership, Tenant, User

SESSION_TENANT_KEY = "tenant_id"


@dataclass
class Workspace:
    """The selected workspace and the current user's role in it."""

    tenant: Tenant
    role: str

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


def _parse_user_token(token: str | None) -> tuple[uuid.UUID, int] | None:
    try:
        raw_id, raw_version = (token or "").split(":", 1)
        return uuid.UUID(raw_id), int(raw_version)
    except ValueError:
        return None


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


@login_manager.user_loader
def _load_user(token: str) -> User | None:
    parsed = _parse_user_token(token)
    if parsed is None:
        return None
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return load_user(*parsed)
    return _load_session_user(*parsed, _as_uuid(session.get(SESSION_TENANT_KEY)))


def _load_session_user(
    user_id: uuid.UUID, session_version: int, wanted: uuid.UUID | None
) -> User | None:
    """The browser session's user, with their membership of the workspace the session names
    (kept in g for select_workspace): from the cache Redis while neither has changed
    (railsaas.context_cache), else in the transaction's two first statements: the RLS
    settings for that user and workspace, then one query."""
    set_context(db.session, TenantContext(user_id=user_id, tenant_id=wanted))
    tokens = None
    if wanted is not None and _may_use_snapshot():
        snapshot, tokens = context_cache.lookup(db.session, user_id, session_version, wanted)
        if snapshot is not None and not snapshot.user.is_suspended:
            g.prefetched_workspace = Workspace(tenant=snapshot.tenant, role=snapshot.role)
            return snapshot.user
    stmt = (
        select(User, Membership, Tenant)
        .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.tenant_id == wanted))
        .outerjoin(Tenant, and_(Tenant.id == Membership.tenant_id, Tenant.status != "deleted"))
        .where(User.id == user_id)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        return None
    user, membership, tenant = row
    if user.is_suspended or user.session_version != session_version:
        return None
    if membership is not None and tenant is not None:
        g.prefetched_workspace = Workspace(tenant=tenant, role=membership.role)
        if tokens is not None:
            context_cache.store(tokens, user, tenant, membership.role)
    return user


def _may_use_snapshot() -> bool:
    # Reads only: a write, and anything in the admin area, checks the database itself.
    return request.method in ("GET", "HEAD") and request.blueprint != "admin"


def load_user(user_id: uuid.UUID, session_version: int | None = None) -> User | None:
    """Read a user under their own RLS context; None if gone, suspended or logged out
    everywhere since (session version bumped)."""
    current = get_context(db.session)
    if current.user_id != user_id or current.role:
        # An API token has already set this user's context (in its workspace): keep it,
        # rather than narrow it here and widen it again when the request is bound.
        set_context(db.session, TenantContext(user_id=user_id))
    user = db.session.get(User, user_id)
    if user is None or user.is_suspended:
        return None
    if session_version is not None and user.session_version != session_version:
        return None
    return user


def memberships_of(user_id: uuid.UUID) -> list[Membership]:
    # The tenant comes with its membership (one query on every request, not two).
    stmt = (
        select(Membership)
        .join(Membership.tenant)
        .options(contains_eager(Membership.tenant))
        .where(Membership.user_id == user_id, Tenant.status != "deleted")
        .order_by(Tenant.name)
    )
    return list(db.session.scalars(stmt))


def select_workspace(user: User, wanted: uuid.UUID | str | None) -> Workspace | None:
    """The workspace to act in: `wanted` if the user belongs to it, else their first."""
    prefetched = g.pop("prefetched_workspace", None)
    if prefetched is not None and wanted and str(prefetched.id) == str(wanted):
        return prefetched
    # The user's own memberships (whatever workspace the settings name, the query and the
    # membership policy keep it to the user's own).
    memberships = memberships_of(user.id)
    if not memberships:
        return None
    chosen = memberships[0]
    if wanted:
        for m in memberships:
            if str(m.tenant_id) == str(wanted):
                chosen = m
                break
    return Workspace(tenant=chosen.tenant, role=chosen.role)


def bind(user: User | None, workspace: Workspace | None, *, admin: bool = False) -> None:
    """Set g.user / g.workspace and the RLS context of the request's session."""
    g.user = user
    g.workspace = workspace
    role = "platform_admin" if admin and user is not None and user.is_platform_admin else ""
    set_context(
        db.session,
        TenantContext(
            tenant_id=workspace.id if workspace else None,
            user_id=user.id if user else None,
            role=role,
        ),
    )


def init_context(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @app.before_request
    def _bind_browser_session() -> Response | None:
        g.user, g.workspace = None, None
        if request.blueprint == "api" or request.path.startswith("/api/"):
            return None  # the API authenticates per request (Bearer tokens), not with cookies
        if request.endpoint == "static":
            return None
        unchanged = _not_modified()
        if unchanged is not None:
            return unchanged
        if current_user.is_authenticated:
            user = current_user._get_current_object()
            workspace = select_workspace(user, session.get(SESSION_TENANT_KEY))
            if workspace is not None and session.get(SESSION_TENANT_KEY) != str(workspace.id):
                # Written only when it changes: an unchanged session is not signed and sent
                # back again on every request (each poll of a status badge, say).
                session[SESSION_TENANT_KEY] = str(workspace.id)
            bind(user, workspace, admin=request.blueprint == "admin")
        else:
            bind(None, None)
        return None

    @app.after_request
    def _etag(response: Response) -> Response:
        etag, user_id, tenant_id = g.pop("conditional_etag", (None, None, None))
        user, workspace = g.get("user"), g.get("workspace")
        if (
            etag
            and response.status_code in (200, 286)
            and user is not None
            and workspace is not None
            # The answer is for the user and workspace the ETag was computed for.
            and user.id == user_id
            and workspace.id == tenant_id
        ):
            _conditional_headers(response, etag)
        return response

    @app.context_processor
    def _inject() -> dict:
        return {"workspace": g.get("workspace")}


# --- conditional polls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Conditional:
    usage: bool = False  # the answer depends on the usage roll-up
    hourly: bool = False  # ... and on the time (a forecast): a new ETag every UTC hour
    fragment_only: bool = False  # only the HTMX fragment (a page has forms and flashes)


def conditional(**options: bool) -> Callable:
    """Mark a polled GET view whose answer depends only on the signed-in user, their
    workspace's rows (and what `Conditional` adds): it carries an ETag, and a request whose
    If-None-Match still matches is answered 304 before the session's user is even loaded.
    The view must not depend on anything a version token (railsaas.versions) does not cover."""
    spec = Conditional(**options)

    def mark(view: Callable) -> Callable:
        view.conditional = spec
        return view

    return mark


def _conditional_headers(response: Response, etag: str) -> None:
    response.set_etag(etag, weak=True)
    # Every use asks again (no-cache), no shared cache keeps it (private), and a browser's
    # cached copy belongs to this cookie and this kind of request.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.update(("Cookie", "HX-Request"))


def _version_parts(
    user_id: uuid.UUID, session_version: int, tenant_id: uuid.UUID, spec: Conditional
) -> list[str] | None:
    """What an answer for this user and workspace depends on: them and the version tokens
    (railsaas.versions) that `spec` names; None when Redis cannot say."""
    keys = [versions.workspace_key(tenant_id), versions.user_key(user_id)]
    if spec.usage:
        keys.append(versions.USAGE)
    tokens = versions.read(*keys)
    if tokens is None:
        return None
    parts = [str(user_id), str(session_version), str(tenant_id), *tokens]
    if spec.hourly:
        parts.append(datetime.now(UTC).strftime("%Y-%m-%dT%H"))
    return parts


def _sign(parts: list[str]) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


FRAGMENT_TTL_SECONDS = 3600


def cached_fragment(name: str, render: Callable[[], str], **options: bool) -> Markup:
    """The rendered fragment `name` of the signed-in user's workspace, from the cache Redis
    while the version tokens `options` (as for @conditional) name are unchanged; `render()`
    makes it otherwise. Called from a view, after the request's authorization, so only
    someone who may see it now ever gets it; the key is signed and per user."""
    user, workspace = g.get("user"), g.get("workspace")
    parts = (
        _version_parts(user.id, user.session_version, workspace.id, Conditional(**options))
        if user is not None and workspace is not None
        else None
    )
    if parts is None:
        return Markup(render())  # noqa: S704 (a template's output)
    key = f"fragment:{name}:{_sign([name, *parts])}"
    client = cache_redis()
    with contextlib.suppress(redis.RedisError):
        cached = client.get(key)
        if cached is not None:
            return Markup(cached)  # noqa: S704 (a template's output, cached)
    html = render()
    with contextlib.suppress(redis.RedisError):
        client.set(key, html, ex=FRAGMENT_TTL_SECONDS)
    return Markup(html)  # noqa: S704 (a template's output)


def _not_modified() -> Response | None:
    """304 when the request's If-None-Match is the current ETag of a @conditional view for
    the user and workspace its signed session names; else None, and the ETag the answer will
    carry is kept in g (computed before the view reads anything it stands for)."""
    view = current_app.view_functions.get(request.endpoint or "")
    options: Conditional | None = getattr(view, "conditional", None)
    if options is None or request.method not in ("GET", "HEAD"):
        return None
    if options.fragment_only and (
        request.headers.get("HX-Request") != "true" or request.headers.get("HX-Boosted")
    ):
        return None
    parsed = _parse_user_token(session.get("_user_id"))
    tenant_id = _as_uuid(session.get(SESSION_TENANT_KEY))
    if parsed is None or tenant_id is None or session.get("_flashes"):
        return None
    # flask-login's session protection would refuse this session: so does the shortcut.
    if (
        login_manager.session_protection
        and session.get("_id") != login_manager._session_identifier_generator()
    ):
        return None
    user_id, session_version = parsed
    parts = _version_parts(user_id, session_version, tenant_id, options)
    if parts is None:
        return None
    request_parts = [
        request.endpoint or "",
        request.full_path,
        request.headers.get("HX-Request", ""),
    ]
    etag = _sign([*request_parts, *parts])
    if request.if_none_match.contains_weak(etag):
        response = make_response("", 304)
        _conditional_headers(response, etag)
        return response
    g.conditional_etag = (etag, user_id, tenant_id)
    return None
