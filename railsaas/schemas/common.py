"""Shapes shared by every area: request bodies, query strings, pages, the error envelope."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

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
    cursor: str | None = Field(
        default=None,
        max_length=512,
        description=(
            "Opaque cursor from a previous page's `next_cursor`; omit for the first page."
        ),
    )


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first (ordered by created_at, then id). `next_cursor` is
    null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def partial(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """The body of a partial update of `model`: the same fields and constraints, none
    required, none nullable unless the original is. Dump it with exclude_unset=True."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation = (
            Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        )
        fields[field_name] = (
            annotation,
            Field(default=None, description=info.description, json_schema_extra=_no_default),
        )
    return create_model(name, __base__=Body, __doc__=doc, __module__=model.__module__, **fields)
