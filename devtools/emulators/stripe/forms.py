"""Stripe's request encoding: `application/x-www-form-urlencoded` with bracketed keys.

stripe-python sends `items[0][price]=price_1`, `metadata[tenant]=t`, `expand[0]=customer`;
curl users send `expand[]=customer`. Both decode to nested dicts and lists here, values
staying strings (each resource converts what it reads, as Stripe's own API does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn (key, value) pairs into nested dicts; dicts keyed 0..n become lists."""
    root: dict[str, Any] = {}
    appends: dict[int, int] = {}  # id(container) -> next index for `key[]`
    for key, value in pairs:
        m = _KEY.match(key)
        if not m:
            raise FormError(f"Invalid parameter name: {key}", key)
        path = [m.group(1), *_PART.findall(m.group(2))]
        node = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if part == "":  # `expand[]`: the next free index of this container
                part = str(appends.get(id(node), 0))
                appends[id(node)] = int(part) + 1
            if last:
                if isinstance(node.get(part), dict):
                    raise FormError(f"Invalid value for {key}: expected an object", key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormError(f"Invalid parameter {key}: {part} is not an object", key)
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


# --- typed readers used by the resources -------------------------------------------------


def as_int(
    params: dict,
    name: str,
    default: int | None = None,
    *,
    required: bool = False,
    minimum: int | None = None,
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise FormError(f"Missing required param: {name}.", name)
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise FormError(f"Invalid integer: {raw}", name) from None
    if minimum is not None and value < minimum:
        raise FormError(f"Invalid {name}: must be at least {minimum}", name)
    return value


def as_bool(params: dict, name: str, default: bool | None = None) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if str(raw).lower() in ("true", "1"):
        return True
    if str(raw).lower() in ("false", "0"):
        return False
    raise FormError(f"Invalid boolean: {raw}", name)


def as_str(
    params: dict,
    name: str,
    default: str | None = None,
    *,
    required: bool = False,
    choices: Iterable[str] | None = None,
) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise FormError(f"Missing required param: {name}.", name)
        return default
    if not isinstance(raw, str):
        raise FormError(f"Invalid string: {name}", name)
    if choices is not None and raw not in choices:
        raise FormError(f"Invalid {name}: must be one of {', '.join(choices)}", name)
    return raw


def as_list(params: dict, name: str) -> list:
    raw = params.get(name)
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str):
        return [raw]
    raise FormError(f"Invalid array: {name}", name)


def as_dict(params: dict, name: str) -> dict:
    raw = params.get(name)
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise FormError(f"Invalid object: {name}", name)
    return raw


def metadata(params: dict, existing: dict | None = None) -> dict[str, str]:
    """Stripe merges metadata on update; an empty value deletes a key."""
    if params.get("metadata") == "":
        return {}
    result = dict(existing or {})
    for k, v in as_dict(params, "metadata").items():
        if v == "":
            result.pop(k, None)
        else:
            result[k] = str(v)
    return result
