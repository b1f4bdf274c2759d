"""Two-factor sign-in: TOTP codes (RFC 6238, pyotp), single-use recovery codes, remembered
browsers, and who must have it.

Decisions worth knowing:
- The secret is made here, stored encrypted (Fernet; the key is derived from SECRET_KEY, so
  rotating SECRET_KEY means everyone enrols again) and shown only while the enrolment is
  pending: as a QR code (segno, inline SVG, drawn on our server) and as text. Once a code
  confirms it, nothing shows it again. It never goes into a log line, a task or a response
  of the API.
- A code works once: the time step of the last accepted code is kept per user and a code of
  that step or an earlier one is refused (one UPDATE ... WHERE last_step < step, so two
  requests racing with the same code cannot both pass).
- Recovery codes (RECOVERY_CODES of them, 50 random bits each) are stored as an HMAC keyed
  from SECRET_KEY: they are random, so a keyed hash is as strong as bcrypt here and one
  lookup checks them all. Each works once; regenerating replaces the whole set.
- Wrong codes count per user against TWO_FACTOR_PER_USER (platform.throttles): past
  TWO_FACTOR_MAX_ATTEMPTS in LOGIN_LOCK_SECONDS every code is refused, right ones too, with
  a message saying when to try again.
- A remembered browser holds a signed cookie bound to the user and to a fingerprint of their
  secret and password hash: disabling or re-enrolling 2FA, or changing the password, ends
  every remembered browser. Platform admins are never remembered: they give a code at every
  sign-in.
- Platform admins must have 2FA (their pages and the admin API refuse them until they
  enrol), and so must the members of a workspace whose owner requires it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from railsaas.errors import Conflict, RateLimited, Unauthenticated, ValidationFailed
from railsaas.models import RecoveryCode, Tenant, TwoFactor, User
from railsaas.platform import audit, throttles

ISSUER = "RailSaaS"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed
REMEMBER_COOKIE = "railsaas_2fa_device"
WRONG_CODE = "That code is not right. Enter the current 6-digit code from your app."
REUSED_CODE = "That code was already used. Wait for your app to show the next one."


class InvalidSecondFactor(Unauthenticated):
    """The code (or recovery code) was wrong or already used: 401 on the API."""

    code = "invalid_second_factor"

    def __init__(self, message: str = WRONG_CODE) -> None:
        super().__init__(message, details={"code": message})


class SecondFactorRequired(Unauthenticated):
    """The password was right; the account also needs a code."""

    code = "second_factor_required"

    def __init__(self, user: User) -> None:
        super().__init__(
            "This account uses two-factor sign-in: send the 6-digit code from the "
            "authenticator app (or a recovery code) as well."
        )
        self.user = user


@dataclass(frozen=True)
class Enrolment:
    """A pending enrolment as the account page shows it (the only time the secret shows)."""

    secret: str
    uri: str
    qr_svg: str


def _audit(session: Session, user: User, action: str, details: dict | None = None) -> None:
    """Each 2FA change is the user's own, about their own account (no workspace)."""
    audit.record(
        session,
        action,
        target_type="user",
        target_id=user.id,
        tenant_id=None,
        actor_user_id=user.id,
        details=details,
    )


# --- keys -------------------------------------------------------------------------------------


def _derived_key(purpose: bytes, secret_key: str | None = None) -> bytes:
    key = secret_key if secret_key is not None else current_app.config["SECRET_KEY"]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        key.encode("utf-8")
    )


def _fernet(secret_key: str | None = None) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived_key(b"railsaas.two_factor.secret", secret_key)))


def seal(secret: str, secret_key: str | None = None) -> str:
    """The stored (encrypted) form of a TOTP secret; `secret_key`: SECRET_KEY when no app
    is at hand (seed data, tests)."""
    return _fernet(secret_key).encrypt(secret.encode("ascii")).decode("ascii")


def _encrypt(secret: str) -> str:
    return seal(secret)


def _decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        # SECRET_KEY changed since enrolment: no code can match; the user resets by recovery
        # code or an admin. Never raise a 500 at sign-in for it.
        return ""


def _recovery_hash(code: str) -> str:
    key = _derived_key(b"railsaas.two_factor.recovery")
    return hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading ----------------------------------------------------------------------------------


def _row(session: Session, user_id: uuid.UUID, *, lock: bool = False) -> TwoFactor | None:
    stmt = select(TwoFactor).where(TwoFactor.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def is_enabled(session: Session, user_id: uuid.UUID) -> bool:
    return bool(
        session.scalar(
            select(TwoFactor.enabled_at.is_not(None)).where(TwoFactor.user_id == user_id)
        )
    )


def enabled_for(user: User) -> bool:
    """Whether the signed-in `user` has 2FA on, from the row loaded with them (no query)."""
    return user.two_factor is not None and user.two_factor.enabled_at is not None


def recovery_codes_left(session: Session, user_id: uuid.UUID) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def required(user: User, tenant: Tenant | None) -> bool:
    """Whether `user` must have 2FA to go on: platform admins always, and the members of a
    workspace that requires it while they work in it."""
    return user.is_platform_admin or bool(tenant is not None and tenant.require_two_factor)


# --- enrolment --------------------------------------------------------------------------------


def _enrolment(user: User, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=2, title="Scan with your app")
    return Enrolment(secret=secret, uri=uri, qr_svg=svg)


def begin_enrolment(session: Session, user: User) -> Enrolment:
    """A new pending secret for `user` (replacing a pending one). Refused when 2FA is
    already on: it must be disabled first, with password and code."""
    row = _row(session, user.id, lock=True)
    if row is not None and row.enabled_at is not None:
        raise Conflict("Two-factor sign-in is already on.")
    secret = pyotp.random_base32()
    if row is None:
        row = TwoFactor(user_id=user.id, secret_encrypted=_encrypt(secret))
        session.add(row)
    else:
        row.secret_encrypted, row.last_step = _encrypt(secret), None
    session.flush()
    _audit(session, user, "auth.two_factor_enrolment_started")
    return _enrolment(user, secret)


def pending_enrolment(session: Session, user: User) -> Enrolment | None:
    """The enrolment under way (shown again after a wrong confirmation code), if any."""
    row = _row(session, user.id)
    if row is None or row.enabled_at is not None:
        return None
    secret = _decrypt(row.secret_encrypted)
    return _enrolment(user, secret) if secret else None


def confirm_enrolment(session: Session, user: User, code: object) -> list[str]:
    """Switch 2FA on once a code from the app matches the pending secret; returns the new
    recovery codes (shown once)."""
    row = _row(session, user.id, lock=True)
    if row is None or row.enabled_at is not None:
        raise Conflict("There is no enrolment under way: start again.")
    _check_throttle(user.id)
    step = _matching_step(row, _clean(code))
    if step is None:
        _failed(user.id)
        raise ValidationFailed(WRONG_CODE, details={"code": WRONG_CODE})
    row.enabled_at, row.last_step = _now(), step
    codes = _new_recovery_codes(session, user.id)
    _audit(session, user, "auth.two_factor_enabled")
    return codes


def _new_recovery_codes(session: Session, user_id: uuid.UUID) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user_id, code_hash=_recovery_hash(raw)))
    session.flush()
    return codes


def regenerate_recovery_codes(session: Session, user: User, code: object) -> list[str]:
    """A new set of recovery codes (the old set stops working), after a current code."""
    verify(session, user, code, allow_recovery=False)
    codes = _new_recovery_codes(session, user.id)
    _audit(session, user, "auth.recovery_codes_regenerated")
    return codes


def disable(session: Session, user: User, code: object) -> None:
    """Switch 2FA off after a code (the caller has checked the password): the secret and the
    recovery codes are deleted, and with them every remembered browser."""
    verify(session, user, code)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    _audit(session, user, "auth.two_factor_disabled")
    session.flush()


# --- checking codes ---------------------------------------------------------------------------


def _clean(code: object) -> str:
    if not isinstance(code, str):
        return ""
    return "".join(code.split()).replace("-", "").lower()[:64]


def _matching_step(row: TwoFactor, code: str) -> int | None:
    """The time step (previous, current or next: clocks drift) whose code this is."""
    if len(code) != 6 or not code.isdigit():
        return None
    secret = _decrypt(row.secret_encrypted)
    if not secret:
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(_now())
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _check_throttle(user_id: uuid.UUID) -> None:
    key = str(user_id)
    if not throttles.test(throttles.TWO_FACTOR_PER_USER, key):
        wait = throttles.reset_after(throttles.TWO_FACTOR_PER_USER, key)
        minutes = max(1, -(-wait // 60))
        raise RateLimited(
            f"Too many wrong codes. Codes for this account are paused: try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=wait,
        )


def _failed(user_id: uuid.UUID) -> None:
    throttles.hit(throttles.TWO_FACTOR_PER_USER, str(user_id))


def verify(session: Session, user: User, code: object, *, allow_recovery: bool = True) -> str:
    """Check a second factor of `user` (2FA on): a TOTP code not used before, or (when
    allowed) an unused recovery code, which is then spent. Returns "totp" or "recovery";
    raises InvalidSecondFactor, or RateLimited past the throttle. A failure is counted
    before raising; the caller commits to keep the audit row of a recovery code's use."""
    row = _row(session, user.id)
    if row is None or row.enabled_at is None:
        raise InvalidSecondFactor("Two-factor sign-in is not on for this account.")
    _check_throttle(user.id)
    cleaned = _clean(code)
    step = _matching_step(row, cleaned)
    if step is not None:
        accepted = session.execute(
            update(TwoFactor)
            .where(
                TwoFactor.user_id == user.id,
                (TwoFactor.last_step.is_(None)) | (TwoFactor.last_step < step),
            )
            .values(last_step=step)
            .returning(TwoFactor.user_id)
            .execution_options(synchronize_session=False)
        ).first()
        if accepted is None:
            _failed(user.id)
            raise InvalidSecondFactor(REUSED_CODE)
        session.expire(row)
        return "totp"
    if allow_recovery and len(cleaned) == 10:
        spent = session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _recovery_hash(cleaned),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=_now())
            .returning(RecoveryCode.id)
            .execution_options(synchronize_session=False)
        ).first()
        if spent is not None:
            _audit(
                session,
                user,
                "auth.recovery_code_used",
                {"left": recovery_codes_left(session, user.id)},
            )
            return "recovery"
    _failed(user.id)
    raise InvalidSecondFactor(
        WRONG_CODE if not allow_recovery else WRONG_CODE + " Or use one of your recovery codes."
    )


# --- remembered browsers ----------------------------------------------------------------------


def remember_days() -> int:
    return int(current_app.config["TWO_FACTOR_REMEMBER_DAYS"])


def _remember_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt="railsaas.two_factor.remember"
    )


def _binding(row: TwoFactor, user: User) -> str:
    """Changes when the secret (re-enrolment) or the password changes."""
    material = f"{row.secret_encrypted}\0{user.password_hash}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def may_remember(user: User) -> bool:
    return remember_days() > 0 and not user.is_platform_admin


def remember_token(session: Session, user: User) -> str | None:
    """The value of the remember-this-browser cookie for `user`, or None when they may not
    be remembered (admins, option off)."""
    row = _row(session, user.id)
    if row is None or row.enabled_at is None or not may_remember(user):
        return None
    return _remember_serializer().dumps({"uid": str(user.id), "b": _binding(row, user)})


def remembered(session: Session, user: User, token: str | None) -> bool:
    """Whether the browser's cookie lets `user` skip the code (still bound to their current
    secret and password, not expired, and they may be remembered)."""
    if not token or not may_remember(user):
        return False
    try:
        data = _remember_serializer().loads(token, max_age=remember_days() * 86400)
    except BadSignature:
        return False
    row = _row(session, user.id)
    if not isinstance(data, dict) or row is None or row.enabled_at is None:
        return False
    return data.get("uid") == str(user.id) and hmac.compare_digest(
        str(data.get("b", "")), _binding(row, user)
    )
