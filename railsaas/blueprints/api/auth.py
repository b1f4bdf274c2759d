"""POST /api/auth/register, /login, /refresh, /logout."""

from __future__ import annotations

from flask import g

from railsaas.accounts import attribution, auth, tokens, two_factor
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.guard import current_principal
from railsaas.blueprints.api.operations import operation
from railsaas.errors import RateLimited
from railsaas.extensions import db
from railsaas.platform import audit
from railsaas.schemas.auth import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    RegistrationAccepted,
    TokenPair,
)


@bp.post("/auth/register")
@operation(
    auth="public", body=RegisterRequest, responses={202: RegistrationAccepted}, tags=["auth"]
)
def register(body: RegisterRequest):
    """Create an account (and its personal workspace).

    A message goes to the address: a link to confirm it, or, when the address already has an
    account, a notice to its owner. The answer is the same either way (202), so it does not
    tell who has an account, and for the same reason it returns no tokens (an address that
    already has an account must get the very same answer). Next step: POST /api/auth/login
    with the same email and password for an access and a refresh token (an unconfirmed
    address may sign in; what needs a confirmed one, such as personal API tokens, answers
    403 until the link is opened). Sign-ups are limited per client
    IP (SIGNUPS_PER_IP_PER_HOUR): over it, 429 with Retry-After. utm_source, utm_medium
    and utm_campaign, when given, record where the person came from (cleaned, never
    refused)."""
    auth.register(
        db.session,
        email=body.email,
        password=body.password,
        name=body.name,
        utm=body.model_dump(include=set(attribution.FIELDS)),
    )
    db.session.commit()
    return RegistrationAccepted(email=auth.normalize_email(body.email)), 202


@bp.post("/auth/login")
@operation(
    auth="public",
    body=LoginRequest,
    responses={200: TokenPair},
    errors=(401, 429),
    tags=["auth"],
)
def login(body: LoginRequest):
    """Sign in: a short-lived access token and a single-use refresh token.

    Repeated failures pause sign-in for the account and the address (401 all the same).

    Two-factor sign-in: for an account that has it, the right password without `totp`
    answers 401 with error code `second_factor_required`; send the same request again with
    `totp` (the app's current code, or a recovery code). A wrong or already used code is 401
    `invalid_second_factor`; too many wrong codes, 429 with Retry-After. Personal API tokens
    need no code."""
    try:
        user = auth.login(
            db.session, email=body.email, password=body.password, second_factor=body.totp
        )
    except (auth.LoginFailed, two_factor.SecondFactorRequired, two_factor.InvalidSecondFactor):
        db.session.commit()  # keep the audit of the failed attempt
        raise
    except RateLimited:
        db.session.commit()
        raise
    pair = tokens.issue_pair(db.session, user)
    db.session.commit()
    return TokenPair(**pair.as_dict())


@bp.post("/auth/refresh")
@audit.exempt(
    "rotates the caller's own refresh token: session bookkeeping, like a cookie "
    "renewal (a reused token is audited as auth.refresh_reuse)"
)
@operation(
    auth="public", body=RefreshRequest, responses={200: TokenPair}, errors=(401,), tags=["auth"]
)
def refresh(body: RefreshRequest):
    """Trade a refresh token for a new pair; each refresh token works once.

    Presenting a spent one revokes its whole sign-in (both holders must sign in again)."""
    try:
        _, pair = tokens.rotate(db.session, body.refresh_token)
    except tokens.RefreshTokenReused:
        db.session.commit()  # the family's revocation must stick
        raise
    db.session.commit()
    return TokenPair(**pair.as_dict())


@bp.post("/auth/logout")
@operation(
    scope="read", body=LogoutRequest, body_required=False, responses={204: None}, tags=["auth"]
)
def logout(body: LogoutRequest):
    """Sign out: the access token's sign-in (and the refresh token sent, if any) ends."""
    principal = current_principal()
    if principal.family_id is not None or body.refresh_token:
        auth.api_logout(db.session, g.user, principal.family_id, body.refresh_token)
    db.session.commit()
    return None
