"""/api/tokens: the caller's personal API tokens in the selected workspace, and the Bearer
authenticator that accepts them beside JWTs."""

from __future__ import annotations

import uuid

from flask import g, url_for
from sqlalchemy.orm import Session

from railsaas.accounts import api_tokens
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.guard import Principal, current_principal, register_authenticator
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate
from railsaas.errors import NotFound
from railsaas.extensions import db
from railsaas.models import ApiToken
from railsaas.observability import audit_guard
from railsaas.schemas.common import Page
from railsaas.schemas.tokens import TokenCreate, TokenCreated, TokenListQuery, TokenOut


@register_authenticator
def api_token_authenticator(session: Session, token: str) -> Principal | None:
    if not token.startswith(api_tokens.PREFIX):
        return None
    record = api_tokens.authenticate(session, token)
    if api_tokens.touch(session, record):
        session.commit()  # bookkeeping of its own: GETs never commit, failed views roll back
        audit_guard.bookkeeping_only()  # not the request's state change
    return Principal(
        user_id=record.user_id,
        kind="api_token",
        tenant_id=record.tenant_id,
        api_token_id=record.id,
        scopes=frozenset(record.scopes),
    )


def _tenant_id() -> uuid.UUID:
    if g.workspace is None:
        raise NotFound("No workspace: create one, or name it with X-Workspace-ID.")
    return g.workspace.id


@bp.get("/tokens")
@operation(query=TokenListQuery, responses={200: Page[TokenOut]}, tags=["tokens"])
def tokens_index(query: TokenListQuery):
    """List your API tokens in this workspace.

    Newest first; secrets are never shown again, only each token's prefix."""
    stmt = api_tokens.query(_tenant_id(), g.user.id, query.status)
    page = paginate(db.session, stmt, ApiToken, query)
    return Page[TokenOut](items=[TokenOut.of(t) for t in page.rows], next_cursor=page.next_cursor)


@bp.post("/tokens")
@operation(
    scope="admin", body=TokenCreate, responses={201: TokenCreated}, errors=(409,), tags=["tokens"]
)
def tokens_create(body: TokenCreate):
    """Create an API token: the answer holds its secret, this once.

    The token acts as you, in this workspace only, within its scopes. Called with a token,
    the new one cannot have more scopes than the caller's."""
    token, secret = api_tokens.create(
        db.session,
        g.workspace,
        user_id=g.user.id,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        within=current_principal().scopes,
    )
    db.session.commit()
    out = TokenCreated(**TokenOut.of(token).model_dump(), token=secret)
    return (
        out,
        201,
        {"Location": url_for("api.tokens_show", token_id=token.id), "Cache-Control": "no-store"},
    )


@bp.get("/tokens/<uuid:token_id>")
@operation(responses={200: TokenOut}, tags=["tokens"])
def tokens_show(token_id: uuid.UUID):
    """One of your API tokens."""
    return TokenOut.of(api_tokens.get(db.session, _tenant_id(), g.user.id, token_id))


@bp.delete("/tokens/<uuid:token_id>")
@operation(scope="admin", responses={204: None}, tags=["tokens"])
def tokens_revoke(token_id: uuid.UUID):
    """Revoke one of your API tokens: it stops working at once.

    Revoking a revoked token again changes nothing."""
    api_tokens.revoke(db.session, _tenant_id(), g.user.id, token_id)
    db.session.commit()
    return None
