"""The emulator's HTTP side: GraphQL at /graphql/v2, the control API under /_emulator/, and
a threaded werkzeug server that runs it (standalone or in a test's thread).

Every GraphQL request goes through, in order: the rate limiter (429 past the budget), the
fault injector (latency, then maybe an injected failure), auth (Bearer token; "Not
Authorized" as a GraphQL error, template lookup exempt), validation against the emulator
schema (HTTP 400), and execution with the World locked. Each one lands in the request log.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter, deque
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.emulators.railway.apps import Apps
from devtools.emulators.railway.faults import FaultConfig, Faults
from devtools.emulators.railway.resolvers import (
    PUBLIC_FIELDS,
    deployment_obj,
    schema,
)
from devtools.emulators.railway.world import ApiError, Settings, World, iso

HTML_ERROR = """<!DOCTYPE html>
<html><head><title>{status} {reason}</title></head>
<body><h1>{reason}</h1><p>The web server reported a gateway error.</p>
<hr><p>cloudflare</p></body></html>
"""
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class RateLimiter:
    """Railway's limits per token: a fixed hourly window (starting at the key's first
    request) and a sliding one-second window."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.Lock()
        self.windows: dict[str, list[float]] = {}  # key -> [window start, count]
        self.seconds: dict[str, deque[float]] = {}

    def reset(self) -> None:
        with self.lock:
            self.windows.clear()
            self.seconds.clear()

    def check(self, key: str, workspace: str | None = None) -> tuple[bool, dict[str, str], int]:
        per_hour, per_second = self.world.workspace_rates.get(
            workspace or "",
            (self.world.settings.rate_per_hour, self.world.settings.rate_per_second),
        )
        now = time.time()
        with self.lock:
            window = self.windows.get(key)
            if window is None or now >= window[0] + 3600:
                window = self.windows[key] = [now, 0]
            recent = self.seconds.setdefault(key, deque())
            while recent and recent[0] <= now - 1:
                recent.popleft()
            reset_at = window[0] + 3600
            allowed, retry_after = True, 0
            if window[1] >= per_hour:
                allowed, retry_after = False, max(math.ceil(reset_at - now), 1)
            elif len(recent) >= per_second:
                allowed, retry_after = False, 1
            else:
                window[1] += 1
                recent.append(now)
            headers = {
                "X-RateLimit-Limit": str(per_hour),
                "X-RateLimit-Remaining": str(max(per_hour - window[1], 0)),
                "X-RateLimit-Reset": str(int(math.ceil(reset_at))),
            }
            return allowed, headers, retry_after


class RequestLog:
    def __init__(self, keep: int = 5000) -> None:
        self.lock = threading.Lock()
        self.entries: deque[dict] = deque(maxlen=keep)
        self.by_operation: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.total = 0

    def start(self, entry: dict) -> None:
        """Counted on arrival (a request that times out still counts at once)."""
        with self.lock:
            self.total += 1
            entry["seq"] = self.total
            entry["status"] = None  # in flight
            self.entries.append(entry)
            self.by_operation[entry["operation"]] += 1

    def finish(self, entry: dict, status: int) -> None:
        with self.lock:
            entry["status"] = status
            self.by_status[str(status)] += 1
            if entry.get("fault"):
                self.by_fault[entry["fault"]] += 1

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()
            self.by_operation.clear()
            self.by_status.clear()
            self.by_fault.clear()
            self.total = 0

    def to_dict(self, operation: str | None = None, limit: int = 100) -> dict:
        with self.lock:
            entries = [e for e in self.entries if operation in (None, e["operation"])]
            return {
                "total": self.total,
                "by_operation": dict(self.by_operation),
                "by_status": dict(self.by_status),
                "by_fault": dict(self.by_fault),
                "entries": entries[-limit:] if limit else [],
            }


@lru_cache(maxsize=512)
def _parse(query: str) -> DocumentNode:
    return parse(query)


def _operation(doc: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in ops if o.name and o.name.value == name), None)
    return ops[0] if len(ops) == 1 else None


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(data), status=status, headers=headers or {}, mimetype="application/json"
    )


class EmulatorApp:
    """The WSGI application."""

    def __init__(self, world: World, faults: Faults) -> None:
        self.world = world
        self.faults = faults
        self.rate = RateLimiter(world)
        self.log = RequestLog()
        self.stopping = threading.Event()  # cuts injected sleeps short on shutdown
        self.apps = Apps(world, self.stopping)  # the service domains' own answers (apps.py)

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except ValueError as exc:
            response = _json({"error": str(exc)}, 400)
        return response(environ, start_response)

    # -- routing ------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if (
            not path.startswith(("/graphql", "/_emulator"))
            and (host := self.apps.host_of(request)) is not None
        ):
            return self.apps.answer(host)
        if path == "/graphql/v2":
            if method != "POST":
                return _json({"errors": [{"message": "POST a GraphQL request"}]}, 405)
            return self.graphql(request)
        if not path.startswith("/_emulator"):
            return _json({"error": "not found"}, 404)
        body = request.get_json(silent=True) or {}
        parts = path.split("/")[2:]
        route = (method, parts[0] if parts else "")
        if route == ("GET", "health"):
            return _json({"ok": True})
        if (answered := self.apps.control(method, parts, body)) is not None:
            return answered
        if route == ("GET", "faults"):
            return _json(self.faults.to_dict())
        if route == ("POST", "faults") and len(parts) == 2 and parts[1] == "next":
            self.faults.script(
                body.pop("fault", ""),
                int(body.pop("times", 1)),
                body.pop("operation", None),
                **body,
            )
            return _json(self.faults.to_dict())
        if route == ("POST", "faults"):
            with self.world.lock:
                if "deploy_outcomes" in body:
                    outcomes = [str(o).upper() for o in body.pop("deploy_outcomes") or []]
                    if set(outcomes) - {"SUCCESS", "FAILED", "CRASHED"}:
                        raise ValueError("deploy_outcomes: SUCCESS, FAILED or CRASHED")
                    self.world.next_outcomes = outcomes
                if "deploy_fail_rate" in body:
                    self.world.fail_rate = float(body.pop("deploy_fail_rate"))
                if "deploy_crash_rate" in body:
                    self.world.crash_rate = float(body.pop("deploy_crash_rate"))
            self.faults.update(body)
            return _json(self.faults.to_dict())
        if route == ("DELETE", "faults"):
            self.faults.clear()
            with self.world.lock:
                self.world.next_outcomes, self.world.fail_rate, self.world.crash_rate = [], 0, 0
            return _json(self.faults.to_dict())
        if route == ("GET", "requests"):
            return _json(
                self.log.to_dict(request.args.get("operation"), int(request.args.get("limit", 100)))
            )
        if route == ("DELETE", "requests"):
            self.log.reset()
            return _json({"ok": True})
        if route == ("POST", "reset"):
            self.reset()
            return _json({"ok": True})
        if route == ("GET", "config"):
            with self.world.lock:
                cfg = asdict(self.world.settings)
            cfg.pop("token", None)
            return _json(cfg)
        if route == ("POST", "config"):
            with self.world.lock:
                self.world.settings.update(body)
            return _json({"ok": True})
        if route == ("POST", "clock"):
            with self.world.lock:
                if "freeze" in body:
                    self.world.clock.freeze(bool(body["freeze"]))
                self.world.clock.advance(float(body.get("advance", 0)))
                return _json({"now": iso(self.world.now()), "offset": self.world.clock.offset})
        if route == ("GET", "state"):
            with self.world.lock:
                return _json(self.world.snapshot())
        if route == ("POST", "projects"):
            # A crowded workspace in one call (a test of lookups among thousands).
            count = int(body.get("count", 0))
            if not 0 < count <= 50_000:
                raise ValueError("count: 1 to 50000")
            prefix = str(body.get("prefix", "other-"))
            with self.world.lock:
                for i in range(count):
                    self.world.create_project(f"{prefix}{i}", None, None, None)
            return _json({"created": count})
        if route == ("POST", "workspaces") and len(parts) == 1:
            # Another Railway workspace, reached with its own token and budget.
            rates = None
            if "rate_per_hour" in body or "rate_per_second" in body:
                rates = (
                    int(body.get("rate_per_hour", self.world.settings.rate_per_hour)),
                    int(body.get("rate_per_second", self.world.settings.rate_per_second)),
                )
            with self.world.lock:
                self.world.add_workspace(str(body.get("id", "")), str(body.get("token", "")), rates)
            return _json({"ok": True})
        if route == ("POST", "workspaces") and len(parts) == 3 and parts[2] == "revoke":
            with self.world.lock:
                return _json({"revoked": self.world.revoke_workspace(parts[1])})
        if route == ("GET", "workspaces"):
            with self.world.lock:
                ids = {self.world.settings.workspace_id, *self.world.workspace_tokens.values()}
                return _json(
                    {
                        ws: sum(
                            1
                            for p in self.world.projects.values()
                            if p.workspace_id == ws and p.deleted_at is None
                        )
                        for ws in sorted(ids)
                    }
                )
        if route == ("GET", "templates"):
            with self.world.lock:
                return _json([dict(t) for t in self.world.templates.values()])
        if route == ("POST", "deployments") and len(parts) == 2:
            with self.world.lock:
                try:
                    dep = self.world.deployment(parts[1])
                except ApiError as exc:
                    return _json({"error": str(exc)}, 404)
                self.world.force_status(dep, str(body.get("status", "")).upper())
                return _json(deployment_obj(self.world, dep) | {"meta": None})
        if route == ("POST", "domains") and len(parts) == 3 and parts[2] in ("verify", "dns"):
            records = body.get("records") if parts[2] == "dns" else None
            if parts[2] == "dns" and not isinstance(records, dict):
                return _json({"error": 'send {"records": {"CNAME": "...", "TXT": "..."}}'}, 400)
            with self.world.lock:
                try:
                    cd = self.world.set_custom_domain_dns(parts[1], records)
                except ApiError as exc:
                    return _json({"error": str(exc)}, 404)
                return _json(
                    {
                        "domain": cd.domain,
                        "verified": cd.verified,
                        "certificate": self.world.certificate_status(cd),
                    }
                )
        return _json({"error": f"no control endpoint {method} {request.path}"}, 404)

    def reset(self) -> None:
        with self.world.lock:
            self.world.reset()
        self.faults.reset()
        self.rate.reset()
        self.log.reset()
        self.apps.reset()

    # -- GraphQL ------------------------------------------------------------------------------

    def graphql(self, request: Request) -> Response:
        started = time.monotonic()
        entry: dict[str, Any] = {
            "time": iso(time.time()),
            "operation": "unknown",
            "fault": None,
            "authorized": False,
            "fields": 0,
        }

        def done(response: Response) -> Response:
            if "seq" not in entry:
                self.log.start(entry)
            entry["ms"] = round((time.monotonic() - started) * 1000, 1)
            self.log.finish(entry, response.status_code)
            return response

        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return done(_json({"errors": [{"message": "Body must be JSON with a query"}]}, 400))
        try:
            doc = _parse(body["query"])
        except GraphQLError as exc:
            return done(_json({"errors": [exc.formatted]}, 400))
        op = _operation(doc, body.get("operationName"))
        if op is None:
            return done(_json({"errors": [{"message": "Unknown or ambiguous operation"}]}, 400))
        name = body.get("operationName") or (op.name.value if op.name else "anonymous")
        entry["operation"] = name
        roots = [s for s in op.selection_set.selections if isinstance(s, FieldNode)]
        entry["fields"] = len(roots)
        self.log.start(entry)

        token = _bearer(request)
        with self.world.lock:
            workspace = self.world.workspace_of(token)
        # Each token has its own budget (Railway limits per token), paced to its workspace's.
        allowed, rate_headers, retry_after = self.rate.check(
            f"token:{token}" if token else f"ip:{request.remote_addr}", workspace
        )
        if not allowed:
            return done(
                _json(
                    {"errors": [{"message": "Rate limit exceeded"}]},
                    429,
                    {**rate_headers, "Retry-After": str(retry_after)},
                )
            )

        fault = self.faults.pick(name)
        latency = self.faults.config.latency_ms
        if latency:
            self.stopping.wait(latency / 1000.0)
        if fault is not None:
            entry["fault"] = fault[0]
            early = self._fault_response(*fault, rate_headers)
            if early is not None:
                return done(early)

        authorized = workspace is not None
        entry["authorized"] = authorized
        entry["workspace"] = workspace
        if not authorized:
            private = [s for s in roots if s.name.value not in PUBLIC_FIELDS]
            # The emulator knows no project tokens: like Railway for an unknown one.
            message = (
                "Project Token not found"
                if request.headers.get("Project-Access-Token")
                else "Not Authorized"
            )
            if private:
                errors = [
                    {
                        "message": message,
                        "path": [(s.alias or s.name).value],
                        "extensions": {"code": "UNAUTHORIZED"},
                    }
                    for s in private
                ]
                return done(_json({"data": None, "errors": errors}, 200, rate_headers))

        problems = validate(schema(), doc)
        if problems:
            errors = [
                {**e.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                for e in problems
            ]
            return done(_json({"errors": errors}, 400, rate_headers))
        with self.world.lock:
            self.world.tick()
            # A token sees its own workspace only (the template lookup needs none).
            self.world.caller_workspace = workspace
            try:
                result = execute(
                    schema(),
                    doc,
                    variable_values=body.get("variables") or {},
                    operation_name=body.get("operationName"),
                    context_value={"world": self.world},
                )
            finally:
                self.world.caller_workspace = None
        payload: dict[str, Any] = {"data": result.data}
        status = 200
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
            if result.data is None and all(not e.path for e in result.errors):
                status = 400  # bad variables: the request never ran
                for e in payload["errors"]:
                    e["extensions"] = {"code": "BAD_USER_INPUT"}
        if fault is not None and fault[0] == "lose_response":
            return done(self._html(504, rate_headers={}))
        if fault is not None and fault[0] == "slow":
            # Railway did the work; the answer comes after `seconds` (past a client's
            # read timeout, it is lost to that client).
            self.stopping.wait(float(fault[1].get("seconds", self.faults.config.slow_seconds)))
        return done(_json(payload, status, rate_headers))

    def _fault_response(self, kind: str, params: dict, rate_headers: dict) -> Response | None:
        cfg = self.faults.config
        if kind == "error":
            status = int(params.get("status", cfg.error_status))
            message = params.get("message") or _REASONS.get(status, "Server Error")
            return _json({"data": None, "errors": [{"message": message}]}, status)
        if kind == "rate_limit":
            retry_after = int(params.get("retry_after", cfg.retry_after))
            headers = {**rate_headers, "Retry-After": str(retry_after)}
            return _json({"errors": [{"message": "Rate limit exceeded"}]}, 429, headers)
        if kind == "timeout":
            self.stopping.wait(float(params.get("seconds", cfg.timeout_seconds)))
            return self._html(504)
        if kind == "html":
            return self._html(int(params.get("status", cfg.html_status)))
        return None  # lose_response / slow: run first, then lose or delay the answer

    def _html(self, status: int, rate_headers: dict | None = None) -> Response:
        reason = _REASONS.get(status, "Error")
        return Response(
            HTML_ERROR.format(status=status, reason=reason),
            status=status,
            headers=rate_headers or {},
            mimetype="text/html",
        )


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class EmulatorServer:
    """Runs the emulator on a threaded werkzeug server in a background thread.

    server = EmulatorServer(port=0, token="t", deploy_seconds=1).start()
    server.graphql_url, server.control_url   # http://127.0.0.1:<port>/...
    server.stop()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = True,
        faults: FaultConfig | None = None,
        **settings: Any,
    ) -> None:
        self.world = World(Settings(**settings))
        self.app = EmulatorApp(self.world, Faults(faults))
        self._server = make_server(
            host, port, self.app, threaded=True, request_handler=_QuietHandler if quiet else None
        )
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql/v2"

    @property
    def control_url(self) -> str:
        return f"{self.url}/_emulator"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"railway-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self.app.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
