"""Request bodies -> pydantic models, with the API's error answers:

415 when the body is not declared JSON, 400 when it does not parse (or is too deep, or holds a
NUL: railsaas.input_guard), 422 with one message per field (`details` maps "field" or
"field.sub" to its message) when it does not fit the model or a number is not finite.
Messages never echo the submitted value (it may be a password).
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from railsaas import input_guard
from railsaas.errors import ServiceError, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class UnsupportedMediaType(ServiceError):
    status, code = 415, "unsupported_media_type"


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def field_errors(exc: ValidationError) -> dict[str, str]:
    details: dict[str, str] = {}
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "Unknown field."
        elif err["type"] == "missing":
            message = "This field is required."
        details.setdefault(loc, message)
    return details


def parse_body(model: type[M], *, optional: bool = False) -> M:
    """The request's JSON body as `model`. optional=True: no body at all means `model()`."""
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        return _validate(model, {})
    if not _is_json(request.mimetype):
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
    data: Any = input_guard.loads_json(raw)
    return _validate(model, data)


def _validate(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The body must be a JSON object.", details={"body": "Expected a JSON object."}
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("Some fields are invalid.", details=field_errors(exc)) from None


def dump(model: BaseModel, **kwargs: Any) -> dict[str, Any]:
    """JSON-ready dict (times in ISO 8601), leaving out unset optional extras."""
    return model.model_dump(mode="json", **kwargs)
