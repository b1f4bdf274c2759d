"""Authentication for the JSON API: `@api_login_required()` on a view.

It reads `Authorization: Bearer <token>`, turns the token into a Principal through the
registered authenticators (JWT access tokens here; personal API tokens register theirs the
same way), loads the user (session version checked for session tokens), selects the
workspace (`X-Workspace-ID`, else the token's own workspace, else the user's first), and binds
the RLS context. Failures answer 401 with `WWW-Authenticate: Bearer`, and 403 for a signed-in
user on an admin route or lacking a scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import g, jsonify, request
from sqlalchemy.orm import Session

from railsaas import context
from railsaas.accounts import tokens, two_factor
from railsaas.errors import Forbidden, NotFound, ServiceError, Unauthenticated, error_body
from railsaas.extensions import db


@dataclass(frozen=True)
class Principal:
    """Who a bearer credential speaks for."""

    user_id: uuid.UUID
    kind: str  # "session" (JWT from /api/auth/login) | "api_token"
    # Must equal users.session_version; None for credentials that outlive sessions.
    session_version: int | None = None
    family_id: uuid.UUID | None = None  # the sign-in a session token belongs to
    tenant_id: uuid.UUID | None = None  # set when the credential is bound to one workspace
    api_token_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None  # None: whatever the user may do


# An authenticator returns None when the token is not its kind, a Principal when it is valid,
# and raises Unauthenticated when it is its kind but unusable.
Authenticator = Callable[[Session, str], Principal | None]
_authenticators: list[Authenticator] = []


def register_authenticator(fn: Authenticator) -> Authenticator:
    if fn not in _authenticators:
        _authenticators.insert(0, fn)  # specific formats before the JWT fallback
    return fn


def jwt_authenticator(session: Session, token: str) -> Principal | None:
    if token.count(".") != 2:
        return None
    claims = tokens.decode(token, tokens.ACCESS)
    if tokens.family_revoked(session, claims.user_id, claims.family_id):
        raise tokens.InvalidToken("The token has been revoked.")
    return Principal(
        user_id=claims.user_id,
        kind="session",
        session_version=claims.session_version,
        family_id=claims.family_id,
    )


_authenticators.append(jwt_authenticator)


def authenticate(session: Session) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "Send an access token: Authorization: Bearer <token>.", code="missing_token"
        )
    for authenticator in _authenticators:
        principal = authenticator(session, token)
        if principal is not None:
            return principal
    raise tokens.InvalidToken("The token is invalid.")


def _workspace(user, principal: Principal) -> context.Workspace | None:
    # Present but empty is malformed too (a client's template left unfilled), not "none".
    wanted: Any = request.headers.get("X-Workspace-ID")
    if wanted is not None:
        try:
            wanted = uuid.UUID(wanted.strip())
        except ValueError:
            raise ServiceError(
                "X-Workspace-ID must be a workspace id (UUID).",
                code="invalid_workspace_id",
                status=400,
            ) from None
    if principal.tenant_id is not None:
        if wanted is not None and wanted != principal.tenant_id:
            raise Forbidden("This token belongs to another workspace.")
        wanted = principal.tenant_id
    workspace = context.select_workspace(user, wanted)
    if wanted is not None and (workspace is None or workspace.id != wanted):
        raise NotFound("No such workspace.")
    return workspace


def _unauthorized(exc: Unauthenticated):
    response = jsonify(error_body(exc.code, exc.message, exc.details))
    response.status_code = 401
    error = "invalid_token" if exc.code != "missing_token" else "invalid_request"
    response.headers["WWW-Authenticate"] = f'Bearer realm="api", error="{error}"'
    return response


def required_scope(admin: bool, scope: str | None, method: str) -> str:
    """The scope a scoped credential needs. Platform-admin routes need 'admin'; an unnamed
    scope is 'read' for GET and, failing closed, 'admin' for anything else."""
    if admin:
        return "admin"
    if scope:
        return scope
    return "read" if method.upper() in ("GET", "HEAD") else "admin"


def api_login_required(
    fn: Callable | None = None, *, admin: bool = False, scope: str | None = None
):
    """Decorate an API view: `@api_login_required()`, `@api_login_required(admin=True)`.

    admin=True: platform admins only (403 for others), and the request runs as
    the admin login. scope: required of scoped credentials (API tokens); see
    required_scope for the default."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            session = db.session
            try:
                principal = authenticate(session)
                user = context.load_user(principal.user_id, principal.session_version)
                if user is None:
                    raise tokens.InvalidToken("The token has been revoked.")
            except Unauthenticated as exc:
                return _unauthorized(exc)
            if admin and not user.is_platform_admin:
                raise Forbidden("Only platform admins may do this.")
            if admin and not two_factor.enabled_for(user):
                raise Forbidden(
                    "Platform admins must turn on two-factor sign-in (on the account page) "
                    "before using the admin API.",
                    code="two_factor_required",
                )
            needed = required_scope(admin, scope, request.method)
            if principal.scopes is not None and needed not in principal.scopes:
                raise Forbidden(
                    f"This token lacks the '{needed}' scope.",
                    code="insufficient_scope",
                    details={"required_scope": needed},
                )
            workspace = _workspace(user, principal)
            g.api_principal = principal
            if principal.api_token_id is not None:
                g.api_token_id = principal.api_token_id  # audit.record notes it
            context.bind(user, workspace, admin=admin)
            return view(*args, **kwargs)

        return wrapper

    return decorator(fn) if fn is not None else decorator


def current_principal() -> Principal:
    return g.api_principal
