"""Checking an answer against the OpenAPI document: its status must be declared for the
operation, and its body must match the declared schema (jsonschema, draft 2020-12, with the
document's components to resolve references)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

_validators: dict[tuple[int, str], Any] = {}


def _validator(doc: dict[str, Any], method: str, path: str, status: str, ctype: str):
    key = (id(doc), f"{method} {path} {status} {ctype}")
    found = _validators.get(key)
    if found is None:
        schema = doc["paths"][path][method]["responses"][status]["content"][ctype]["schema"]
        found = _validators[key] = jsonschema_rs.Draft202012Validator(
            {**schema, "components": doc["components"]}
        )
    return found


def find_operation(doc: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op["operationId"] == operation_id:
                return path, method, op
    raise KeyError(operation_id)


def assert_conforms(doc: dict[str, Any], operation_id: str, response) -> None:
    """`response` (a Flask test response) is one the document allows for the operation."""
    path, method, op = find_operation(doc, operation_id)
    status = str(response.status_code)
    assert status in op["responses"], (
        f"{method.upper()} {path} answered {status}, which the document does not declare "
        f"(declared: {sorted(op['responses'])}); body: {response.get_data(as_text=True)[:300]}"
    )
    content = op["responses"][status].get("content")
    if not content:
        assert response.get_data() == b"", f"{operation_id}: {status} should have no body"
        return
    ctype = response.mimetype
    assert ctype in content, f"{operation_id}: {status} answered {ctype}, not {list(content)}"
    if ctype == "application/json":
        validator = _validator(doc, method, path, status, ctype)
        errors = [
            f"{'/'.join(map(str, e.instance_path))}: {e.message}"
            for e in validator.iter_errors(response.get_json())
        ]
        assert not errors, f"{operation_id} {status} does not match its schema: {errors}"
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers, f"{operation_id}: no {header}"
