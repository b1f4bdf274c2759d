"""Telling people what happened: in-app notifications (the bell) and email.

One notification row per member, so each person's unread count and read marks are their
own. Emails go to the people who act on an instance: the one who created it and the
workspace's owners and admins (viewers read the bell).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from railsaas.errors import NotFound
from railsaas.models import Membership, Notification, User
from railsaas.platform import mail

EMAIL_ROLES = ("owner", "admin")


def notify_tenant(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    kind: str,
    title: str,
    body: str | None = None,
    link: str | None = None,
    email_kind: str | None = None,
    email_to_user: uuid.UUID | None = None,
    **email_context,
) -> list[Notification]:
    rows = session.execute(
        select(Membership.user_id, Membership.role, User.email, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id, User.is_suspended.is_(False))
    ).all()
    notes = []
    for user_id, _role, _email, _name in rows:
        note = Notification(
            tenant_id=tenant_id, user_id=user_id, kind=kind, title=title[:255], body=body, link=link
        )
        session.add(note)
        notes.append(note)
    if email_kind:
        sent = set()
        for user_id, role, email, name in rows:
            if role not in EMAIL_ROLES and user_id != email_to_user:
                continue
            if email in sent:
                continue
            sent.add(email)
            mail.queue(
                session,
                to=email,
                kind=email_kind,
                subject=title[:255],
                tenant_id=tenant_id,
                user_id=user_id,
                name=name,
                title=title,
                body=body,
                link=link,
                **email_context,
            )
    session.flush()
    return notes


def unread_count(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.tenant_id == tenant_id,
                Notification.user_id == user_id,
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


def recent(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, limit: int = 50
) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.tenant_id == tenant_id, Notification.user_id == user_id)
            .order_by(Notification.created_at.desc())
            .limit(limit)
        )
    )


def mark_read(
    session: Session,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    notification_id: uuid.UUID | None = None,
) -> int:
    """Mark one (or, without an id, every) notification of this person read."""
    stmt = (
        update(Notification)
        .where(
            Notification.tenant_id == tenant_id,
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=datetime.now(UTC))
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = session.execute(stmt)
    if notification_id is not None and result.rowcount == 0:
        exists = session.scalar(
            select(Notification.id).where(
                Notification.id == notification_id, Notification.user_id == user_id
            )
        )
        if exists is None:
            raise NotFound("No such notification.")
    return result.rowcount
