"""The emulator's memory: objects by id, the clock, idempotency keys, lists and `expand`.

Objects are plain dicts shaped like Stripe's JSON. Keys starting with `_` are the
emulator's own bookkeeping and never leave the server. One re-entrant lock guards
everything; request handlers and the clock hold it while they change state, so every
request sees (and leaves) a consistent world.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from devtools.emulators.stripe.forms import as_int, as_str

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class ApiError(Exception):
    """An error answered the way Stripe answers it: `{"error": {...}}` with a status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        decline_code: str | None = None,
        should_retry: bool | None = False,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.param, self.code, self.decline_code = param, code, decline_code
        self.should_retry = should_retry

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        for key in ("param", "code", "decline_code"):
            if getattr(self, key):
                err[key] = getattr(self, key)
        return {"error": err}


def missing(kind: str, oid: str, param: str = "id") -> ApiError:
    return ApiError(404, f"No such {kind}: '{oid}'", param=param, code="resource_missing")


class Clock:
    """Wall time plus an offset that only moves forward: advancing it makes renewals,
    retries and trial ends happen, exactly as Stripe's test clocks do."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ApiError(400, "The clock only moves forward.", param="seconds")
        self.offset += int(seconds)


Renderer = Callable[[dict[str, Any]], dict[str, Any]]


class Store:
    def __init__(self, public_url: str = "") -> None:
        self.lock = threading.RLock()
        self.public_url = public_url.rstrip("/")
        self.clock = Clock()
        self.renderers: dict[str, Renderer] = {}
        self.includables: dict[tuple[str, str], Callable[[dict], Any]] = {}
        self.on_event: Callable[[dict], None] | None = None
        # Fills in the fields Stripe always renders (shapes.fill_defaults, set by Stripe).
        self.fill: Renderer | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict[str, Any]] = {}
            self.seq: dict[str, int] = {}
            self.by_type: dict[str, list[str]] = {}
            self.idempotency: dict[str, tuple[str, int, dict]] = {}
            self.meter_events: dict[str, dict[str, Any]] = {}  # identifier -> event
            self._counter = 0
            self.clock = Clock()

    # --- objects -----------------------------------------------------------------------

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._counter += 1
            self.objects[obj["id"]] = obj
            self.seq[obj["id"]] = self._counter
            self.by_type.setdefault(obj["object"], []).append(obj["id"])
            return obj

    def get(
        self, kind: str, oid: Any, label: str | None = None, param: str = "id"
    ) -> dict[str, Any]:
        obj = self.objects.get(oid) if isinstance(oid, str) else None
        if obj is None or obj["object"] != kind or obj.get("deleted"):
            raise missing(label or kind.split(".")[-1].replace("_", " "), str(oid), param)
        return obj

    def find(self, oid: Any) -> dict[str, Any] | None:
        return self.objects.get(oid) if isinstance(oid, str) else None

    def all(self, kind: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
        """Objects of a kind, oldest first."""
        objs = [self.objects[i] for i in self.by_type.get(kind, [])]
        objs = [o for o in objs if not o.get("deleted")]
        return [o for o in objs if where(o)] if where else objs

    # --- rendering ---------------------------------------------------------------------

    def render(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A deep copy without the emulator's private keys, with computed fields filled."""
        out = _public(obj)
        renderer = self.renderers.get(obj.get("object", ""))
        out = renderer(out) if renderer else out
        return self.fill(out) if self.fill else out

    def url(self, path: str) -> str:
        return f"{self.public_url}{path}"

    # --- lists -------------------------------------------------------------------------

    def page(self, objs: list[dict], params: dict, url: str) -> dict[str, Any]:
        """Stripe's cursor pagination, newest first: limit, starting_after, ending_before."""
        limit = as_int(params, "limit", 10, minimum=1)
        limit = min(limit or 10, 100)
        ordered = sorted(
            objs, key=lambda o: (o.get("created", 0), self.seq.get(o["id"], 0)), reverse=True
        )
        after = as_str(params, "starting_after")
        before = as_str(params, "ending_before")
        ids = [o["id"] for o in ordered]
        if after:
            if after not in ids:
                raise missing("object", after, "starting_after")
            rest = ordered[ids.index(after) + 1 :]
            data, has_more = rest[:limit], len(rest) > limit
        elif before:
            if before not in ids:
                raise missing("object", before, "ending_before")
            head = ordered[: ids.index(before)]
            data, has_more = head[-limit:], len(head) > limit
        else:
            data, has_more = ordered[:limit], len(ordered) > limit
        return {
            "object": "list",
            "data": [self.render(o) for o in data],
            "has_more": has_more,
            "url": url,
        }

    # --- expand ------------------------------------------------------------------------

    def expand(self, rendered: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
        for path in paths:
            parts = [p for p in str(path).split(".") if p]
            if len(parts) > 4:
                raise ApiError(
                    400,
                    f"You cannot expand more than 4 levels of a property. Property: {path}",
                    param="expand",
                )
            self._expand(rendered, parts, path)
        return rendered

    def _expand(self, node: Any, parts: list[str], path: str) -> Any:
        if not parts:
            return node
        head, rest = parts[0], parts[1:]
        if isinstance(node, list):
            return [self._expand(item, parts, path) for item in node]
        if not isinstance(node, dict):
            return node
        include = self.includables.get((node.get("object", ""), head))
        if include is not None:
            original = self.find(node.get("id"))
            node[head] = include(original) if original else None
        elif head not in node:
            raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        value = node[head]
        if isinstance(value, str) and value in self.objects:
            value = self.render(self.objects[value])
        node[head] = self._expand(value, rest, path)
        return node

    # --- idempotency -------------------------------------------------------------------

    def idempotent(self, key: str | None, fingerprint: str) -> tuple[int, dict] | None:
        """A stored response for this key, or None; the same key with other parameters
        is refused as Stripe refuses it."""
        if not key:
            return None
        hit = self.idempotency.get(key)
        if hit is None:
            return None
        stored_fp, status, body = hit
        if stored_fp != fingerprint:
            raise ApiError(
                400,
                "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with. Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        return status, copy.deepcopy(body)

    def remember(self, key: str | None, fingerprint: str, status: int, body: dict) -> None:
        if key:
            self.idempotency[key] = (fingerprint, status, copy.deepcopy(body))

    # --- events ------------------------------------------------------------------------

    def emit(
        self,
        type: str,
        obj: dict[str, Any],
        *,
        previous: dict | None = None,
        at: int | None = None,
        request: dict | None = None,
    ) -> dict[str, Any]:
        """Record an event with a snapshot of `obj` and hand it to webhook delivery."""
        with self.lock:
            data: dict[str, Any] = {"object": self.render(obj)}
            if previous:
                data["previous_attributes"] = previous
            event = {
                "id": new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": at if at is not None else self.clock.now(),
                "data": data,
                "livemode": False,
                "pending_webhooks": 0,
                "request": request or {"id": None, "idempotency_key": None},
                "type": type,
            }
            self.add(event)
            if self.on_event is not None:
                self.on_event(event)
            return event


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`previous_attributes`: the old value of every top-level field that changed."""
    return {
        k: before.get(k)
        for k in set(before) | set(after)
        if before.get(k) != after.get(k) and k != "object"
    }
