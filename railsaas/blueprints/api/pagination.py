"""Cursor pagination for every list route: newest first, ordered by (created_at, id).

Keyset, not offset: a page costs the same however deep it is, and rows inserted while a
client pages through never shift what it sees next. The cursor is opaque to clients (base64
of the last row's created_at and id); a cursor that does not decode is a 422 on `cursor`.

    stmt = select(ApiToken).where(...)              # filters: the service's business
    page = paginate(db.session, stmt, ApiToken, query)
    return Page[TokenOut](items=[...page.rows], next_cursor=page.next_cursor)

`paginate_items` does the same for lists that do not come from our database (Railway,
Stripe), given each item's created_at and id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from railsaas.errors import ValidationFailed
from railsaas.schemas.common import PageQuery

R = TypeVar("R")

_INVALID = "This cursor is not one we issued (or it has been altered)."


@dataclass(frozen=True)
class PageResult(Generic[R]):
    rows: list[R]
    next_cursor: str | None


def encode_cursor(created_at: datetime, key: Any) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), str(key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, key = json.loads(raw)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or not isinstance(key, str) or not key:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("Invalid cursor.", details={"cursor": _INVALID}) from None
    return when, key


def paginate(session: Session, stmt: Select, entity: Any, query: PageQuery) -> PageResult:
    """Run `stmt` (a select of `entity`, filters applied) one page at a time.

    `entity` must have `created_at` and `id` columns; the id's type decides how the cursor's
    key is read back (a malformed one is a 422, never a database error)."""
    created_col, id_col = entity.created_at, entity.id
    if query.cursor:
        when, key = decode_cursor(query.cursor)
        try:
            typed_key = id_col.type.python_type(key)
        except (ValueError, TypeError, NotImplementedError):
            raise ValidationFailed("Invalid cursor.", details={"cursor": _INVALID}) from None
        stmt = stmt.where(tuple_(created_col, id_col) < tuple_(when, typed_key))
    stmt = stmt.order_by(created_col.desc(), id_col.desc()).limit(query.limit + 1)
    rows = list(session.scalars(stmt))
    return _page(rows, query.limit, lambda r: (r.created_at, r.id))


def paginate_items(
    items: Iterable[R], query: PageQuery, key: Callable[[R], tuple[datetime, Any]]
) -> PageResult[R]:
    """Paginate an in-memory list (from Railway or Stripe) by key(item) = (created_at, id)."""
    ordered = sorted(items, key=lambda i: (key(i)[0], str(key(i)[1])), reverse=True)
    if query.cursor:
        when, last = decode_cursor(query.cursor)
        ordered = [i for i in ordered if (key(i)[0], str(key(i)[1])) < (when, last)]
    return _page(ordered[: query.limit + 1], query.limit, key)


def paginate_stream(
    items: Iterable[R], query: PageQuery, key: Callable[[R], tuple[datetime, Any]]
) -> PageResult[R]:
    """Paginate a stream already ordered newest first by key(item) (a remote list read page
    by page): it is read only until this page and one more item are found."""
    after = decode_cursor(query.cursor) if query.cursor else None
    rows: list[R] = []
    for item in items:
        created, ident = key(item)
        if after is not None and not (created, str(ident)) < after:
            continue
        rows.append(item)
        if len(rows) > query.limit:
            break
    return _page(rows, query.limit, key)


def _page(rows: Sequence[R], limit: int, key: Callable[[R], tuple[datetime, Any]]) -> PageResult[R]:
    if len(rows) <= limit:
        return PageResult(list(rows), None)
    page = list(rows[:limit])
    return PageResult(page, encode_cursor(*key(page[-1])))
