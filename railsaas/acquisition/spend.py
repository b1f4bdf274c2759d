"""Recording acquisition spend: one row per amount spent in a month through a channel (two
rows for one month and channel add up). Every change is audited; bad input is refused whole
with every field's problem named (ValidationFailed, 422), and nothing is written."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from railsaas.accounts import attribution
from railsaas.errors import Forbidden, NotFound, ValidationFailed
from railsaas.models import AcquisitionSpend, User
from railsaas.platform import audit

# A billion dollars: beyond it an amount is a typo (and still fits every sum in bigint).
MAX_CENTS = 100_000_000_000
MAX_NOTE = 500
EARLIEST = date(2000, 1, 1)
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9 ._+\-]*$")
_AMOUNT = re.compile(r"^\d+(?:\.\d{1,2})?$")


@dataclass(frozen=True)
class SpendInput:
    month: date
    channel: str
    amount_cents: int
    note: str | None


def _month(value: Any, today: date) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    m = _MONTH.match(value.strip()) if isinstance(value, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError("Give the month as YYYY-MM, for example 2026-05.")
    month = date(int(m.group(1)), int(m.group(2)), 1)
    if not EARLIEST <= month <= today.replace(day=1):
        raise ValueError("The month must be between 2000-01 and this month.")
    return month


def _channel(value: Any) -> str:
    channel = " ".join(value.strip().lower().split()) if isinstance(value, str) else ""
    if not channel:
        raise ValueError("Name the channel, as in the utm_source of its links (e.g. google).")
    if len(channel) > attribution.MAX_LENGTH or not _CHANNEL.match(channel):
        raise ValueError(
            "Use letters, digits, spaces, dots, dashes, underscores or plus "
            "signs, up to 100 characters, as in the links' utm_source."
        )
    if attribution.normalize_channel(channel) != channel:
        raise ValueError("This channel would not match any sign-up's utm_source.")
    return channel


def _amount_cents(values: Mapping[str, Any]) -> int:
    """From `amount_cents` (an integer, the API) or `amount` (dollars and cents as typed)."""
    if values.get("amount_cents") is not None:
        cents = values["amount_cents"]
        if (
            isinstance(cents, bool)
            or not isinstance(cents, int | float)
            or (isinstance(cents, float) and (not math.isfinite(cents) or not cents.is_integer()))
        ):
            raise ValueError("amount_cents is a whole number of cents.")
        cents = int(cents)
    else:
        text = values.get("amount")
        text = text.strip().replace(",", "") if isinstance(text, str) else ""
        if text.startswith("$"):
            text = text[1:]
        if not text:
            raise ValueError("Enter the amount spent, in dollars (e.g. 1250.00).")
        if not _AMOUNT.match(text):
            raise ValueError(
                "Enter a positive amount in dollars, with at most two decimals (e.g. 1250.00)."
            )
        try:
            cents = int(Decimal(text) * 100)
        except InvalidOperation:
            raise ValueError("Enter the amount in dollars (e.g. 1250.00).") from None
    if cents < 0:
        raise ValueError("The amount cannot be negative.")
    if cents > MAX_CENTS:
        raise ValueError("That is more than a billion dollars: check the amount.")
    return cents


def parse(values: Mapping[str, Any], today: date | None = None) -> SpendInput:
    """Validate a form or API body: month (YYYY-MM), channel, amount or amount_cents, note."""
    today = today or datetime.now(UTC).date()
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for field, check in (
        ("month", lambda: _month(values.get("month"), today)),
        ("channel", lambda: _channel(values.get("channel"))),
        (
            "amount_cents" if values.get("amount_cents") is not None else "amount",
            lambda: _amount_cents(values),
        ),
    ):
        try:
            parsed[field] = check()
        except ValueError as exc:
            errors[field] = str(exc)
    note = values.get("note")
    if note is not None and not isinstance(note, str):
        errors["note"] = "The note is text."
    elif note is not None and len(note.strip()) > MAX_NOTE:
        errors["note"] = f"Keep the note under {MAX_NOTE} characters."
    if any("\x00" in str(v) for v in values.values() if isinstance(v, str)):
        errors["form"] = "The input contains a NUL character."
    if errors:
        raise ValidationFailed("Some fields need another look.", details=errors)
    amount = parsed.get("amount", parsed.get("amount_cents"))
    return SpendInput(parsed["month"], parsed["channel"], amount, (note or "").strip() or None)


def _require_admin(actor: User) -> None:
    if not getattr(actor, "is_platform_admin", False):
        raise Forbidden("Only platform admins record acquisition spend.")


def record(session: Session, actor: User, data: SpendInput) -> AcquisitionSpend:
    _require_admin(actor)
    row = AcquisitionSpend(
        month=data.month,
        channel=data.channel,
        amount_cents=data.amount_cents,
        note=data.note,
        created_by=actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "acquisition.spend_recorded",
        target_type="acquisition_spend",
        target_id=row.id,
        tenant_id=None,
        details={
            "month": data.month.isoformat(),
            "channel": data.channel,
            "amount_cents": data.amount_cents,
        },
    )
    return row


def delete(session: Session, actor: User, spend_id: int) -> None:
    _require_admin(actor)
    # An id beyond bigint names no row (and would be a database error, not a 404).
    row = session.get(AcquisitionSpend, spend_id) if 0 < spend_id < 2**63 else None
    if row is None:
        raise NotFound("No such spend entry.")
    audit.record(
        session,
        "acquisition.spend_deleted",
        target_type="acquisition_spend",
        target_id=row.id,
        tenant_id=None,
        details={
            "month": row.month.isoformat(),
            "channel": row.channel,
            "amount_cents": row.amount_cents,
        },
    )
    session.delete(row)
    session.flush()


def entries(session: Session, actor: User, limit: int = 200) -> list[AcquisitionSpend]:
    """The latest entries, newest month first."""
    _require_admin(actor)
    return list(
        session.scalars(
            select(AcquisitionSpend)
            .order_by(
                AcquisitionSpend.month.desc(), AcquisitionSpend.channel, AcquisitionSpend.id.desc()
            )
            .limit(limit)
        )
    )


def query(actor: User) -> Select:
    """Every entry, for a paginated list (the API)."""
    _require_admin(actor)
    return select(AcquisitionSpend)
