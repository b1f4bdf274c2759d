"""The apps behind the emulator's service domains: what an uptime check sees.

Railway routes a request for `<name>.up.railway.app` to the service behind it. Here any
request (outside /graphql and /_emulator) whose Host header names a service domain is
answered for that service: 200 while its latest deployment is SUCCESS, 502 "Application
failed to respond" otherwise (crashed, stopped, still building), 404 "Application not found"
for an unknown *.up.railway.app host. RailSaaS reaches it with UPTIME_CONNECT_TO set to the
emulator's host:port (plain HTTP, the domain as Host).

Control (JSON, under /_emulator/):
  POST   apps/<domain> {"status": 500} | {"timeout": seconds}  answer this domain so from now
                                   on (any domain, known or not); a timeout holds the request
                                   that long, then answers 504
  DELETE apps/<domain>             back to the default answer
  GET    apps                      {"overrides": {...}, "hits": {domain: count}}
`reset` forgets both.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

from werkzeug.wrappers import Request, Response

from devtools.emulators.railway.world import World

SUFFIX = ".up.railway.app"


class Apps:
    def __init__(self, world: World, stopping: threading.Event) -> None:
        self.world = world
        self.stopping = stopping
        self.lock = threading.Lock()
        self.overrides: dict[str, dict] = {}
        self.hits: Counter[str] = Counter()

    def reset(self) -> None:
        with self.lock:
            self.overrides.clear()
            self.hits.clear()

    def host_of(self, request: Request) -> str | None:
        """The domain a request is for, when it is one of the apps' (else None)."""
        host = (request.host or "").split(":")[0].lower().rstrip(".")
        with self.lock:
            if host in self.overrides:
                return host
        return host if host.endswith(SUFFIX) else None

    def answer(self, host: str) -> Response:
        with self.lock:
            self.hits[host] += 1
            override = dict(self.overrides.get(host) or {})
        if "timeout" in override:
            self.stopping.wait(float(override["timeout"]))
            return Response("upstream timed out", 504, mimetype="text/plain")
        if "status" in override:
            return Response(
                f"status {override['status']}", int(override["status"]), mimetype="text/plain"
            )
        with self.world.lock:
            found = [d for d in self.world.service_domains.values() if d.domain == host]
            if not found:
                return Response("Application not found", 404, mimetype="text/plain")
            d = found[0]
            dep = self.world.latest_deployment(d.service_id, d.environment_id)
            status = self.world.status(dep)[0] if dep is not None else None
        if status == "SUCCESS":
            return Response(
                "<!doctype html><title>app</title><p>Hello from the app.</p>",
                200,
                mimetype="text/html",
            )
        return Response("Application failed to respond", 502, mimetype="text/plain")

    def control(self, method: str, parts: list[str], body: dict) -> Response | None:
        """The apps/... control routes; None for any other path."""
        if not parts or parts[0] != "apps":
            return None
        if method == "GET" and len(parts) == 1:
            with self.lock:
                return _json({"overrides": self.overrides, "hits": dict(self.hits)})
        if len(parts) == 2 and method in ("POST", "DELETE"):
            domain = parts[1].lower()
            with self.lock:
                if method == "DELETE":
                    self.overrides.pop(domain, None)
                elif "timeout" in body:
                    self.overrides[domain] = {"timeout": float(body["timeout"])}
                else:
                    self.overrides[domain] = {"status": int(body.get("status", 200))}
                return _json({"domain": domain, "override": self.overrides.get(domain)})
        return None


def _json(data: dict) -> Response:
    return Response(json.dumps(data), 200, mimetype="application/json")
