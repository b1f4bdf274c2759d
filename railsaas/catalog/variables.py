"""The variables a customer fills in when deploying a template.

A template's `setup_config["variables"]` is a list of specs:

    {"name": "ADMIN_EMAIL", "label": "Admin email", "required": true, "default": null,
     "generate": null | "secret" | "password" | "hex", "secret": false,
     "pattern": "regex the whole value must match", "help": "...", "service": null}

This module turns specs into a form, checks what a customer sent against them (errors keyed
`variables.<NAME>`, so a form shows each next to its field), and writes the accepted values
into Railway's `serializedConfig`, which otherwise travels unchanged (API_BRIEF 5.1: typed
round-trips dropped fields and broke deployments).
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from dataclasses import asdict, dataclass
from typing import Any

from railsaas.errors import ValidationFailed
from railsaas.railway import MissingVariables, fill_variables

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
GENERATORS = ("secret", "password", "hex")
MAX_VALUE_LENGTH = 4000
# Railway's own template functions (`${{ secret(32) }}`) and references to other services
# (`${{Postgres.DATABASE_URL}}`) are resolved by Railway: never a customer's business.
_RAILWAY_EXPR = re.compile(r"\$\{\{.*?\}\}")
_SECRETISH = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY$|^KEY$|PRIVATE)")


@dataclass(frozen=True)
class VariableSpec:
    name: str
    label: str
    required: bool = False
    default: str | None = None
    generate: str | None = None
    secret: bool = False
    pattern: str | None = None
    help: str | None = None
    service: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_specs(raw: Any) -> list[VariableSpec]:
    """Validate an admin's variable list (from a form or the API). Raises ValidationFailed."""
    if raw is None:
        return []
    if isinstance(raw, dict):
        raw = raw.get("variables", [])
    if not isinstance(raw, list):
        raise ValidationFailed(
            "Variables must be a list.", details={"setup_config": "must be a list of variables"}
        )
    specs, errors, seen = [], {}, set()
    for i, item in enumerate(raw):
        key = f"setup_config.{i}"
        if not isinstance(item, dict):
            errors[key] = "must be an object"
            continue
        name = str(item.get("name") or "").strip()
        if not NAME_RE.match(name):
            errors[key] = "name must be an environment variable name (letters, digits, _)"
            continue
        if name in seen:
            errors[key] = f"{name} is listed twice"
            continue
        seen.add(name)
        generate = item.get("generate") or None
        if generate is not None and generate not in GENERATORS:
            errors[key] = f"generate must be one of {', '.join(GENERATORS)}"
            continue
        pattern = item.get("pattern") or None
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error:
                errors[key] = f"{name}: pattern is not a valid regular expression"
                continue
        default = item.get("default")
        specs.append(
            VariableSpec(
                name=name,
                label=str(item.get("label") or name.replace("_", " ").capitalize())[:200],
                required=bool(item.get("required")),
                default=None if default in (None, "") else str(default),
                generate=generate,
                secret=bool(item.get("secret")) or generate is not None,
                pattern=pattern,
                help=(str(item["help"])[:500] if item.get("help") else None),
                service=(str(item["service"]) if item.get("service") else None),
            )
        )
    if errors:
        raise ValidationFailed("Some variables are not valid.", details=errors)
    return specs


def specs_of(setup_config: dict[str, Any] | None) -> list[VariableSpec]:
    """Specs of a stored template (already validated when saved)."""
    try:
        return parse_specs((setup_config or {}).get("variables", []))
    except ValidationFailed:
        return []


def generate_value(kind: str) -> str:
    if kind == "hex":
        return secrets.token_hex(32)
    if kind == "password":
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(24))
    return secrets.token_urlsafe(32)


def validate_values(
    specs: list[VariableSpec], values: dict[str, Any] | None, *, partial: bool = False
) -> dict[str, str]:
    """The values to deploy with: what the customer sent, defaults, generated secrets.

    Unknown names and bad values raise ValidationFailed with `variables.<NAME>` keys.
    partial=True (editing a running instance): only the names sent are checked and returned.
    """
    values = values or {}
    if not isinstance(values, dict):
        raise ValidationFailed(
            "Variables must be an object.",
            details={"variables": "must be an object of name to value"},
        )
    known = {s.name: s for s in specs}
    errors: dict[str, str] = {}
    for name in values:
        if name not in known:
            errors[f"variables.{name}"] = "is not a variable of this template"
    result: dict[str, str] = {}
    for spec in specs:
        if partial and spec.name not in values:
            continue
        raw = values.get(spec.name)
        if raw is not None and not isinstance(raw, str | int | float | bool):
            errors[f"variables.{spec.name}"] = "must be text"
            continue
        value = "" if raw is None else str(raw).strip()
        if not value and spec.default is not None and not partial:
            value = spec.default
        if not value and spec.generate:
            value = generate_value(spec.generate)
        if not value:
            if spec.required:
                errors[f"variables.{spec.name}"] = f"{spec.label} is required"
            continue
        if len(value) > MAX_VALUE_LENGTH:
            errors[f"variables.{spec.name}"] = f"must be at most {MAX_VALUE_LENGTH} characters"
        elif spec.pattern and not re.fullmatch(spec.pattern, value):
            errors[f"variables.{spec.name}"] = f"{spec.label} is not in the expected format" + (
                f" ({spec.help})" if spec.help else ""
            )
        else:
            result[spec.name] = value
    if errors:
        raise ValidationFailed("Some settings are not valid.", details=errors)
    return result


def _services(serialized: dict[str, Any]) -> dict[str, Any]:
    services = serialized.get("services")
    return services if isinstance(services, dict) else {}


def apply_to_serialized(
    serialized: dict[str, Any] | None, specs: list[VariableSpec], values: dict[str, str]
) -> dict[str, Any]:
    """A copy of Railway's serializedConfig with the customer's values set.

    Only `variables.<NAME>.value` is written (the CLI's approach), from the customer's value
    or else the template's `defaultValue`. A spec naming a service
    goes to that service; otherwise to every service that declares the variable, or the
    first service when none does."""
    config = copy.deepcopy(serialized or {})
    services = _services(config)
    if not services:
        return config
    # Railway does not fall back to `defaultValue`: the client sends it as the value, as the
    # CLI does (src/commands/deploy.rs).
    for service in (s for s in services.values() if isinstance(s, dict)):
        for entry in (service.get("variables") or {}).values():
            if (
                isinstance(entry, dict)
                and entry.get("value") in (None, "")
                and entry.get("defaultValue") not in (None, "")
            ):
                entry["value"] = entry["defaultValue"]
    by_name = {s.name: s for s in specs}
    for name, value in values.items():
        spec = by_name.get(name)
        targets = []
        for service in services.values():
            if not isinstance(service, dict):
                continue
            if spec and spec.service:
                if service.get("name") == spec.service:
                    targets.append(service)
            elif name in (service.get("variables") or {}):
                targets.append(service)
        if not targets:
            first = next((s for s in services.values() if isinstance(s, dict)), None)
            if first is None:
                continue
            targets = [first]
        for service in targets:
            variables = service.setdefault("variables", {})
            entry = variables.get(name)
            if not isinstance(entry, dict):
                entry = variables[name] = {}
            entry["value"] = value
    return config


def check_railway_requirements(
    serialized: dict[str, Any] | None, specs: list[VariableSpec], values: dict[str, str]
) -> None:
    """Refuse, before anything is created, a deploy Railway would fail: a variable the
    template requires (no default, not optional) that nobody fills in."""
    if not _services(serialized or {}):
        return
    by_name = {s.name: s for s in specs}
    keyed = {
        (f"{by_name[n].service}.{n}" if n in by_name and by_name[n].service else n): v
        for n, v in values.items()
    }
    try:
        fill_variables(serialized or {}, keyed)
    except MissingVariables as exc:
        raise ValidationFailed(
            "This template needs settings it does not ask for; please tell support.",
            details={
                f"variables.{name.split('.', 1)[-1]}": (
                    "is required by the template but cannot be set here"
                )
                for name in exc.names
            },
        ) from None


def variables_by_service(
    serialized: dict[str, Any] | None, specs: list[VariableSpec], values: dict[str, str]
) -> dict[str, dict[str, str]]:
    """{service name: {NAME: value}}: where each value lives, for variable upserts."""
    applied = apply_to_serialized(serialized, specs, values)
    out: dict[str, dict[str, str]] = {}
    for service in _services(applied).values():
        if not isinstance(service, dict):
            continue
        for name, entry in (service.get("variables") or {}).items():
            if name in values and isinstance(entry, dict) and entry.get("value") == values[name]:
                out.setdefault(str(service.get("name") or ""), {})[name] = values[name]
    return out


def propose_specs(serialized: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What a customer should fill in, read from a Railway template's serializedConfig:
    variables with no usable default (required), optional ones, and Railway's own secret
    generators (left to Railway). References to other services are Railway's to resolve."""
    proposals: dict[str, dict[str, Any]] = {}
    services = _services(serialized or {})
    multi = len(services) > 1
    for service in services.values():
        if not isinstance(service, dict):
            continue
        for name, entry in (service.get("variables") or {}).items():
            if not NAME_RE.match(str(name)) or name in proposals:
                continue
            entry = entry if isinstance(entry, dict) else {}
            default = entry.get("defaultValue")
            default = "" if default is None else str(default)
            if _RAILWAY_EXPR.search(default):
                continue  # a reference or generator: Railway fills it in
            optional = bool(entry.get("isOptional"))
            if default and not optional:
                continue  # a fixed setting of the template, not a question for the customer
            proposals[name] = {
                "name": name,
                "label": name.replace("_", " ").capitalize(),
                "required": not optional and not default,
                "default": default or None,
                "generate": None,
                "secret": bool(_SECRETISH.search(name)),
                "pattern": None,
                "help": (str(entry["description"])[:500] if entry.get("description") else None),
                "service": (str(service.get("name")) if multi and service.get("name") else None),
            }
    return list(proposals.values())


def masked(specs: list[VariableSpec], values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows for showing an instance's variables: secrets masked, never their value."""
    rows = []
    known = {s.name: s for s in specs}
    for name, value in sorted((values or {}).items()):
        spec = known.get(name)
        secret = spec.secret if spec else bool(_SECRETISH.search(name))
        rows.append(
            {
                "name": name,
                "label": spec.label if spec else name,
                "secret": secret,
                "value": "••••••••" if secret else value,
                "help": spec.help if spec else None,
                "pattern": spec.pattern if spec else None,
                "required": spec.required if spec else False,
            }
        )
    for spec in specs:
        if spec.name not in (values or {}):
            rows.append(
                {
                    "name": spec.name,
                    "label": spec.label,
                    "secret": spec.secret,
                    "value": "",
                    "help": spec.help,
                    "pattern": spec.pattern,
                    "required": spec.required,
                }
            )
    return rows
