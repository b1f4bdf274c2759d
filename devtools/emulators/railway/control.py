"""A small client for the emulator's control API, for tests, benchmarks and scripts.

ctl = EmulatorControl("http://127.0.0.1:4010")
ctl.reset()
ctl.script("error", times=2, operation="Project")   # the next 2 Project queries fail
ctl.set_faults(latency_ms=50, error_rate=0.1)
ctl.count("ServiceStatuses")                        # requests seen for that operation
"""

from __future__ import annotations

from typing import Any

import httpx

from railsaas.outbound import tls_context


class EmulatorControl:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/_emulator", timeout=timeout, verify=tls_context()
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict | None = None, **params) -> Any:
        resp = self._http.request(method, path, json=body, params=params or None)
        resp.raise_for_status()
        return resp.json()

    def health(self) -> bool:
        return bool(self._call("GET", "/health").get("ok"))

    def reset(self) -> None:
        """Back to the start: no projects, no faults, empty request log, fresh budget,
        settings and clock as at start."""
        self._call("POST", "/reset")

    def set_faults(self, **values: Any) -> dict:
        """Shares and parameters (see faults.py), plus deploy_outcomes / deploy_fail_rate /
        deploy_crash_rate for how deployments end."""
        return self._call("POST", "/faults", values)

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    def faults(self) -> dict:
        return self._call("GET", "/faults")

    def script(
        self, fault: str, times: int = 1, operation: str | None = None, **params: Any
    ) -> dict:
        """The next `times` requests (of `operation`, or any) get `fault`: error, rate_limit,
        timeout, html or lose_response. Params: status, message, retry_after, seconds."""
        body = {"fault": fault, "times": times, "operation": operation, **params}
        return self._call("POST", "/faults/next", body)

    def requests(self, operation: str | None = None, limit: int = 100) -> dict:
        """{total, by_operation, by_status, by_fault, entries[-limit:]}."""
        params: dict[str, Any] = {"limit": limit}
        if operation:
            params["operation"] = operation
        return self._call("GET", "/requests", **params)

    def count(self, operation: str | None = None) -> int:
        log = self.requests(limit=0)
        return log["total"] if operation is None else log["by_operation"].get(operation, 0)

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def configure(self, **settings: Any) -> None:
        """deploy_seconds, deploy_jitter, workflow_seconds, log_interval, crash_after,
        removal_seconds, rate_per_hour, rate_per_second, usage_scale, token, workspace_id."""
        self._call("POST", "/config", settings)

    def config(self) -> dict:
        return self._call("GET", "/config")

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward: deployments, logs, metrics, usage follow."""
        self._call("POST", "/clock", {"advance": seconds})

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the emulator's clock: only advance() moves it while frozen."""
        self._call("POST", "/clock", {"freeze": frozen})

    def state(self) -> dict:
        return self._call("GET", "/state")

    def seed_projects(self, count: int, prefix: str = "other-") -> None:
        """Fill the workspace with `count` empty projects named prefix0, prefix1, ..."""
        self._call("POST", "/projects", {"count": count, "prefix": prefix})

    def templates(self) -> list[dict]:
        return self._call("GET", "/templates")

    def force_status(self, deployment_id: str, status: str) -> dict:
        """Make a deployment CRASHED (or SLEEPING, FAILED, ...) from now on."""
        return self._call("POST", f"/deployments/{deployment_id}", {"status": status})

    def app_answers(
        self, domain: str, status: int | None = None, timeout: float | None = None
    ) -> dict:
        """Make a service domain answer `status`, or hold requests `timeout` seconds;
        neither: back to its default (200 while its deployment runs)."""
        if status is None and timeout is None:
            return self._call("DELETE", f"/apps/{domain}")
        body = {"timeout": timeout} if timeout is not None else {"status": status}
        return self._call("POST", f"/apps/{domain}", body)

    def app_hits(self) -> dict[str, int]:
        """How many requests each app domain got."""
        return self._call("GET", "/apps")["hits"]

    def verify_domain(self, domain: str) -> dict:
        """Pretend the customer set every DNS record as Railway asked: the custom domain
        turns verified; its certificate is issued `certificate_seconds` later."""
        return self._call("POST", f"/domains/{domain}/verify")

    def set_domain_dns(self, domain: str, records: dict[str, str]) -> dict:
        """What the customer's DNS answers, by record type (`{"CNAME": "x.up.railway.app"}`):
        a record is propagated only with the value Railway asked for."""
        return self._call("POST", f"/domains/{domain}/dns", {"records": records})

    def add_workspace(self, workspace_id: str, token: str, **rates: int) -> None:
        """Another Railway workspace reached with `token` (its own budget; `rate_per_hour`,
        `rate_per_second` override the settings' for it). A token sees only its workspace."""
        self._call("POST", "/workspaces", {"id": workspace_id, "token": token, **rates})

    def revoke_workspace(self, workspace_id: str) -> int:
        """Its tokens stop working: Railway answers "Not Authorized"."""
        return self._call("POST", f"/workspaces/{workspace_id}/revoke")["revoked"]

    def workspaces(self) -> dict[str, int]:
        """Each workspace's id and how many live projects it holds."""
        return self._call("GET", "/workspaces")
