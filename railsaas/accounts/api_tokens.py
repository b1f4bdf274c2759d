"""Personal API tokens: one user's key to one workspace, for scripts and CI.

- Format: `rs_live_` + 30 random base62 characters + a 6-character checksum (CRC32 of the
  random part). The prefix makes a leaked token recognisable to secret scanners and to
  people; the checksum lets a mistyped or truncated token be refused without a database
  lookup. The secret is shown once, at creation; only its SHA-256 is stored (a 178-bit
  random secret needs no slow hash), with its first 12 characters kept for display.
- Scopes: read < deploy < admin, each including the ones before it. `read` reads anything
  the user may see in the workspace, `deploy` also creates and manages instances, `admin`
  also manages the workspace (billing, members, tokens) and, for platform admins, the
  platform. Stored expanded, so a check is a membership test. Scopes only narrow: the
  user's role in the workspace still applies.
- A token expires (1 to 365 days), can be revoked, and stops working when its user leaves
  the workspace or is suspended. It survives sign-outs and password changes: it is a
  separately managed credential (revoke it on the tokens page). Only a verified address may
  mint one, and a password reset or the first verification revokes every token made before
  it (`revoke_all_for_user`): whoever held the account before its owner proved the address
  keeps nothing.
- Looking a token up happens before anyone is known to RLS: the SECURITY DEFINER function
  auth_find_api_token(hash) (migration 0004) returns only what authentication needs.
- last_used_at is written at most once a minute per token (the API commits it on its own,
  before the request's work), so a busy script does not turn every read into a write.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from railsaas.accounts import names, verification
from railsaas.accounts.tokens import InvalidToken
from railsaas.db import TenantContext, get_context, set_context
from railsaas.errors import Conflict, Forbidden, NotFound, ValidationFailed
from railsaas.models import ApiToken, Membership, Tenant
from railsaas.permissions import HasRole, authorize
from railsaas.platform import audit

PREFIX = "rs_live_"
SCOPES = ("read", "deploy", "admin")  # each includes the ones before it
DISPLAY_CHARS = 12
MAX_DAYS = 365
DEFAULT_DAYS = 90
MAX_ACTIVE_PER_USER = 50
NAME_MAX = 100
TOUCH_INTERVAL = timedelta(minutes=1)
STATUSES = ("active", "expired", "revoked")

_ALPHABET = string.digits + string.ascii_letters
_RANDOM_CHARS, _CHECK_CHARS = 30, 6


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_CHARS)


def generate_secret() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return PREFIX + body + _checksum(body)


def looks_like_token(token: str) -> bool:
    """Our format, with a checksum that matches (no database needed to say no)."""
    if not token.startswith(PREFIX):
        return False
    rest = token[len(PREFIX) :]
    if len(rest) != _RANDOM_CHARS + _CHECK_CHARS or any(c not in _ALPHABET for c in rest):
        return False
    return secrets.compare_digest(_checksum(rest[:_RANDOM_CHARS]), rest[_RANDOM_CHARS:])


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expand_scopes(scopes: Any) -> list[str]:
    """Validated and expanded: ["deploy"] -> ["read", "deploy"]."""
    if not isinstance(scopes, list | tuple | set | frozenset) or not scopes:
        raise ValidationFailed(
            "Choose a scope.", details={"scopes": "Choose read, deploy or admin."}
        )
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationFailed(
            "Unknown scope.", details={"scopes": "Scopes are read, deploy and admin."}
        )
    top = max(SCOPES.index(s) for s in scopes)
    return list(SCOPES[: top + 1])


def status_of(token: ApiToken, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _clean_name(raw: Any) -> str:
    return names.clean_display_name(raw, max_len=NAME_MAX, empty="Name the token.")


def _active(stmt: Select, now: datetime) -> Select:
    return stmt.where(
        ApiToken.revoked_at.is_(None), (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now)
    )


def create(
    session: Session,
    workspace: HasRole | None,
    *,
    user_id: uuid.UUID,
    name: Any,
    scopes: Any,
    expires_in_days: Any = DEFAULT_DAYS,
    within: frozenset[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret (returned this once), for the caller in `workspace` (the
    request's workspace and role; `tokens.create` is checked here). `within`: the scopes of
    the credential asking, when that is itself a token: it cannot mint a stronger one. The
    user must have confirmed their address (accounts.verification)."""
    authorize(workspace, "tokens.create")
    verification.require_verified(session, user_id)
    tenant_id = workspace.id
    name = _clean_name(name)
    expanded = expand_scopes(scopes)
    if (
        not isinstance(expires_in_days, int)
        or isinstance(expires_in_days, bool)
        or not 1 <= expires_in_days <= MAX_DAYS
    ):
        raise ValidationFailed(
            "Invalid expiry.", details={"expires_in_days": f"Choose 1 to {MAX_DAYS} days."}
        )
    if within is not None and not set(expanded) <= within:
        raise Forbidden(
            "A token cannot create a token with more scopes than its own.",
            code="insufficient_scope",
        )
    now = datetime.now(UTC)
    mine = _active(
        select(ApiToken.name).where(ApiToken.tenant_id == tenant_id, ApiToken.user_id == user_id),
        now,
    )
    names = set(session.scalars(mine))
    if name in names:
        raise Conflict(
            "You already have an active token with this name.",
            code="name_taken",
            details={"name": "Choose another name."},
        )
    if len(names) >= MAX_ACTIVE_PER_USER:
        raise Conflict(
            f"You have {MAX_ACTIVE_PER_USER} active tokens in this workspace: revoke one first.",
            code="too_many_tokens",
        )
    secret = generate_secret()
    token = ApiToken(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        name=name,
        prefix=secret[:DISPLAY_CHARS],
        token_hash=hash_secret(secret),
        scopes=expanded,
        expires_at=now + timedelta(days=expires_in_days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        "api_token.created",
        target_type="api_token",
        target_id=token.id,
        details={"name": name, "scopes": expanded, "expires_at": token.expires_at.isoformat()},
    )
    return token, secret


def query(tenant_id: uuid.UUID, user_id: uuid.UUID, status: str | None = None) -> Select:
    """The user's tokens in the workspace, optionally only those of one status."""
    stmt = select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.user_id == user_id)
    now = datetime.now(UTC)
    if status == "active":
        stmt = _active(stmt, now)
    elif status == "revoked":
        stmt = stmt.where(ApiToken.revoked_at.is_not(None))
    elif status == "expired":
        stmt = stmt.where(ApiToken.revoked_at.is_(None), ApiToken.expires_at <= now)
    return stmt


def list_for_page(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, limit: int = 100
) -> list[ApiToken]:
    stmt = query(tenant_id, user_id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def get(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken:
    """One of the user's own tokens in the workspace; 404 for anything else."""
    token = session.scalar(query(tenant_id, user_id).where(ApiToken.id == token_id))
    if token is None:
        raise NotFound("No such token.")
    return token


def revoke(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken:
    """Revoke (idempotent: revoking a revoked token changes nothing)."""
    token = get(session, tenant_id, user_id, token_id)
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.flush()
        audit.record(
            session,
            "api_token.revoked",
            target_type="api_token",
            target_id=token.id,
            details={"name": token.name},
        )
    return token


@dataclass(frozen=True)
class RevokedToken:
    name: str
    prefix: str
    workspace: str
    created_at: datetime


def revoke_all_for_user(
    session: Session, user_id: uuid.UUID, *, before: datetime, reason: str
) -> list[RevokedToken]:
    """Revoke every live token of the user, in every workspace they belong to, created
    before `before`. Tokens are workspace rows (RLS), so this acts in each of the user's
    workspaces in turn and then restores the caller's context."""
    ctx = get_context(session)
    tenants = session.execute(
        select(Tenant.id, Tenant.name)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
    ).all()
    revoked: list[RevokedToken] = []
    try:
        for tenant_id, workspace in tenants:
            set_context(session, TenantContext(tenant_id=tenant_id, user_id=user_id))
            rows = session.execute(
                update(ApiToken)
                .where(
                    ApiToken.tenant_id == tenant_id,
                    ApiToken.user_id == user_id,
                    ApiToken.revoked_at.is_(None),
                    ApiToken.created_at < before,
                )
                .values(revoked_at=func.now())
                .returning(ApiToken.id, ApiToken.name, ApiToken.prefix, ApiToken.created_at)
                .execution_options(synchronize_session=False)
            ).all()
            for token_id, name, prefix, created_at in rows:
                revoked.append(RevokedToken(name, prefix, workspace, created_at))
                audit.record(
                    session,
                    "api_token.revoked",
                    target_type="api_token",
                    target_id=token_id,
                    tenant_id=tenant_id,
                    details={"name": name, "reason": reason},
                )
    finally:
        set_context(session, ctx)
    return revoked


# --- authentication ----------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRecord:
    """What auth_find_api_token returns: enough to authenticate, nothing more."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def authenticate(session: Session, secret: str) -> TokenRecord:
    """The live token behind `secret`, or InvalidToken. Leaves the session acting as the
    token's user in its workspace."""
    if not looks_like_token(secret):
        raise InvalidToken("The token is invalid.")
    row = session.execute(
        text(
            "SELECT id, tenant_id, user_id, scopes, expires_at, revoked_at, last_used_at "
            "FROM auth_find_api_token(:hash)"
        ),
        {"hash": hash_secret(secret)},
    ).first()
    if row is None:
        raise InvalidToken("The token is invalid.")
    record = TokenRecord(*row)
    if record.revoked_at is not None:
        raise InvalidToken("The token has been revoked.")
    if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
        raise InvalidToken("The token has expired.")
    # From here on, act as the token's user in its workspace (RLS applies as usual).
    set_context(session, TenantContext(tenant_id=record.tenant_id, user_id=record.user_id))
    member = session.scalar(
        select(Membership.id)
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .where(
            Membership.tenant_id == record.tenant_id,
            Membership.user_id == record.user_id,
            Tenant.status != "deleted",
        )
    )
    if member is None:
        raise InvalidToken("The token's user no longer belongs to its workspace.")
    return record


def touch(session: Session, record: TokenRecord) -> bool:
    """Note the use in last_used_at unless that was done less than a minute ago (checked
    again in SQL, so concurrent requests write once). True when an UPDATE was sent, whether
    or not it changed a row (SQL's now() is the transaction's start, so near the minute the
    two checks can disagree): the caller ends the transaction either way, since a transaction
    that has written cannot change login (db.LoginChangeAfterWrite)."""
    if record.last_used_at is not None and datetime.now(UTC) - record.last_used_at < TOUCH_INTERVAL:
        return False
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == record.id,
            ApiToken.last_used_at.is_(None) | (ApiToken.last_used_at < func.now() - TOUCH_INTERVAL),
        )
        .values(last_used_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return True
