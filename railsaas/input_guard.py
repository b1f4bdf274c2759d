"""Input no view should ever see: refused at the door, in one place for forms and one for JSON.

- NUL bytes. PostgreSQL cannot store them in text, so one reaching a query is a 500 (and a
  NUL in a name is never meant). `check_request` refuses them in every query argument,
  form field (names too) and URL part, before any page view runs (`init_app`) and before
  any API operation parses its input (the API's operation wrapper): 400
  `invalid_characters`.
- JSON that is too deep or not finite. `loads_json` is the API's one JSON parser: nesting
  beyond MAX_JSON_DEPTH is 400 `json_too_deep` (Python's parser would otherwise raise
  RecursionError, a 500); `NaN`/`Infinity` are not JSON (400 `malformed_json`), and a number
  too large for a float (`1e400`) is 422 with the field named, rather than an `inf` that
  reaches money arithmetic. A NUL in any string or key is refused as above.

Nothing is written in any of these cases: the request ends before the view.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, request

from railsaas.errors import ServiceError, ValidationFailed

MAX_JSON_DEPTH = 32
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL = "\x00"


class BadInput(ServiceError):
    status, code = 400, "invalid_characters"


class MalformedJSON(ServiceError):
    status, code = 400, "malformed_json"


def _nul_refused(where: str) -> BadInput:
    return BadInput(
        "The request contains a NUL character, which is never valid here. Remove it and try again.",
        details={where: "contains a NUL character"},
    )


def check_request() -> None:
    """Refuse a NUL anywhere in the URL's parts, the query string or a submitted form."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and NUL in value:
            raise _nul_refused(name)
    sources = [request.args]
    if request.mimetype in FORM_TYPES:
        sources.append(request.form)
    for source in sources:
        for key, values in source.lists():
            if NUL in key or any(NUL in v for v in values):
                raise _nul_refused(key.replace(NUL, "") or "field")


def _check_page_request() -> None:
    # The API checks in its operation wrapper instead (blueprints/api/operations.py), after
    # its guard and rate limit, so the answer carries the API's headers.
    if request.path == "/api" or request.path.startswith("/api/"):
        return
    check_request()


def init_app(app: Flask) -> None:
    app.before_request(_check_page_request)


class _NotFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_json(raw: bytes | str) -> Any:
    """Parse a request body; refuse what the module docstring lists, with a clear error."""
    try:
        data = json.loads(raw, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep() from None
    except _NotFinite:
        message = "Numbers must be finite (this one is too large)."
        raise ValidationFailed(
            message, code="non_finite_number", details={"body": message}
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedJSON("The body is not valid JSON.") from None
    check_json(data)
    return data


def _too_deep() -> BadInput:
    return BadInput(
        f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels).",
        code="json_too_deep",
    )


def check_json(data: Any) -> None:
    """Depth and NUL checks over parsed JSON, without recursion."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "body")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                raise _nul_refused(path)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                if NUL in key:
                    raise _nul_refused(path)
                stack.append((item, depth + 1, key if path == "body" else f"{path}.{key}"))
        else:
            stack.extend((item, depth + 1, f"{path}.{i}") for i, item in enumerate(value))
