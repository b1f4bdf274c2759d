"""Account mail that must not be done in the request: a password reset request is answered at
once and looked up here, so its timing says nothing about whether the address is known."""

from __future__ import annotations

from celery import shared_task

from railsaas.accounts import auth
from railsaas.db import SYSTEM
from railsaas.extensions import db


@shared_task(name=auth.RESET_TASK)
def password_reset(email_digest: str) -> bool:
    with db.scope(SYSTEM) as session:
        return auth.send_password_reset(session, email_digest)
