"""The verified-address rule: what a person may do before they have shown the address is theirs.

Anyone can sign up with any address, so until the link we mail to it has been opened the
account may belong to someone who does not own the address (a squatter waiting for the real
owner to recover it by password reset). Such an account may sign in and look around, but
nothing that outlives the account's recovery or spends money: personal API tokens, deploying
and managing instances (anything that runs on Railway), subscribing, paying and changing
plans. The feature functions call these checks themselves, so every entry point (pages, the
API, future ones) gets the rule.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from railsaas.errors import Forbidden, NotFound
from railsaas.models import User

UNVERIFIED_CODE = "email_unverified"
UNVERIFIED_MESSAGE = (
    "Confirm your email address first: open the link we sent you "
    "(you can ask for a new one from your account page)."
)


def ensure_verified(user: User) -> None:
    """403 `email_unverified` unless the user has confirmed their address."""
    if not user.email_verified:
        raise Forbidden(UNVERIFIED_MESSAGE, code=UNVERIFIED_CODE)


def require_verified(session: Session, user_id: uuid.UUID) -> User:
    """The user behind `user_id`, who must have confirmed their address."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    ensure_verified(user)
    return user
