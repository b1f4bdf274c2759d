"""Accounts: sign-up, sign-in, email verification, password reset, profile changes.

Decisions worth knowing:
- Emails are stored lower-cased; sign-in looks users up through the SECURITY DEFINER
  function auth_find_user(email), since before sign-in nobody is known to RLS.
- Sign-in failures all read the same (wrong password, unknown email, locked, suspended) and
  cost one bcrypt check each, so neither the message nor the timing tells them apart.
  Failures are counted per account and per IP (platform.throttles); reaching
  LOGIN_MAX_ATTEMPTS (per account) or 4x that (per IP) refuses sign-in for
  LOGIN_LOCK_SECONDS.
- Sign-up, password-reset requests and verification resends are also limited per client IP
  (SIGNUPS_PER_IP_PER_HOUR, ...): the pages and the API both get a RateLimited (429).
- Unverified users may sign in (they are asked to verify on every page). What must not
  serve an unproven address (API tokens, deploying, billing) calls
  accounts.verification.ensure_verified in the feature function itself.
- Sign-up says the same thing whether or not the address already has an account (same
  status, body, page, and about the same work: a bcrypt hash and one email queued); the
  existing owner gets a notice by mail instead of a new account.
- The first verification of an address and a password reset end every session and revoke
  every personal API token made before them, and tell the owner by mail: an account
  squatted before its owner proved the address keeps nothing of the squatter's.
- A reset request does nothing but queue `accounts.password_reset` (with a digest of the
  address, never the address or a link); the task looks the account up and sends the mail,
  so the request does the same work, in the same time, for a known and an unknown address.
- Links in emails are signed with SECRET_KEY (itsdangerous), bound to a purpose and an email
  address, and expire. A reset link is also bound to a digest of the current password hash,
  so it stops working once used (or once the password changes any other way).
- users.session_version is bumped by logout, password change and reset: every other browser
  session and API token of the user ends (flask-login's id and the JWTs carry the version).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from railsaas import versions
from railsaas.accounts import (
    api_tokens,
    attribution,
    names,
    passwords,
    tokens,
    two_factor,
    verification,
    workspaces,
)
from railsaas.db import SYSTEM, TenantContext, get_context, set_context
from railsaas.errors import (
    Conflict,
    RateLimited,
    ServiceError,
    Unauthenticated,
    ValidationFailed,
)
from railsaas.models import User
from railsaas.observability import metrics
from railsaas.platform import audit, mail, outbox, throttles

log = logging.getLogger(__name__)

LOGIN_FAILED_MESSAGE = (
    "Incorrect email or password. After repeated failed attempts, sign-in is paused for a while."
)
VERIFY_EMAIL, CHANGE_EMAIL, RESET_PASSWORD = "verify-email", "change-email", "reset-password"
# The setting holding each emailed link's lifetime, in seconds (railsaas/config.py).
LINK_MAX_AGE_SETTING = {
    VERIFY_EMAIL: "LINK_MAX_AGE_VERIFY_EMAIL",
    CHANGE_EMAIL: "LINK_MAX_AGE_CHANGE_EMAIL",
    RESET_PASSWORD: "LINK_MAX_AGE_RESET_PASSWORD",
}
NAME_MAX = 255


class LoginFailed(Unauthenticated):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__(LOGIN_FAILED_MESSAGE)


class InvalidLink(ServiceError):
    status, code = 400, "invalid_link"


@dataclass(frozen=True)
class LoginRecord:
    """What auth_find_user returns: just enough to check a password."""

    id: uuid.UUID
    password_hash: str
    email_verified: bool
    is_suspended: bool
    session_version: int


# --- small helpers ----------------------------------------------------------------------------


def normalize_email(raw: Any, field: str = "email") -> str:
    """A syntactically valid address, lower-cased (the stored form)."""
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        raise ValidationFailed(
            "Enter your email address.", details={field: "Enter your email address."}
        )
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(str(exc), details={field: str(exc)}) from None
    email = info.normalized.lower()
    if len(email) > 255:
        message = "That email address is too long."
        raise ValidationFailed(message, details={field: message})
    return email


def clean_name(raw: Any, field: str = "name") -> str:
    return names.clean_display_name(raw, max_len=NAME_MAX, empty="Enter your name.", field=field)


def find_login(session: Session, email: str) -> LoginRecord | None:
    row = session.execute(
        text(
            "SELECT id, password_hash, email_verified, is_suspended, session_version "
            "FROM auth_find_user(:email)"
        ),
        {"email": email.strip().lower()},
    ).first()
    return LoginRecord(*row) if row else None


def _now() -> datetime:
    return datetime.now(UTC)


def _client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _record(
    session: Session,
    action: str,
    user_id: uuid.UUID | None,
    *,
    actor: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Audit an auth event. They concern a person, not a workspace: tenant_id is NULL."""
    audit.record(
        session,
        action,
        target_type="user" if user_id else None,
        target_id=user_id,
        tenant_id=None,
        actor_user_id=actor,
        actor_type="user" if actor else "anonymous",
        details=details or None,
    )


def _send(
    session: Session, user_id: uuid.UUID, to: str, kind: str, subject: str, **context: Any
) -> None:
    mail.queue(session, to=to, kind=kind, subject=subject, user_id=user_id, **context)


def _mail_allowed(purpose: str, email: str) -> bool:
    """At most one email of a kind per address per minute (resend and forgot buttons)."""
    return throttles.hit(throttles.MAIL_RESEND, purpose, _digest(email))


_PER_IP_MESSAGES = {
    throttles.SIGNUP_PER_IP: "Too many sign-ups from your network.",
    throttles.FORGOT_PER_IP: "Too many password-reset requests from your network.",
    throttles.VERIFY_RESEND_PER_IP: "Too many requests for a new link from your network.",
}


def _limit_ip(limit: throttles.Limit, ip: str | None) -> None:
    """Count one attempt from this client IP on a form anyone may post; RateLimited once
    over. Without an IP (no request) nothing is counted."""
    if ip is None or throttles.hit(limit, ip):
        return
    wait = throttles.reset_after(limit, ip)
    minutes = max(1, -(-wait // 60))
    raise RateLimited(
        f"{_PER_IP_MESSAGES[limit]} Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        retry_after=wait,
    )


def _link(endpoint: str, **values: Any) -> str:
    """Absolute link for an email: BASE_URL, never the request's Host header. Tasks (a reset
    is mailed by one) have no request: the path comes from the URL map directly."""
    path = (
        url_for(endpoint, **values)
        if has_request_context()
        else current_app.url_map.bind("localhost").build(endpoint, values)
    )
    return current_app.config["BASE_URL"].rstrip("/") + path


ensure_verified = verification.ensure_verified  # the rule lives in accounts.verification


# --- signed links -----------------------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"railsaas.auth.{purpose}")


def link_max_age(purpose: str) -> int:
    return int(current_app.config[LINK_MAX_AGE_SETTING[purpose]])


def make_link_token(purpose: str, **payload: str) -> str:
    return _serializer(purpose).dumps(payload)


def _load_link_token(purpose: str, token: str, keys: tuple[str, ...]) -> dict[str, str]:
    try:
        data = _serializer(purpose).loads(token, max_age=link_max_age(purpose))
    except SignatureExpired:
        raise InvalidLink(
            "This link has expired. Request a new one.", code="link_expired"
        ) from None
    except BadSignature:
        raise InvalidLink("This link is invalid. Check that you copied all of it.") from None
    if not isinstance(data, dict) or any(not isinstance(data.get(k), str) for k in keys):
        raise InvalidLink("This link is invalid. Check that you copied all of it.")
    return data


def _user_from_link(session: Session, uid: str) -> User:
    try:
        user_id = uuid.UUID(uid)
    except ValueError:
        raise InvalidLink("This link is invalid.") from None
    set_context(session, TenantContext(user_id=user_id))
    user = session.get(User, user_id, with_for_update={"of": User})
    if user is None or user.is_suspended:
        raise InvalidLink("This link is no longer valid.")
    return user


def _password_fingerprint(password_hash: str) -> str:
    """Changes whenever the password does: binds a reset link to the password it replaces."""
    return _digest(password_hash)[:16]


# --- sign-in throttling -----------------------------------------------------------------------


class LoginThrottle:
    """Failed sign-ins counted per account (a digest of the normalised email) and per IP,
    in windows of LOGIN_LOCK_SECONDS from the first miss (throttles.LOGIN_PER_ACCOUNT and
    LOGIN_PER_IP). Unknown emails count too, so a lock reveals nothing. Redis down: sign-in
    still works (logged), rather than locking everyone out."""

    def __init__(self, email: str, ip: str | None) -> None:
        self.limits = [(throttles.LOGIN_PER_ACCOUNT, _digest(email))]
        if ip:
            self.limits.append((throttles.LOGIN_PER_IP, ip))

    def locked(self) -> bool:
        return not all(throttles.test(limit, key) for limit, key in self.limits)

    def failed(self) -> None:
        for limit, key in self.limits:
            throttles.hit(limit, key)

    def clear_account(self) -> None:
        throttles.clear(*self.limits[0])


# --- sign-up ----------------------------------------------------------------------------------


class EmailTaken(Conflict):
    """The address already has an account (sign-up hides this; see register)."""


def _email_taken() -> EmailTaken:
    message = "An account with this email address already exists."
    return EmailTaken(message, details={"email": message})


def create_account(
    session: Session,
    *,
    email: Any,
    password: Any,
    name: Any,
    email_verified: bool = False,
    tenant_id: uuid.UUID | None = None,
) -> User:
    """Validate and insert a user (no workspace, no email). Sign-up and accepting an
    invitation both start here. Leaves the session's RLS context on the new user (and on
    `tenant_id`, the workspace about to be created or joined)."""
    errors: dict[str, str] = {}
    for field, check in (
        ("name", lambda: clean_name(name)),
        ("email", lambda: normalize_email(email)),
        ("password", lambda: passwords.check_policy(password)),
    ):
        try:
            check()
        except ValidationFailed as exc:
            errors.update(exc.details or {field: exc.message})
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", details=errors)
    email, name = normalize_email(email), clean_name(name)
    # Hash before looking the address up: a taken address costs the same bcrypt time.
    password_hash = passwords.hash_password(password)
    if find_login(session, email) is not None:
        raise _email_taken()

    user_id = uuid.uuid4()
    # The policies admit a new user only as themselves, and a new workspace only when it is
    # the selected one: select the ids before inserting.
    set_context(session, TenantContext(user_id=user_id, tenant_id=tenant_id))
    user = User(id=user_id, email=email, name=name, password_hash=password_hash)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:  # a concurrent sign-up with the same address won
        raise _email_taken() from None
    if email_verified:
        _mark_verified(session, user)
    return user


# users.email_verified and users.session_version are not the web login's to write (column
# grants, docs/security.md): two SECURITY DEFINER functions change them for the signed-in
# user (app.user_id) only. The ORM object is then told the new value without marking it dirty.


def _mark_verified(session: Session, user: User) -> None:
    session.flush()
    if not session.scalar(text("SELECT auth_mark_email_verified()")):
        raise RuntimeError("the session is not acting as this user")
    set_committed_value(user, "email_verified", True)
    versions.touch_user(session, user.id)  # the verify banner goes


def _bump_session_version(session: Session, user: User) -> None:
    session.flush()
    version = session.scalar(text("SELECT auth_bump_session_version()"))
    if version is None:
        raise RuntimeError("the session is not acting as this user")
    set_committed_value(user, "session_version", version)
    versions.touch_user(session, user.id)  # no 304 for the ended sessions' conditional polls


def register(
    session: Session,
    *,
    email: Any,
    password: Any,
    name: Any,
    ip: str | None = None,
    utm: Mapping[str, Any] | None = None,
) -> User | None:
    """Create a user, their personal workspace and owner membership; email a link to verify.
    Every attempt counts against the client IP's sign-up limit (`ip`: the request's).

    An address that already has an account gets no new one: its owner is mailed a notice
    and None is returned, and the caller answers exactly as for a new account, so sign-up
    cannot be used to learn who has an account. Leaves the session's RLS context on the new
    user and workspace. `utm`: where the person came from (accounts.attribution), kept on
    both."""
    _limit_ip(throttles.SIGNUP_PER_IP, ip if ip is not None else _client_ip())
    tenant_id = uuid.uuid4()
    try:
        user = create_account(
            session, email=email, password=password, name=name, tenant_id=tenant_id
        )
    except EmailTaken:
        _tell_signup_attempt(session, normalize_email(email))
        return None
    tenant = workspaces.create_tenant(
        session, name=f"{user.name}'s workspace", owner_id=user.id, tenant_id=tenant_id
    )
    attribution.apply(user, utm)
    attribution.apply(tenant, utm)
    _record(session, "auth.register", user.id, actor=user.id, workspace_id=str(tenant_id))
    send_verification(session, user)
    metrics.registration()
    return user


def _tell_signup_attempt(session: Session, email: str) -> None:
    """Mail the owner of `email` that someone tried to sign up with it (at most once a
    minute per address, so sign-up cannot be used to flood an inbox)."""
    record = find_login(session, email)
    if record is None or record.is_suspended:
        return
    _record(session, "auth.register_existing", record.id)
    if not _mail_allowed("signup-attempt", email):
        return
    _send(
        session,
        record.id,
        email,
        "auth/signup_attempt",
        "Someone tried to sign up with your email address",
        login_link=_link("auth.login"),
        forgot_link=_link("auth.forgot"),
    )


# --- verification -----------------------------------------------------------------------------


def send_verification(session: Session, user: User) -> None:
    token = make_link_token(VERIFY_EMAIL, uid=str(user.id), email=user.email)
    _send(
        session,
        user.id,
        user.email,
        "auth/verify_email",
        "Confirm your email address",
        name=user.name,
        link=_link("auth.verify", token=token),
        hours=link_max_age(VERIFY_EMAIL) // 3600,
    )


def resend_verification(session: Session, email: Any, ip: str | None = None) -> None:
    """Send the link again to an unverified account. Same outcome whether or not the address
    is known (the page says the same either way); every request counts against the client
    IP's limit."""
    _limit_ip(throttles.VERIFY_RESEND_PER_IP, ip if ip is not None else _client_ip())
    address = email.strip().lower() if isinstance(email, str) else ""
    record = find_login(session, address) if address else None
    if record is None or record.email_verified or record.is_suspended:
        return
    if not _mail_allowed(VERIFY_EMAIL, address):
        return
    set_context(session, TenantContext(user_id=record.id))
    user = session.get(User, record.id)
    if user is not None:
        send_verification(session, user)
        _record(session, "auth.verification_resent", user.id)


def verify_email(session: Session, token: str) -> User:
    """Confirm the address a verification or email-change link was sent to."""
    data = _load_link_token(VERIFY_EMAIL, token, ("uid", "email"))
    user = _user_from_link(session, data["uid"])
    if data["email"] != user.email:
        raise InvalidLink("This link is no longer valid: your email address has changed since.")
    if not user.email_verified:
        _mark_verified(session, user)
        _record(session, "auth.verify_email", user.id, actor=user.id)
        # Whoever signed up may not have owned the address: now that its owner has shown
        # up, nothing made before keeps working.
        revoke_prior_credentials(session, user, reason="email_verified")
    return user


def confirm_email_change(session: Session, token: str) -> User:
    data = _load_link_token(CHANGE_EMAIL, token, ("uid", "email"))
    user = _user_from_link(session, data["uid"])
    new = data["email"]
    if user.email == new:
        return user  # already done (link clicked twice)
    if user.pending_email != new:
        raise InvalidLink(
            "This link is no longer valid: a newer change was requested, or it was cancelled."
        )
    if find_login(session, new) is not None:
        raise Conflict("Another account now uses that address, so it cannot be yours too.")
    old = user.email
    user.email, user.pending_email = new, None
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("Another account now uses that address.") from None
    _mark_verified(session, user)
    _record(
        session,
        "auth.email_change",
        user.id,
        actor=user.id,
        old_domain=old.rsplit("@", 1)[-1],
        new_domain=new.rsplit("@", 1)[-1],
    )
    _send(
        session,
        user.id,
        old,
        "auth/email_changed",
        "Your email address was changed",
        name=user.name,
        new_email=new,
    )
    return user


# --- sign-in and sessions ---------------------------------------------------------------------


def login(
    session: Session,
    *,
    email: Any,
    password: Any,
    ip: str | None = None,
    second_factor: Any = None,
    remember_token: str | None = None,
) -> User:
    """The user, or LoginFailed (one message for every reason). Failures are audited: the
    caller commits even when this raises.

    A user with two-factor sign-in also needs `second_factor` (a TOTP or recovery code),
    unless `remember_token` is a remembered browser's cookie: without one this raises
    SecondFactorRequired once the password is right (the page then asks for the code and
    calls complete_login), with a wrong one InvalidSecondFactor."""
    address = email.strip().lower() if isinstance(email, str) else ""
    secret = password if isinstance(password, str) else ""
    throttle = LoginThrottle(address, ip if ip is not None else _client_ip())
    record = find_login(session, address) if address else None
    if throttle.locked():
        passwords.burn_time()
        _record(session, "auth.login_failed", record.id if record else None, reason="locked")
        raise LoginFailed()
    matched = passwords.verify_password(secret, record.password_hash if record else None)
    if not matched or record is None or record.is_suspended:
        throttle.failed()
        reason = "unknown_email" if record is None else "suspended" if matched else "wrong_password"
        _record(session, "auth.login_failed", record.id if record else None, reason=reason)
        raise LoginFailed()

    throttle.clear_account()
    set_context(session, TenantContext(user_id=record.id))
    user = session.get(User, record.id)
    if user is None:
        raise LoginFailed()
    if two_factor.is_enabled(session, user.id) and not two_factor.remembered(
        session, user, remember_token
    ):
        if second_factor is None or second_factor == "":
            _record(session, "auth.login_second_factor_required", user.id, actor=user.id)
            raise two_factor.SecondFactorRequired(user)
        _check_second_factor(session, user, second_factor)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(secret, enforce_policy=False)
    return _signed_in(session, user)


def _check_second_factor(session: Session, user: User, code: Any) -> None:
    try:
        how = two_factor.verify(session, user, code)
    except (two_factor.InvalidSecondFactor, RateLimited):
        _record(session, "auth.login_failed", user.id, reason="second_factor")
        raise
    if how == "recovery":
        _send(
            session,
            user.id,
            user.email,
            "auth/recovery_code_used",
            "A recovery code was used to sign in",
            name=user.name,
            left=two_factor.recovery_codes_left(session, user.id),
        )


def _signed_in(session: Session, user: User) -> User:
    user.last_login_at = _now()
    _record(session, "auth.login", user.id, actor=user.id)
    return user


def complete_login(session: Session, user_id: uuid.UUID, session_version: int, code: Any) -> User:
    """The second step of a sign-in whose password was right (login raised
    SecondFactorRequired): the user once `code` checks out. The sign-in must still be
    current (no logout everywhere or password change since)."""
    set_context(session, TenantContext(user_id=user_id))
    user = session.get(User, user_id)
    if user is None or user.is_suspended or user.session_version != session_version:
        raise LoginFailed()
    _check_second_factor(session, user, code)
    return _signed_in(session, user)


def end_sessions(session: Session, user: User) -> int:
    """End every browser session and API sign-in of the user (the caller may start a new
    one). Personal API tokens are separate credentials: see revoke_prior_credentials.
    Returns the number of API sign-ins ended."""
    if get_context(session).user_id == user.id:
        _bump_session_version(session, user)  # the user themself, on any login
    else:
        user.session_version += 1  # an admin ending someone else's (admin login only)
    ended = tokens.revoke_all(session, user.id)
    session.flush()
    return ended


REVOKE_REASONS = {
    "email_verified": "your email address was confirmed",
    "password_reset": "your password was reset",
}


def revoke_prior_credentials(session: Session, user: User, *, reason: str) -> None:
    """End every session and API sign-in and revoke every personal API token made before
    now; mail the owner what was revoked, and when, if there was anything."""
    when = _now()
    sign_ins = end_sessions(session, user)
    revoked = api_tokens.revoke_all_for_user(session, user.id, before=when, reason=reason)
    _record(
        session,
        "auth.credentials_revoked",
        user.id,
        actor=user.id,
        reason=reason,
        api_tokens=len(revoked),
        api_sign_ins=sign_ins,
    )
    if not revoked and not sign_ins:
        return
    _send(
        session,
        user.id,
        user.email,
        "auth/credentials_revoked",
        "API access to your account was revoked",
        name=user.name,
        because=REVOKE_REASONS[reason],
        when=when.strftime("%Y-%m-%d %H:%M UTC"),
        sign_ins=sign_ins,
        revoked=[
            {
                "name": t.name,
                "prefix": t.prefix,
                "workspace": t.workspace,
                "created": t.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            }
            for t in revoked
        ],
        tokens_link=_link("tokens.index"),
    )


def logout(session: Session, user: User) -> None:
    """Browser logout: ends this session and the user's others, copies of the cookie and
    API tokens included (a signed-cookie session cannot be revoked one at a time)."""
    set_context(session, TenantContext(user_id=user.id))
    end_sessions(session, user)
    _record(session, "auth.logout", user.id, actor=user.id)


def api_logout(
    session: Session, user: User, family_id: uuid.UUID, refresh_token: str | None = None
) -> None:
    """API logout: revoke the token family of this sign-in (and the one of `refresh_token`
    if it is the user's); the user's other sessions stay."""
    families = {family_id}
    if refresh_token:
        try:
            claims = tokens.decode(refresh_token, tokens.REFRESH)
        except tokens.InvalidToken:
            claims = None
        if claims is not None and claims.user_id == user.id:
            families.add(claims.family_id)
    for fid in families:
        tokens.revoke_family(session, user.id, fid)
    _record(session, "auth.logout", user.id, actor=user.id, api=True)


# --- passwords --------------------------------------------------------------------------------


def _check_current_password(user: User, password: Any, field: str = "current_password") -> None:
    """Re-authentication for sensitive changes, counted against the account's sign-in
    throttle so it cannot be used to guess the password instead."""
    throttle = LoginThrottle(user.email, _client_ip())
    secret = password if isinstance(password, str) else ""
    if throttle.locked() or not passwords.verify_password(secret, user.password_hash):
        throttle.failed()
        message = "That is not your current password."
        raise ValidationFailed(message, details={field: message})


def change_password(
    session: Session, user: User, *, current_password: Any, new_password: Any
) -> None:
    """Set a new password; ends every session and token (the caller signs this one in
    again)."""
    _check_current_password(user, current_password)
    passwords.check_policy(new_password, field="new_password")
    user.password_hash = passwords.hash_password(new_password)
    end_sessions(session, user)
    _record(session, "auth.password_change", user.id, actor=user.id)
    _send(
        session,
        user.id,
        user.email,
        "auth/password_changed",
        "Your password was changed",
        name=user.name,
        forgot_link=_link("auth.forgot"),
    )


def disable_two_factor(session: Session, user: User, *, password: Any, code: Any) -> None:
    """Turn two-factor sign-in off: the password and a current code (or a recovery code)."""
    _check_current_password(user, password, field="password")
    two_factor.disable(session, user, code)


RESET_TASK = "accounts.password_reset"


def email_digest(email: str) -> str:
    """How a reset request names its address in the outbox and the broker: not the address
    itself (the task finds the account by this digest)."""
    return _digest(email.strip().lower())


def request_password_reset(session: Session, email: Any, ip: str | None = None) -> None:
    """Queue the reset: the task (send_password_reset) looks the address up and mails a
    link if it belongs to an account. The request does the same work either way, so
    neither its answer nor its timing says whether the address is known. Every request
    counts against the client IP's limit."""
    _limit_ip(throttles.FORGOT_PER_IP, ip if ip is not None else _client_ip())
    address = email.strip().lower() if isinstance(email, str) else ""
    if not address:
        return
    outbox.enqueue(session, RESET_TASK, email_digest=email_digest(address))


def send_password_reset(session: Session, digest: str) -> bool:
    """The task's half of a reset request: mail a link to the account whose address has
    this digest, if there is one (and at most one link a minute). True when one was sent."""
    set_context(session, SYSTEM)
    user = session.scalar(
        select(User).where(
            func.encode(func.sha256(func.convert_to(User.email, "UTF8")), "hex") == digest
        )
    )
    if user is None or user.is_suspended or not _mail_allowed(RESET_PASSWORD, user.email):
        return False
    set_context(session, TenantContext(user_id=user.id))
    token = make_link_token(
        RESET_PASSWORD,
        uid=str(user.id),
        email=user.email,
        ph=_password_fingerprint(user.password_hash),
    )
    _record(session, "auth.password_reset_requested", user.id)
    _send(
        session,
        user.id,
        user.email,
        "auth/reset_password",
        "Reset your password",
        name=user.name,
        link=_link("auth.reset", token=token),
        minutes=link_max_age(RESET_PASSWORD) // 60,
    )
    return True


def check_reset_token(session: Session, token: str) -> User:
    """The user a reset link is for, while it is still usable."""
    data = _load_link_token(RESET_PASSWORD, token, ("uid", "email", "ph"))
    user = _user_from_link(session, data["uid"])
    if data["email"] != user.email or data["ph"] != _password_fingerprint(user.password_hash):
        raise InvalidLink(
            "This link has already been used, or your password has changed "
            "since it was sent. Request a new one.",
            code="link_used",
        )
    return user


def reset_password(session: Session, token: str, new_password: Any) -> User:
    user = check_reset_token(session, token)
    passwords.check_policy(new_password)
    user.password_hash = passwords.hash_password(new_password)
    _mark_verified(session, user)  # the link reached that inbox
    revoke_prior_credentials(session, user, reason="password_reset")
    LoginThrottle(user.email, None).clear_account()
    _record(session, "auth.password_reset", user.id, actor=user.id)
    _send(
        session,
        user.id,
        user.email,
        "auth/password_changed",
        "Your password was changed",
        name=user.name,
        forgot_link=_link("auth.forgot"),
    )
    return user


# --- profile ----------------------------------------------------------------------------------


def update_name(session: Session, user: User, name: Any) -> None:
    new = clean_name(name)
    if new != user.name:
        user.name = new
        session.flush()
        _record(session, "account.update", user.id, actor=user.id, fields=["name"])


def request_email_change(
    session: Session, user: User, *, new_email: Any, current_password: Any, field: str = "new_email"
) -> None:
    """Park the new address in users.pending_email and send it a confirmation link; the
    address changes when that link is opened."""
    _check_current_password(user, current_password)
    new = normalize_email(new_email, field=field)
    if new == user.email:
        message = "That is already your email address."
        raise ValidationFailed(message, details={field: message})
    if find_login(session, new) is not None:
        message = "An account with this email address already exists."
        raise Conflict(message, details={field: message})
    user.pending_email = new
    session.flush()
    token = make_link_token(CHANGE_EMAIL, uid=str(user.id), email=new)
    _record(
        session,
        "auth.email_change_requested",
        user.id,
        actor=user.id,
        new_domain=new.rsplit("@", 1)[-1],
    )
    _send(
        session,
        user.id,
        new,
        "auth/confirm_email_change",
        "Confirm your new email address",
        name=user.name,
        link=_link("auth.confirm_email", token=token),
        hours=link_max_age(CHANGE_EMAIL) // 3600,
    )
