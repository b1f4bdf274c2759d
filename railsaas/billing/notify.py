"""Telling a workspace about its bill: a notification for every member (the bell) and an
email to its owners, who are the ones who can act on billing."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.models import Membership, Notification, User
from railsaas.platform import mail


def billing_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/billing"


def owners(session: Session, tenant_id: uuid.UUID) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.role == "owner",
                User.is_suspended.is_(False),
            )
            .order_by(User.email)
        )
    )


def tell(
    session: Session, tenant_id: uuid.UUID, *, kind: str, subject: str, body: str, **context: Any
) -> int:
    """Notify every member and email the owners (`templates/email/billing/<kind>.txt`).
    Returns the number of emails queued."""
    members = session.execute(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id, User.is_suspended.is_(False))
    ).scalars()
    link = context.pop("link", None) or billing_url()
    for user_id in members:
        session.add(
            Notification(
                tenant_id=tenant_id,
                user_id=user_id,
                kind=f"billing.{kind}",
                title=subject[:255],
                body=body,
                link="/billing",
            )
        )
    sent = 0
    for user in owners(session, tenant_id):
        mail.queue(
            session,
            to=user.email,
            kind=f"billing/{kind}",
            subject=subject[:255],
            tenant_id=tenant_id,
            user_id=user.id,
            name=user.name,
            body=body,
            link=link,
            **context,
        )
        sent += 1
    session.flush()
    return sent
