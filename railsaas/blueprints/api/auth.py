"""POST /api/auth/register, /login, /refresh, /logout."""

from __future__ import annotations

from flask import g

from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required, current_principal
from railsaas.blueprints.api.validation import dump, parse_body
from railsaas.extensions import db
from railsaas.schemas.auth import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
)
from railsaas.schemas.users import UserOut
from railsaas.services import audit, auth, tokens


@bp.post("/auth/register")
def register():
    body = parse_body(RegisterRequest)
    user = auth.register(db.session, email=body.email, password=body.password, name=body.name)
    db.session.commit()
    return dump(UserOut.model_validate(user)), 201


@bp.post("/auth/login")
def login():
    body = parse_body(LoginRequest)
    try:
        user = auth.login(db.session, email=body.email, password=body.password)
    except auth.LoginFailed:
        db.session.commit()  # keep the audit of the failed attempt
        raise
    pair = tokens.issue_pair(db.session, user)
    db.session.commit()
    return dump(TokenPair(**pair.as_dict()))


@bp.post("/auth/refresh")
@audit.exempt("rotates the caller's own refresh token: session bookkeeping, like a cookie "
              "renewal (a reused token is audited as auth.refresh_reuse)")
def refresh():
    body = parse_body(RefreshRequest)
    try:
        _, pair = tokens.rotate(db.session, body.refresh_token)
    except tokens.RefreshTokenReused:
        db.session.commit()  # the family's revocation must stick
        raise
    db.session.commit()
    return dump(TokenPair(**pair.as_dict()))


@bp.post("/auth/logout")
@api_login_required()
def logout():
    body = parse_body(LogoutRequest, optional=True)
    principal = current_principal()
    if principal.family_id is not None or body.refresh_token:
        auth.api_logout(db.session, g.user, principal.family_id, body.refresh_token)
    db.session.commit()
    return "", 204
