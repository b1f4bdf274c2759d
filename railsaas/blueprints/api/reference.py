"""The OpenAPI document turned into what the reference page (templates/api/docs.html) shows:
operations grouped by tag, their parameters, bodies and answers, and every schema's fields.
Rendering reads only the document, so the page says exactly what /api/openapi.json says."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

# A type as the page shows it: text pieces, some linking to a schema's anchor.
TypeParts = list[tuple[str, str | None]]


@dataclass
class FieldDoc:
    name: str
    type: TypeParts
    required: bool
    description: Markup = field(default_factory=Markup)
    notes: list[str] = field(default_factory=list)
    where: str = ""  # path, query or header, for parameters


@dataclass
class ResponseDoc:
    status: str
    description: str
    type: TypeParts | None
    content_type: str | None


@dataclass
class OperationDoc:
    anchor: str
    method: str
    path: str
    summary: str
    description: Markup
    auth: str
    parameters: list[FieldDoc]
    body: TypeParts | None
    body_required: bool
    responses: list[ResponseDoc]


@dataclass
class SchemaDoc:
    name: str
    anchor: str
    description: Markup
    fields: list[FieldDoc]
    type: TypeParts | None  # for schemas that are not objects with properties


@dataclass
class Reference:
    title: str
    version: str
    intro: Markup
    groups: list[tuple[str, list[OperationDoc]]]
    schemas: list[SchemaDoc]


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")


def inline(text: str) -> Markup:
    """One paragraph of the document's text: `code` and **bold**, everything else escaped."""
    html, last = [], 0
    for m in _INLINE.finditer(text):
        html.append(str(escape(text[last : m.start()])))
        if m.group(1) is not None:
            html.append(f"<code>{escape(m.group(1))}</code>")
        else:
            html.append(f"<strong>{escape(m.group(2))}</strong>")
        last = m.end()
    html.append(str(escape(text[last:])))
    return Markup(" ".join("".join(html).split("\n")))  # noqa: S704 (pieces escaped above)


def prose(text: str) -> Markup:
    """The document's descriptions: paragraphs of `inline` text."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return Markup("\n".join(f"<p>{inline(p)}</p>" for p in paragraphs))  # noqa: S704


def anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def type_parts(schema: dict[str, Any] | None) -> TypeParts:
    if not schema:
        return [("any", None)]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [(name, anchor(name))]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts: TypeParts = []
            for i, option in enumerate(schema[key]):
                if i:
                    parts.append((" or ", None))
                parts += type_parts(option)
            return parts
    if "enum" in schema:
        return [
            (
                "one of "
                + ", ".join(repr(v) if not isinstance(v, str) else v for v in schema["enum"]),
                None,
            )
        ]
    if "const" in schema:
        return [(str(schema["const"]), None)]
    kind = schema.get("type")
    if isinstance(kind, list):
        return [(" or ".join(kind), None)]
    if kind == "array":
        return [("array of ", None), *type_parts(schema.get("items"))]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [("object of ", None), *type_parts(schema["additionalProperties"])]
    label = kind or "any"
    if schema.get("format"):
        label += f" ({schema['format']})"
    return [(label, None)]


_NOTES = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minimum", "at least {}"),
    ("maximum", "at most {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("pattern", "matches {}"),
)


def notes(schema: dict[str, Any]) -> list[str]:
    out = [text.format(schema[key]) for key, text in _NOTES if key in schema]
    for option in schema.get("anyOf", []):
        out += [text.format(option[key]) for key, text in _NOTES if key in option]
    if "default" in schema and schema["default"] is not None:
        out.append(f"default {schema['default']}")
    return out


def _fields(schema: dict[str, Any]) -> list[FieldDoc]:
    required = set(schema.get("required", []))
    return [
        FieldDoc(
            name=name,
            type=type_parts(prop),
            required=name in required,
            description=inline(prop.get("description", "")),
            notes=notes(prop),
        )
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(path: str, method: str, op: dict[str, Any]) -> OperationDoc:
    security = op.get("security") or []
    # The scope itself is in the description (the document says it there for every reader).
    auth = "Bearer token." if security else "No credential needed."
    params = [
        FieldDoc(
            name=p["name"],
            type=type_parts(p.get("schema")),
            required=p.get("required", False),
            description=inline(
                p.get("description", "") or p.get("schema", {}).get("description", "")
            ),
            notes=notes(p.get("schema", {})),
            where=p["in"],
        )
        for p in op.get("parameters", [])
    ]
    body, body_required = None, False
    if "requestBody" in op:
        content = op["requestBody"]["content"]
        body = type_parts(next(iter(content.values()))["schema"])
        body_required = op["requestBody"].get("required", False)
    responses = []
    for status, resp in op["responses"].items():
        content = resp.get("content") or {}
        ctype = next(iter(content), None)
        responses.append(
            ResponseDoc(
                status=status,
                description=resp.get("description", ""),
                content_type=ctype,
                type=type_parts(content[ctype].get("schema")) if ctype else None,
            )
        )
    return OperationDoc(
        anchor=op["operationId"],
        method=method.upper(),
        path=path,
        summary=op.get("summary", ""),
        description=prose(op.get("description", "")),
        auth=auth,
        parameters=params,
        body=body,
        body_required=body_required,
        responses=responses,
    )


def build(doc: dict[str, Any]) -> Reference:
    groups: dict[str, list[OperationDoc]] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            groups.setdefault(op.get("tags", ["other"])[0], []).append(_operation(path, method, op))
    schemas = []
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        fields = _fields(schema)
        schemas.append(
            SchemaDoc(
                name=name,
                anchor=anchor(name),
                description=prose(schema.get("description", "")),
                fields=fields,
                type=None if fields else type_parts(schema),
            )
        )
    info = doc["info"]
    return Reference(
        title=info["title"],
        version=info["version"],
        intro=prose(info.get("description", "")),
        groups=sorted(groups.items()),
        schemas=schemas,
    )
