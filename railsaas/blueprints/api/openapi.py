"""The OpenAPI 3.1 document, generated from the app itself: every /api rule of the URL map,
the declaration its view carries (operations.py), and the JSON Schema of the very pydantic
models that validate requests and shape responses. Nothing is written by hand, so the
document cannot describe an API that is not there.

GET /api/openapi.json  the document
GET /api/docs          the same, rendered as a page (server-side, no script)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from flask import Flask, current_app, jsonify, render_template
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from railsaas.blueprints.api import reference
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.guard import required_scope
from railsaas.blueprints.api.operations import Media, Operation, get_operation, operation
from railsaas.schemas.common import ErrorResponse

REF = "#/components/schemas/{model}"
_ARG = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTERS: dict[str, dict[str, Any]] = {
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
}
_METHODS = ("get", "put", "post", "patch", "delete")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

STATUS_TEXT = {
    400: "Malformed request: a body that is not JSON or is nested too deeply, a NUL character "
    "in the body, the query or the path, a malformed X-Workspace-ID, or (for a webhook) "
    "a bad signature.",
    401: "No credential, or one that is invalid, expired or revoked (`WWW-Authenticate: Bearer`).",
    402: "A plan limit stands in the way.",
    403: "Not allowed: a platform-admin route, a role that may not do this, or a token "
    "without the required scope.",
    404: "No such thing, or one that belongs to another workspace.",
    409: "Conflicts with the current state.",
    413: "The body is larger than the server accepts.",
    415: "The body is not declared as JSON (`Content-Type: application/json`).",
    422: "Invalid fields: `details` maps each field to its message.",
    429: "Too many requests: wait `Retry-After` seconds.",
    502: "Railway did not answer; try again later.",
    503: "Stripe did not answer; try again later.",
}

INTRO = """\
The JSON API of RailSaaS.

**Authentication.** `Authorization: Bearer <token>`, with either an access token from
`POST /api/auth/login` (short-lived; renew it with `/api/auth/refresh`) or a personal API
token (`rs_live_...`, created on the account's API tokens page or with `POST /api/tokens`).
A personal token belongs to one workspace and carries scopes: `read` (any GET), `deploy`
(also deploy and manage instances), `admin` (also manage the workspace, and for platform
admins the platform). Session tokens act in the workspace named by `X-Workspace-ID`, or
the user's first.

**Getting started.** `GET /api/plans` lists the plans (no token). `POST /api/auth/register`
answers 202 and no tokens (the same answer whether or not the address already has an
account); sign in next with `POST /api/auth/login`. An account with two-factor sign-in gets
401 `second_factor_required` there: send the same request again with `totp` (the
authenticator app's current code, or a recovery code). Personal API tokens need no code.
Platform admins must have two-factor sign-in on: without it the admin operations answer 403
`two_factor_required`.

**Errors** are always `{"error": {"code", "message", "details"}}`, with `code` stable for
programs and `details` mapping fields to messages on 422. Another workspace's ids answer 404.

**Lists** are pages, newest first: `limit` (1-100, default 50) and `cursor` (the previous
page's `next_cursor`, opaque), answering `{"items": [...], "next_cursor": ...}`. The plans,
a short price list, come whole.

**Times** are ISO 8601 in UTC. **Money** is in integer cents.

**Rate limits** apply per credential and per client address; every answer carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds), and going
over answers 429 with `Retry-After`.
"""


@dataclass(frozen=True)
class Route:
    path: str  # OpenAPI form: /api/tokens/{token_id}
    rule: str  # Flask form: /api/tokens/<uuid:token_id>
    method: str
    endpoint: str
    operation: Operation | None


def api_routes(app: Flask) -> Iterator[Route]:
    """Every (rule, method) of the app under /api, with the declaration of its view."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule == "/api" or rule.rule.startswith("/api/")):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield Route(
                path=_ARG.sub(lambda m: "{" + m["name"] + "}", rule.rule),
                rule=rule.rule,
                method=method.lower(),
                endpoint=rule.endpoint,
                operation=get_operation(view),
            )


def undocumented(app: Flask) -> list[str]:
    return [f"{r.method.upper()} {r.rule}" for r in api_routes(app) if r.operation is None]


def document(app: Flask | None = None) -> dict[str, Any]:
    """The document, built once per app."""
    app = app or current_app._get_current_object()
    cached = app.extensions.get("openapi_document")
    if cached is None:
        cached = app.extensions["openapi_document"] = build(app)
    return cached


# --- building ----------------------------------------------------------------------------


class _Generator(GenerateJsonSchema):
    """Component names people can read: Page[TokenOut] becomes TokenOutPage."""

    def normalize_name(self, name: str) -> str:
        return super().normalize_name(re.sub(r"^(\w+)\[(\w+)\]$", r"\2\1", name))


class _Schemas:
    """Collects the models an operation names, then renders them all at once so shared
    models become one component each."""

    def __init__(self) -> None:
        self.wanted: list[tuple[type[BaseModel], str]] = [(ErrorResponse, "serialization")]
        self.refs: dict[tuple[type[BaseModel], str], dict[str, Any]] = {}
        self.components: dict[str, Any] = {}

    def want(self, model: type[BaseModel], mode: str) -> None:
        if (model, mode) not in self.wanted:
            self.wanted.append((model, mode))

    def render(self) -> None:
        refs, top = models_json_schema(
            self.wanted,
            ref_template=REF,  # type: ignore[arg-type]
            schema_generator=_Generator,
        )
        self.refs = dict(refs)  # type: ignore[arg-type]
        self.components = top.get("$defs", {})

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        return self.refs[(model, mode)]

    def inline(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        name = self.ref(model, mode)["$ref"].rsplit("/", 1)[-1]
        return self.components[name]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch of Optional."""
    options = schema.get("anyOf")
    if not options:
        return schema
    rest = [o for o in options if o.get("type") != "null"]
    if len(rest) != 1:
        return schema
    out = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    out.update(rest[0])
    if schema.get("default") is not None:
        out["default"] = schema["default"]
    return out


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "title"}


def _parameters(route: Route, op: Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for m in _ARG.finditer(route.rule):
        params.append(
            {
                "name": m["name"],
                "in": "path",
                "required": True,
                "schema": dict(_CONVERTERS.get(m["converter"] or "default", {"type": "string"})),
            }
        )
    if op.query is not None:
        model_schema = schemas.inline(op.query, "validation")
        required = set(model_schema.get("required", []))
        for name, prop in model_schema.get("properties", {}).items():
            prop = _without_null(_clean(prop))
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
            }
            if "description" in prop:
                param["description"] = prop.pop("description")
            params.append(param)
    for header in op.headers:
        params.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": {"type": "string"},
            }
        )
    if op.auth != "public":
        params.append(
            {
                "name": "X-Workspace-ID",
                "in": "header",
                "required": False,
                "description": "The workspace to act in (session tokens; a personal "
                "token is bound to its own).",
                "schema": {"type": "string", "format": "uuid"},
            }
        )
    return params


def _error_statuses(route: Route, op: Operation) -> set[int]:
    statuses = {400, 429, *op.errors}  # 400: any request may carry a NUL (input_guard)
    if op.auth != "public":
        statuses |= {400, 401, 403, 404}
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.raw_body is not None:
        statuses |= {400, 413}
    if op.query is not None:
        statuses.add(422)
    if "{" in route.path:
        statuses.add(404)
    return statuses


def _response(spec: Any, description: str, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "headers": {h: {"$ref": f"#/components/headers/{h}"} for h in RATE_HEADERS},
    }
    if isinstance(spec, Media):
        out["content"] = {spec.content_type: {"schema": spec.schema}}
    elif spec is not None:
        out["content"] = {"application/json": {"schema": schemas.ref(spec, "serialization")}}
    return out


def _success_text(status: int) -> str:
    return {
        200: "OK",
        201: "Created",
        202: "Accepted: the work continues in the background",
        204: "Done; no content",
    }.get(status, "OK")


def _operation(route: Route, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": route.endpoint.removeprefix("api."),
        "summary": op.summary,
        "tags": list(op.tags) or [route.path.split("/")[2]],
    }
    description = op.description or ""
    if op.auth == "public":
        out["security"] = []
    else:
        scope = required_scope(op.auth == "admin", op.scope, route.method)
        out["security"] = [{"bearerAuth": [scope]}]
        who = "Platform admins only. " if op.auth == "admin" else ""
        description = f"{who}Personal tokens need the `{scope}` scope.\n\n{description}"
    out["description"] = description.strip()
    if op.deprecated:
        out["deprecated"] = True
    params = _parameters(route, op, schemas)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schemas.ref(op.body, "validation")}},
        }
    elif op.raw_body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {op.raw_body.content_type: {"schema": op.raw_body.schema}},
        }
    responses: dict[str, Any] = {}
    for status, spec in sorted(op.responses.items()):
        responses[str(status)] = _response(spec, _success_text(status), schemas)
    for status in sorted(_error_statuses(route, op) - set(op.responses)):
        resp = _response(ErrorResponse, STATUS_TEXT.get(status, "Error"), schemas)
        if status == 429:
            resp["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        if status == 401:
            resp["headers"]["WWW-Authenticate"] = {"schema": {"type": "string"}}
        responses[str(status)] = resp
    out["responses"] = responses
    return out


def build(app: Flask) -> dict[str, Any]:
    routes = [r for r in api_routes(app) if r.operation is not None]
    schemas = _Schemas()
    for r in routes:
        op = r.operation
        assert op is not None
        if op.body is not None:
            schemas.want(op.body, "validation")
        if op.query is not None:
            schemas.want(op.query, "validation")
        for spec in op.responses.values():
            if isinstance(spec, type) and issubclass(spec, BaseModel):
                schemas.want(spec, "serialization")
    schemas.render()
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        assert r.operation is not None
        paths.setdefault(r.path, {})[r.method] = _operation(r, r.operation, schemas)
    # Query models are spelled out as parameters; they need no component of their own.
    query_components = {
        schemas.ref(r.operation.query, "validation")["$ref"].rsplit("/", 1)[1]
        for r in routes
        if r.operation and r.operation.query
    }
    components = {
        name: _clean_tree(s)
        for name, s in schemas.components.items()
        if name not in query_components
    }
    try:
        version = metadata.version("railsaas")
    except metadata.PackageNotFoundError:
        version = "0"
    return {
        "openapi": "3.1.0",
        "info": {"title": "RailSaaS API", "version": version, "description": INTRO},
        "paths": {
            p: dict(sorted(ops.items(), key=lambda kv: _METHODS.index(kv[0])))
            for p, ops in sorted(paths.items())
        },
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token from /api/auth/login, or a personal API "
                    "token (rs_live_...).",
                }
            },
            "headers": {
                "X-RateLimit-Limit": {
                    "description": "Requests allowed in the window.",
                    "schema": {"type": "integer"},
                },
                "X-RateLimit-Remaining": {
                    "description": "Requests left in the window.",
                    "schema": {"type": "integer"},
                },
                "X-RateLimit-Reset": {
                    "description": "Seconds until the window resets.",
                    "schema": {"type": "integer"},
                },
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer"},
                },
            },
        },
    }


def _clean_tree(node: Any) -> Any:
    """Drop pydantic's generated titles (noise in a document people read)."""
    if isinstance(node, dict):
        return {
            k: _clean_tree(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_clean_tree(v) for v in node]
    return node


# --- routes ------------------------------------------------------------------------------


@bp.get("/openapi.json")
@operation(
    auth="public", responses={200: Media("application/json", {"type": "object"})}, tags=["meta"]
)
def openapi_json():
    """This document: OpenAPI 3.1."""
    return jsonify(document())


@bp.get("/docs")
@operation(auth="public", responses={200: Media("text/html")}, tags=["meta"])
def docs():
    """The API reference as a page."""
    return render_template("api/docs.html", ref=reference.build(document()))
