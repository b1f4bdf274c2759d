"""API session tokens: short-lived JWT access tokens and single-use refresh tokens.

Access token: HS256 JWT {sub, sv, fid, jti, typ: "access", iat, exp}; it lives
JWT_ACCESS_TTL_SECONDS and is checked statelessly, plus two cheap lookups the API guard does
anyway (the user's session_version `sv`, and that its family `fid` is not revoked).

Refresh token: HS256 JWT {sub, sv, fid, jti, typ: "refresh", iat, exp} whose jti is a row in
refresh_tokens. Each works once: using it marks the row used and issues a new pair in the
same family. Presenting a used one means two parties hold it (one of them a thief), so the
whole family is revoked and both must sign in again (OAuth 2.0 Security BCP, section 4.14).

Decoding pins the algorithm list to HS256: "none" and any other algorithm are refused,
whatever the token's header says.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from railsaas.db import get_context, set_context
from railsaas.errors import Unauthenticated
from railsaas.models import RefreshToken, User
from railsaas.platform import audit

ALGORITHM = "HS256"
ISSUER = "railsaas"
ACCESS, REFRESH = "access", "refresh"


class InvalidToken(Unauthenticated):
    code = "invalid_token"


class RefreshTokenReused(InvalidToken):
    """A spent refresh token came back: its family has been revoked (the caller commits that
    before answering)."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 (a scheme name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class Claims:
    user_id: uuid.UUID
    session_version: int
    family_id: uuid.UUID
    jti: uuid.UUID
    typ: str


def _now() -> datetime:
    return datetime.now(UTC)


def _encode(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, current_app.config["JWT_SECRET"], algorithm=ALGORITHM)


def decode(token: str, expected_typ: str) -> Claims:
    """Verify signature, expiry, issuer and type; raise InvalidToken otherwise."""
    try:
        payload = jwt.decode(
            token,
            current_app.config["JWT_SECRET"],
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "typ", "sv", "fid", "iss"]},
            leeway=5,
        )
        claims = Claims(
            user_id=uuid.UUID(payload["sub"]),
            session_version=int(payload["sv"]),
            family_id=uuid.UUID(payload["fid"]),
            jti=uuid.UUID(payload["jti"]),
            typ=str(payload["typ"]),
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        raise InvalidToken("The token is invalid.") from None
    if claims.typ != expected_typ:
        raise InvalidToken("The token is invalid.")
    return claims


def _claims(user: User, family_id: uuid.UUID, jti: uuid.UUID, typ: str, ttl: int) -> dict[str, Any]:
    now = _now()
    return {
        "iss": ISSUER,
        "sub": str(user.id),
        "sv": user.session_version,
        "fid": str(family_id),
        "jti": str(jti),
        "typ": typ,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
    }


@contextlib.contextmanager
def _as_user(session: Session, user_id: uuid.UUID) -> Iterator[None]:
    """refresh_tokens rows are visible to their user only: act as them for the enclosed
    statements (keeping workspace and role), then restore the caller's context."""
    ctx = get_context(session)
    if ctx.user_id == user_id:
        yield
        return
    set_context(session, replace(ctx, user_id=user_id))
    try:
        yield
        session.flush()
    finally:
        with contextlib.suppress(SQLAlchemyError):  # an aborted transaction rolls back anyway
            set_context(session, ctx)


def _issue(session: Session, user: User, family_id: uuid.UUID) -> TokenPair:
    cfg = current_app.config
    refresh_ttl = int(cfg["JWT_REFRESH_TTL_SECONDS"])
    access_ttl = int(cfg["JWT_ACCESS_TTL_SECONDS"])
    row = RefreshToken(
        id=uuid.uuid4(),
        user_id=user.id,
        family_id=family_id,
        expires_at=_now() + timedelta(seconds=refresh_ttl),
    )
    session.add(row)
    session.flush()
    return TokenPair(
        access_token=_encode(_claims(user, family_id, uuid.uuid4(), ACCESS, access_ttl)),
        refresh_token=_encode(_claims(user, family_id, row.id, REFRESH, refresh_ttl)),
        expires_in=access_ttl,
    )


def issue_pair(session: Session, user: User) -> TokenPair:
    """Start a new token family for `user` (one per sign-in)."""
    with _as_user(session, user.id):
        return _issue(session, user, uuid.uuid4())


def rotate(session: Session, refresh_token: str) -> tuple[User, TokenPair]:
    """Spend a refresh token for a new pair in its family.

    Raises InvalidToken for anything unusable, and RefreshTokenReused after revoking the
    family when the token was already spent (commit before answering, so it sticks)."""
    claims = decode(refresh_token, REFRESH)
    with _as_user(session, claims.user_id):
        return _rotate(session, claims)


def _rotate(session: Session, claims: Claims) -> tuple[User, TokenPair]:
    row = session.get(RefreshToken, claims.jti, with_for_update=True)
    if row is None or row.user_id != claims.user_id or row.family_id != claims.family_id:
        raise InvalidToken("The token is invalid.")
    if row.revoked_at is not None:
        raise InvalidToken("The token has been revoked.")
    if row.used_at is not None:
        revoke_family(session, claims.user_id, claims.family_id)
        audit.record(
            session,
            "auth.refresh_reuse",
            target_type="user",
            target_id=claims.user_id,
            tenant_id=None,
            actor_user_id=None,
            actor_type="anonymous",
            details={"family_id": str(claims.family_id)},
        )
        raise RefreshTokenReused(
            "The token was already used; every token of this sign-in "
            "has been revoked. Sign in again."
        )
    if row.expires_at <= _now():
        raise InvalidToken("The token has expired.")
    user = session.get(User, claims.user_id)
    if user is None or user.is_suspended or user.session_version != claims.session_version:
        raise InvalidToken("The token has been revoked.")
    row.used_at = _now()
    return user, _issue(session, user, claims.family_id)


def revoke_family(session: Session, user_id: uuid.UUID, family_id: uuid.UUID) -> None:
    with _as_user(session, user_id):
        session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.user_id == user_id,
                RefreshToken.family_id == family_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=_now())
        )


def revoke_all(session: Session, user_id: uuid.UUID) -> int:
    """Revoke every refresh token of a user (password change, reset, log out everywhere).
    Returns how many API sign-ins (token families) that ended."""
    with _as_user(session, user_id):
        families = session.scalars(
            update(RefreshToken)
            .where(
                RefreshToken.user_id == user_id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > _now(),
            )
            .values(revoked_at=_now())
            .returning(RefreshToken.family_id)
            .execution_options(synchronize_session=False)
        ).all()
        # Spent and expired tokens of those families end too (a reuse must not revive them).
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=_now())
            .execution_options(synchronize_session=False)
        )
    return len(set(families))


def family_revoked(session: Session, user_id: uuid.UUID, family_id: uuid.UUID) -> bool:
    """True once a family is revoked (logout, reuse): its access tokens stop at once rather
    than when they expire."""
    with _as_user(session, user_id):
        return bool(
            session.scalar(
                select(
                    exists().where(
                        RefreshToken.user_id == user_id,
                        RefreshToken.family_id == family_id,
                        RefreshToken.revoked_at.is_not(None),
                    )
                )
            )
        )
