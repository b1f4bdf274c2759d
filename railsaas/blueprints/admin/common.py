"""Helpers shared by the admin areas: parsing ids and filters from the query string (pages
and fragments come from railsaas.blueprints.htmx_helpers, as everywhere)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from flask import request
from sqlalchemy import func, or_, select

from railsaas.errors import ValidationFailed
from railsaas.models import Tenant

PAGE_SIZE = 50


def optional_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def workspace_id_from(session, value: str | None) -> uuid.UUID | None:
    """A workspace named by id, slug or exact name (case-insensitive), or None."""
    if not value:
        return None
    tid = optional_uuid(value)
    if tid:
        return tid
    return session.scalar(
        select(Tenant.id)
        .where(or_(Tenant.slug == value, func.lower(Tenant.name) == value.lower()))
        .limit(1)
    )


def day_start(value: str | None, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD filter as a UTC instant: the day's start, or (end=True) the next day's."""
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "Dates look like 2026-01-31.", details={"date": "use YYYY-MM-DD"}
        ) from None
    moment = datetime.combine(d, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1
