"""Shapes shared by every area: request bodies, query strings, pages, the error envelope."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused (a typo is an error, not a no-op)."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Query(BaseModel):
    """Base of query-string models. Unknown parameters are ignored (clients add cache
    busters); values arrive as strings and are coerced (`?limit=20`)."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    """Cursor pagination, shared by every list route."""

    limit: int = Field(default=50, ge=1, le=100, description="Items per page (1-100).")
    cursor: str | None = Field(default=None, max_length=512, description=(
        "Opaque cursor from a previous page's `next_cursor`; omit for the first page."))


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first (ordered by created_at, then id). `next_cursor` is
    null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
