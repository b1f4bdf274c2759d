"""Password policy and bcrypt hashing.

bcrypt reads at most 72 bytes of a password. Older bindings silently ignored the rest (so
two long passwords sharing a prefix matched) and bcrypt >= 5 raises instead; we refuse such
passwords up front, counting bytes in UTF-8 (an emoji is 4 bytes), with a message that says
so, and never hand bcrypt anything it would truncate or choke on.
"""

from __future__ import annotations

import bcrypt
from flask import current_app

from railsaas.errors import ValidationFailed

MIN_CHARS = 12
MAX_BYTES = 72
MIN_ROUNDS = 12

_DUMMY_HASHES: dict[int, bytes] = {}


class InsecureConfiguration(RuntimeError):
    """BCRYPT_ROUNDS below the minimum outside tests: refuse to hash rather than weaken."""


def policy_error(password: str) -> str | None:
    """What is wrong with `password` as a new password, or None when it is acceptable."""
    if not isinstance(password, str) or len(password) < MIN_CHARS:
        return f"Use at least {MIN_CHARS} characters."
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates from a JSON "\ud800" escape
        return "The password contains characters that cannot be stored; please retype it."
    if size > MAX_BYTES:
        return (
            f"Use at most {MAX_BYTES} bytes: this password takes {size} bytes in UTF-8 "
            "(accented letters take 2 bytes each, most emoji 4). Shorten it a little."
        )
    return None


def check_policy(password: str, field: str = "password") -> None:
    """Raise ValidationFailed ({field: message}) unless `password` meets the policy."""
    error = policy_error(password)
    if error:
        raise ValidationFailed(error, details={field: error})


def configured_rounds() -> int:
    rounds = int(current_app.config["BCRYPT_ROUNDS"])
    if rounds < MIN_ROUNDS and not current_app.config.get("TESTING"):
        raise InsecureConfiguration(
            f"BCRYPT_ROUNDS={rounds} is below the minimum of {MIN_ROUNDS}; "
            "lower costs are only allowed in tests."
        )
    return rounds


def hash_password(password: str, *, enforce_policy: bool = True) -> str:
    """bcrypt hash at the configured cost. New passwords must meet the policy;
    enforce_policy=False only re-hashes a password that was just verified (a raised cost),
    which may predate today's policy but never exceeds 72 bytes (it matched a hash)."""
    if enforce_policy:
        check_policy(password)
    elif _encodable(password) is None:
        raise ValueError("password cannot be hashed")
    salt = bcrypt.gensalt(rounds=configured_rounds())
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def _encodable(password: str) -> bytes | None:
    try:
        raw = password.encode("utf-8")
    except (UnicodeEncodeError, AttributeError):
        return None
    return raw if len(raw) <= MAX_BYTES else None


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches. Always spends one bcrypt check, even for an unknown
    user (password_hash None) or an impossible password, so timing does not tell them apart."""
    raw = _encodable(password)
    if raw is None or not password_hash:
        burn_time()
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash: treat as no match
        return False


def burn_time() -> None:
    """One bcrypt check against a dummy hash of the configured cost."""
    rounds = int(current_app.config["BCRYPT_ROUNDS"])
    dummy = _DUMMY_HASHES.get(rounds)
    if dummy is None:
        dummy = _DUMMY_HASHES[rounds] = bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(rounds))
    bcrypt.checkpw(b"not-the-password", dummy)


def hash_cost(password_hash: str) -> int:
    """The cost factor recorded in a bcrypt hash ($2b$12$...)."""
    return int(password_hash.split("$")[2])


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash is cheaper than the configured cost (raised since)."""
    try:
        return hash_cost(password_hash) < int(current_app.config["BCRYPT_ROUNDS"])
    except (IndexError, ValueError):
        return True
