"""People, and the credentials they sign in with besides a password."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ARRAY, BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from railsaas.models.base import Base, created_at, updated_at, uuid_pk


class User(UserMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'admin')", name="role"),
        Index("idx_users_email", "email"),  # the seed's; emails are stored lower-cased
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    # Platform role: 'user' or 'admin' (platform admin). Workspace roles live in memberships.
    # role, email_verified, session_version and is_suspended have server defaults only: an
    # INSERT names just the columns given, and the web login may not write these four
    # (docs/security.md, "Database roles and row-level security").
    role: Mapped[str] = mapped_column(String(50), server_default="user")
    email_verified: Mapped[bool] = mapped_column(server_default="false")
    # An email change waits here until the new address is verified.
    pending_email: Mapped[str | None] = mapped_column(String(255))
    # Bumped to end every other session and token ("log out everywhere").
    session_version: Mapped[int] = mapped_column(server_default="1")
    is_suspended: Mapped[bool] = mapped_column(server_default="false")
    last_login_at: Mapped[datetime | None]
    # Where the person came from (first touch: the utm_* parameters of the first page they
    # opened, kept through sign-up; accounts.attribution). NULL: unknown or direct.
    utm_source: Mapped[str | None] = mapped_column(String(100))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    utm_campaign: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    memberships = relationship("Membership", back_populates="user")
    # Loaded with the user (one LEFT JOIN on its key, no query of its own): every request of
    # a platform admin, and of a workspace that requires it, asks whether 2FA is on. Row-level
    # security shows only the signed-in user's row: for anyone else it reads as None.
    two_factor = relationship("TwoFactor", lazy="joined", uselist=False, viewonly=True)

    @property
    def is_platform_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # flask-login: suspended users cannot sign in
        return not self.is_suspended

    def get_id(self) -> str:
        """The session cookie holds id and session version: bumping the version ends every
        other session."""
        return f"{self.id}:{self.session_version}"


class RefreshToken(Base):
    """One row per issued refresh token (the JWT's jti). Each works once; presenting a spent
    one revokes the whole family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user_id_family_id", "user_id", "family_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class ApiToken(Base):
    """A personal API token for one user in one workspace. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_tenant_id_user_id", "tenant_id", "user_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class TwoFactor(Base):
    """A user's TOTP second factor (railsaas.accounts.two_factor). One row per user: while
    enabled_at is NULL the secret is a pending enrolment, not yet confirmed by a code. The
    secret is stored encrypted (Fernet, a key derived from SECRET_KEY); last_step is the
    TOTP time step of the last code accepted, so no code works twice."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    enabled_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class RecoveryCode(Base):
    """One single-use recovery code of a user's second factor: only a keyed hash (HMAC) of
    it is stored; used_at is set when it is spent."""

    __tablename__ = "user_recovery_codes"
    __table_args__ = (Index("ix_user_recovery_codes_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
