"""The Railway GraphQL client the rest of RailSaaS uses.

    from railsaas.railway import railway_client
    rw = railway_client()                      # from the current app's config, shared Redis
    tpl = rw.template("ghost")                 # no auth, like the CLI
    project = rw.create_project("rs-<instance id>")
    env = project.environment("production")
    dep = rw.deploy_template(tpl.id, fill_variables(tpl.serialized_config, values),
                             project_id=project.id, environment_id=env.id)
    rw.workflow_status(dep.workflow_id)        # Running -> Complete | Error
    rw.service_statuses([(env.id, svc.id), ...])   # one request per `batch_size` services

Every document sent lives in `operations/*.graphql` and goes out with `operationName`.

Reliability, in the order a request meets it:
1. the shared circuit breaker (Redis): fail fast with Unavailable while Railway is down,
   one probe after `breaker_reset_seconds`;
2. the shared rate budget (Redis): paced to the plan's per-second and per-hour limits and to
   what Railway's X-RateLimit-* headers last said; waits up to `max_rate_wait` seconds, then
   raises RateLimited with `retry_after` (a Celery task retries with that countdown);
3. connect/read timeouts, then retries with capped exponential backoff and full jitter on
   5xx, timeouts, connection errors and non-JSON bodies (proxy HTML pages); a 429 blocks
   every process for at least its Retry-After. Validation errors and "Not Authorized" are
   never retried.

Mutations that create something (projectCreate, templateDeployV2, domains, redeploys) are
not blindly re-sent once the request may have reached Railway: Railway has no idempotency
key. projectCreate and domains look first (the project by name, the service's domains) and
only re-send when nothing was created. templateDeployV2 and redeploys are never re-sent
here: they raise Unavailable with `maybe_applied=True` (a template's services appear only
as its workflow runs, so "no services yet" proves nothing; the caller watches instead).
Mutations get a read timeout of at least 90 s (the CLI's; templateDeployV2 can take over
60 s to answer).

`interactive()` is the client for web requests: it never waits for the rate budget (a
spent budget raises RateLimited at once: the page says "try again") and leaves
`WEB_BUDGET_RESERVE` of the budget to deploys and polls.

The token lives in a wrapper whose repr is redacted, goes out through an httpx Auth hook, is
scrubbed from any server text that reaches an error or a log line, and the client refuses to
be pickled (so it can never become a Celery argument: tasks take ids and build their own).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from flask import current_app

from railsaas.extensions import redis_client
from railsaas.observability import metrics
from railsaas.outbound import tls_context
from railsaas.railway import documents
from railsaas.railway.breaker import CircuitBreaker, LocalCircuitBreaker
from railsaas.railway.errors import (
    InvalidRequest,
    NotFound,
    RailwayError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from railsaas.railway.ratelimit import (
    LocalRateBudget,
    RateBudget,
    limits_for,
    parse_retry_after,
)
from railsaas.railway.types import (
    CustomDomain,
    Deployment,
    Domains,
    EstimatedUsageValue,
    LogLine,
    MetricSeries,
    Project,
    ProjectSummary,
    Service,
    ServiceDomain,
    ServiceStatus,
    Template,
    TemplateDeployment,
    UsageValue,
    WorkflowResult,
    format_time,
    parse_time,
)

log = logging.getLogger("railsaas.railway")

DEFAULT_METRICS = (
    "CPU_USAGE",
    "MEMORY_USAGE_GB",
    "NETWORK_RX_GB",
    "NETWORK_TX_GB",
    "DISK_USAGE_GB",
)
DEFAULT_USAGE = (
    "CPU_USAGE",
    "MEMORY_USAGE_GB",
    "NETWORK_TX_GB",
    "DISK_USAGE_GB",
    "BACKUP_USAGE_GB",
)
# Mutations that are safe to send twice: deleting, stopping, restarting or upserting the
# same thing again changes nothing more. The others create something new each time.
# Redeploys (DeploymentRedeploy, ServiceInstanceRedeploy, ServiceInstanceDeployV2) are not:
# each one sent makes one more deployment.
IDEMPOTENT_MUTATIONS = frozenset(
    {
        "ProjectDelete",
        "DeploymentRestart",
        "DeploymentStop",
        "DeploymentRemove",
        "VariableCollectionUpsert",
    }
)
# The CLI's HTTP timeout (src/consts.rs DEFAULT_HTTP_TIMEOUT_SECS): a mutation's answer may
# take this long, and one given up on early is an answer lost.
MUTATION_READ_TIMEOUT = 90.0
# The CLI asks for its projects in pages of 5,000 (src/commands/usage.rs).
PROJECTS_PAGE_SIZE = 5000
# Share of the rate budget web reads leave for deploys and polls.
WEB_BUDGET_RESERVE = 0.3
# The request that tells a dead token from a resource it cannot see, and how long a token
# it found working is trusted before asking again.
TOKEN_CHECK = "TokenCheck"  # noqa: S105 - an operation name
TOKEN_CHECK_SECONDS = 60.0
# Resolver messages that mean "Railway had a problem", not "your request is wrong".
_TRANSIENT_MESSAGES = (
    "internal server error",
    "problem processing request",
    "service unavailable",
    "timed out",
    "try again",
)
_VALIDATION_CODES = frozenset(
    {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "BAD_USER_INPUT", "BAD_REQUEST"}
)


class _Secret:
    """Holds the token; prints as <redacted> wherever it ends up (repr, logs, Sentry)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value or ""

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("the Railway token cannot be serialized")


class _BearerAuth(httpx.Auth):
    def __init__(self, token: _Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = "Bearer " + self._token.reveal()
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


@dataclass
class _Outcome:
    kind: str  # "ok" | "failure" | "rate_limited"
    body: dict | None = None
    status: int | None = None
    sent: bool = True  # False when the request surely never reached Railway
    detail: str = ""
    retry_after: float = 0.0


def _metric_error(outcome: _Outcome) -> str | None:
    """The error label of one attempt for railsaas_railway_request_errors_total."""
    if outcome.kind == "ok":
        return None
    if outcome.kind == "rate_limited":
        return "rate_limited"
    return f"http_{outcome.status}" if outcome.status else "unreachable"


def _strip_none(variables: Mapping[str, Any]) -> dict[str, Any]:
    # A null variable tells Railway to unset a field; absent means "leave it" (CLI lesson).
    return {k: v for k, v in variables.items() if v is not None}


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _cfg(config: Any, name: str, default: Any = None) -> Any:
    if isinstance(config, Mapping):
        return config.get(name, default)
    return getattr(config, name, default)


class RailwayClient:
    """Thread-safe; one per process is plenty (see `railway_client()`)."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        workspace_id: str = "",
        redis=None,
        plan: str = "pro",
        rate_per_hour: int | str | None = None,
        rate_per_second: int | str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        max_rate_wait: float = 30.0,
        breaker_threshold: int = 5,
        breaker_window: float = 60.0,
        breaker_reset_seconds: float = 30.0,
        batch_size: int = 100,
        mutation_read_timeout: float = MUTATION_READ_TIMEOUT,
        key_prefix: str = "railway",
        dead_token_opens_breaker: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.api_url = api_url
        self.workspace_id = workspace_id or None
        self._token = _Secret(token)
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.max_rate_wait = float(max_rate_wait)
        self.batch_size = max(1, int(batch_size))
        # After a "Not Authorized", tell a dead token from an unseen resource (TokenCheck)
        # and open the breaker for a dead one: the pool's clients (railway_client, pool).
        self.dead_token_opens_breaker = bool(dead_token_opens_breaker)
        self.budget_reserve = 0.0
        self.mutation_timeout = httpx.Timeout(
            connect=connect_timeout,
            read=max(float(mutation_read_timeout), read_timeout),
            write=connect_timeout * 2,
            pool=connect_timeout * 2,
        )
        self.sleep = sleep
        self._rng = rng or random.Random()
        limits = limits_for(plan, rate_per_hour, rate_per_second)
        probe_timeout = (
            connect_timeout
            + max(read_timeout, float(mutation_read_timeout))
            + float(max_rate_wait)
            + 5
        )
        if redis is not None:
            self.budget = RateBudget(redis, limits, prefix=key_prefix, sleep=sleep)
            self.breaker = CircuitBreaker(
                redis,
                prefix=key_prefix,
                failure_threshold=breaker_threshold,
                failure_window=breaker_window,
                reset_timeout=breaker_reset_seconds,
                probe_timeout=probe_timeout,
            )
        else:
            self.budget = LocalRateBudget(limits, sleep=sleep)
            self.breaker = LocalCircuitBreaker(
                failure_threshold=breaker_threshold,
                failure_window=breaker_window,
                reset_timeout=breaker_reset_seconds,
                probe_timeout=probe_timeout,
            )
        self._auth = _BearerAuth(self._token)
        self._token_ok_at = float("-inf")
        self._http = httpx.Client(
            timeout=httpx.Timeout(
                connect=connect_timeout,
                read=read_timeout,
                write=connect_timeout * 2,
                pool=connect_timeout * 2,
            ),
            headers={"User-Agent": "railsaas", "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
            verify=tls_context(),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Any, redis=None, **overrides: Any) -> RailwayClient:
        """From a Flask config mapping or a `Config`. `RAILWAY_CLIENT_OPTIONS` (a dict in the
        app config, e.g. set by tests) supplies constructor arguments; `overrides` win."""
        options: dict[str, Any] = {
            "api_url": _cfg(config, "RAILWAY_API_URL"),
            "token": _cfg(config, "RAILWAY_API_TOKEN", "") or "",
            "workspace_id": _cfg(config, "RAILWAY_WORKSPACE_ID", "") or "",
            "plan": _cfg(config, "RAILWAY_PLAN", "pro") or "pro",
            "rate_per_hour": _cfg(config, "RAILWAY_RATE_PER_HOUR"),
            "rate_per_second": _cfg(config, "RAILWAY_RATE_PER_SECOND"),
            "batch_size": _cfg(config, "RAILWAY_BATCH_SIZE", None) or 100,
            "redis": redis,
        }
        options.update(_cfg(config, "RAILWAY_CLIENT_OPTIONS", None) or {})
        options.update(overrides)
        return cls(**options)

    def close(self) -> None:
        self._http.close()

    def interactive(self) -> RailwayClient:
        """This client as a web request uses it: no waiting for the budget, part of the
        budget left to background work. Shares the connection pool, budget and breaker."""
        view = object.__new__(RailwayClient)
        view.__dict__.update(self.__dict__)
        view.max_rate_wait = 0.0
        view.budget_reserve = WEB_BUDGET_RESERVE
        return view

    def waiting_at_most(self, seconds: float) -> RailwayClient:
        """This client, waiting at most `seconds` for the rate budget (the poll of one
        Railway workspace must not hold up the others'). Shares pool, budget and breaker."""
        view = object.__new__(RailwayClient)
        view.__dict__.update(self.__dict__)
        view.max_rate_wait = min(self.max_rate_wait, float(seconds))
        return view

    def __enter__(self) -> RailwayClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"RailwayClient(api_url={self.api_url!r}, workspace_id={self.workspace_id!r}, "
            f"token=<redacted>)"
        )

    def __reduce__(self):
        raise TypeError(
            "RailwayClient cannot be serialized: pass ids to tasks and build the "
            "client there with railway_client()"
        )

    # -- transport ----------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        token = self._token.reveal()
        if token and token in text:
            text = text.replace(token, "<redacted>")
        return text

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n)].
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def _post_once(self, payload: dict, auth: bool, mutation: bool = False) -> _Outcome:
        started = time.monotonic()
        failure: _Outcome | None = None
        extra = {"timeout": self.mutation_timeout} if mutation else {}
        try:
            resp = self._http.post(
                self.api_url, json=payload, auth=self._auth if auth else None, **extra
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            failure = _Outcome("failure", sent=False, detail=type(exc).__name__)
        except httpx.TimeoutException as exc:
            failure = _Outcome("failure", detail=f"{type(exc).__name__} (no answer in time)")
        except httpx.TransportError as exc:
            failure = _Outcome("failure", detail=type(exc).__name__)
        if failure is not None:
            # Raised outside the except block: no httpx exception (whose frames hold the
            # request headers) is chained to what callers and Sentry see.
            return failure
        elapsed = (time.monotonic() - started) * 1000
        log.debug(
            "railway %s -> HTTP %s in %.0f ms",
            payload.get("operationName"),
            resp.status_code,
            elapsed,
        )
        if resp.status_code == 429:
            # Retry-After is the word on a 429 (it may be the per-second limit speaking);
            # the X-RateLimit-* headers feed the budget from ordinary answers only.
            wait = parse_retry_after(resp.headers.get("retry-after"), time.time())
            return _Outcome(
                "rate_limited",
                status=429,
                retry_after=wait,
                detail=f"HTTP 429, Retry-After {wait:g} s",
            )
        if auth:  # an anonymous call (template lookup) is counted against another budget
            self.budget.observe(resp.headers)
            metrics.railway_rate_headers(resp.headers)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not ("data" in body or "errors" in body):
            kind = resp.headers.get("content-type", "?").split(";")[0]
            return _Outcome(
                "failure",
                status=resp.status_code,
                detail=f"HTTP {resp.status_code} with a non-JSON body ({kind})",
            )
        if resp.status_code >= 500:
            return _Outcome(
                "failure", status=resp.status_code, body=body, detail=f"HTTP {resp.status_code}"
            )
        if body.get("data") is None and not body.get("errors"):
            return _Outcome("failure", status=resp.status_code, detail="missing response data")
        errors = body.get("errors") or []
        if errors and body.get("data") is None and _is_transient(errors):
            return _Outcome(
                "failure",
                status=resp.status_code,
                body=body,
                detail=self._redact(str(errors[0].get("message"))[:200]),
            )
        return _Outcome("ok", status=resp.status_code, body=body)

    def _request(
        self, op: documents.Operation, variables: Mapping[str, Any], *, auth: bool = True
    ) -> tuple[dict, int | None]:
        """Send `op` with retries; return the JSON body (data and maybe errors) and status."""
        if auth and not self._token:
            raise Unauthorized("RAILWAY_API_TOKEN is not set", operation=op.name)
        payload = {"query": op.text, "variables": _strip_none(variables), "operationName": op.name}
        safe = op.kind == "query" or op.name in IDEMPOTENT_MUTATIONS
        attempt = 0
        while True:
            attempt += 1
            probe = self.breaker.before(op.name)
            try:
                self.budget.acquire(self.max_rate_wait, self.budget_reserve)
            except RateLimited as exc:
                if probe:
                    self.breaker.release_probe()  # nothing sent, nothing learned
                raise RateLimited(
                    exc.message, operation=op.name, retry_after=exc.retry_after
                ) from None
            sent_at = time.monotonic()
            outcome = self._post_once(payload, auth, op.kind == "mutation")
            metrics.railway_request(
                op.name, time.monotonic() - sent_at, error=_metric_error(outcome)
            )
            if outcome.kind == "ok":
                self.breaker.success(probe)
                return outcome.body, outcome.status
            if outcome.kind == "rate_limited":
                self.breaker.success(probe)  # an answer: Railway is up
                self.budget.block(outcome.retry_after)
                if attempt >= self.max_attempts or outcome.retry_after > self.max_rate_wait:
                    raise RateLimited(
                        f"Railway rate limit ({outcome.detail})",
                        operation=op.name,
                        status=429,
                        retry_after=outcome.retry_after,
                    )
                log.warning("railway %s rate limited (%s); waiting", op.name, outcome.detail)
                continue  # the budget now holds everyone back for Retry-After
            self.breaker.failure(probe)
            maybe_applied = outcome.sent and not safe
            if maybe_applied or attempt >= self.max_attempts:
                raise Unavailable(
                    f"Railway unavailable after {attempt} attempt(s): {outcome.detail}",
                    operation=op.name,
                    status=outcome.status,
                    maybe_applied=maybe_applied,
                )
            delay = self._backoff(attempt)
            log.warning(
                "railway %s attempt %d failed (%s); retrying in %.2f s",
                op.name,
                attempt,
                outcome.detail,
                delay,
            )
            self.sleep(delay)

    def _raise_for_errors(self, op_name: str, errors: list[dict], status: int | None) -> None:
        first = errors[0] if errors else {}
        message = self._redact(str(first.get("message") or "unknown error"))[:500]
        exc = _classify(message, first, op_name, status)
        metrics.railway_error(op_name, metrics.error_kind(exc))
        if (
            isinstance(exc, Unauthorized)
            and self.dead_token_opens_breaker
            and op_name != TOKEN_CHECK
            and not self._token_works()
        ):
            # A dead token (revoked, or its workspace gone) is this workspace's outage: open
            # its breaker, so its callers fail fast and other workspaces are not held up.
            self.breaker.failure(probe=True)
            raise Unauthorized(
                f"{message} (Railway refuses this workspace's token: circuit breaker opened)",
                operation=op_name,
                status=status,
            )
        raise exc

    def check_token(self) -> bool:
        """Whether the token still reaches its workspace (one TokenCheck request)."""
        self._token_ok_at = float("-inf")
        return self._token_works()

    def _token_works(self) -> bool:
        """After a "Not Authorized": is it the token (dead) or one resource it cannot see?
        One small request, at most every TOKEN_CHECK_SECONDS while the token works."""
        if time.monotonic() - self._token_ok_at < TOKEN_CHECK_SECONDS:
            return True
        try:
            body, _ = self._request(
                documents.operation(TOKEN_CHECK), {"workspaceId": self.workspace_id}
            )
        except RailwayError:
            return True  # no answer: not evidence against the token
        errors = body.get("errors") or []
        message = str((errors[0] if errors else {}).get("message") or "").lower()
        if errors and ("not authorized" in message or status_refused(errors)):
            return False
        self._token_ok_at = time.monotonic()
        return True

    def execute(
        self, name: str, variables: Mapping[str, Any] | None = None, *, auth: bool = True
    ) -> dict:
        """Run the operation `name` from operations/; return its `data`, or raise."""
        op = documents.operation(name)
        body, status = self._request(op, variables or {}, auth=auth)
        if body.get("errors"):
            self._raise_for_errors(name, body["errors"], status)
        return body["data"]

    # -- templates and projects -----------------------------------------------------------

    def template(self, code: str) -> Template:
        """A marketplace template with its serializedConfig (sent without auth)."""
        return Template.from_api(
            self.execute("TemplateByCode", {"code": code}, auth=False)["template"]
        )

    def project(self, project_id: str) -> Project:
        return Project.from_api(self.execute("Project", {"id": project_id})["project"])

    def projects(
        self, workspace_id: str | None = None, page_size: int = PROJECTS_PAGE_SIZE
    ) -> list[ProjectSummary]:
        """Every project of the workspace (the configured one by default)."""
        out: list[ProjectSummary] = []
        after = None
        while True:
            conn = self.execute(
                "Projects",
                {
                    "workspaceId": workspace_id or self.workspace_id,
                    "first": page_size,
                    "after": after,
                },
            )["projects"]
            out.extend(
                ProjectSummary(
                    id=e["node"]["id"],
                    name=e["node"]["name"],
                    created_at=parse_time(e["node"].get("createdAt")),
                )
                for e in conn["edges"]
            )
            if not conn["pageInfo"]["hasNextPage"]:
                return out
            after = conn["pageInfo"]["endCursor"]

    def find_project(self, name: str) -> ProjectSummary | None:
        """The workspace's project called `name` (the oldest, should there be two)."""
        matches = [p for p in self.projects() if p.name == name]
        matches.sort(key=lambda p: p.created_at or datetime.min.replace(tzinfo=UTC))
        return matches[0] if matches else None

    def create_project(
        self, name: str, *, description: str | None = None, environment_name: str = "production"
    ) -> Project:
        """Create a project (with its default environment). Safe to call again after a lost
        answer: if Railway may have created it, the project called `name` is returned."""
        variables = {
            "input": {
                "name": name,
                "description": description,
                "workspaceId": self.workspace_id,
                "defaultEnvironmentName": environment_name,
            }
        }
        variables["input"] = _strip_none(variables["input"])
        try:
            data = self.execute("ProjectCreate", variables)
        except Unavailable as exc:
            if not exc.maybe_applied:
                raise
            found = self.find_project(name)
            if found is not None:
                log.info("railway ProjectCreate answer lost; found project %s by name", found.id)
                return self.project(found.id)
            data = self.execute("ProjectCreate", variables)
        return Project.from_api(data["projectCreate"])

    def delete_project(self, project_id: str) -> bool:
        """Delete now (irreversible). A project already gone counts as deleted."""
        try:
            return bool(self.execute("ProjectDelete", {"id": project_id})["projectDelete"])
        except NotFound:
            return True
        except Unauthorized:
            # Railway may answer "Not Authorized" for a project that is gone: gone if the
            # workspace no longer lists it (a bad token fails that listing too).
            if any(p.id == project_id for p in self.projects()):
                raise
            return True

    def deploy_template(
        self,
        template_id: str,
        serialized_config: Mapping[str, Any],
        *,
        project_id: str | None = None,
        environment_id: str | None = None,
        workspace_id: str | None = None,
    ) -> TemplateDeployment:
        """templateDeployV2. Never re-sent after the request may have reached Railway: the
        answer returns at once but the services appear only as the workflow runs (seconds to
        minutes), so finding none right after a lost answer proves nothing. A lost answer
        raises Unavailable(maybe_applied=True); the caller watches the project instead."""
        variables = {
            "input": _strip_none(
                {
                    "templateId": template_id,
                    "serializedConfig": dict(serialized_config),
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "workspaceId": workspace_id or self.workspace_id,
                }
            )
        }
        data = self.execute("TemplateDeployV2", variables)
        payload = data["templateDeployV2"]
        return TemplateDeployment(
            project_id=payload["projectId"], workflow_id=payload.get("workflowId")
        )

    def workflow_status(self, workflow_id: str) -> WorkflowResult:
        wf = self.execute("WorkflowStatus", {"workflowId": workflow_id})["workflowStatus"]
        return WorkflowResult(status=wf["status"], error=wf.get("error"))

    # -- deployments ------------------------------------------------------------------------

    def deployment(self, deployment_id: str) -> Deployment:
        return Deployment.from_api(self.execute("Deployment", {"id": deployment_id})["deployment"])

    def latest_deployment(self, environment_id: str, service_id: str) -> Deployment | None:
        si = self.execute(
            "LatestDeployment", {"environmentId": environment_id, "serviceId": service_id}
        )["serviceInstance"]
        latest = si.get("latestDeployment")
        return Deployment.from_api(latest) if latest else None

    def deployments(
        self, environment_id: str, service_id: str, *, page_size: int = 50
    ) -> Iterator[Deployment]:
        """A service's deployments in an environment, newest first, one page of
        `page_size` per request, fetched only as far as the caller reads."""
        after = None
        while True:
            conn = self.execute(
                "Deployments",
                {
                    "input": {"environmentId": environment_id, "serviceId": service_id},
                    "first": page_size,
                    "after": after,
                },
            )["deployments"]
            for edge in conn["edges"]:
                yield Deployment.from_api(edge["node"])
            if not conn["pageInfo"]["hasNextPage"]:
                return
            after = conn["pageInfo"]["endCursor"]

    def create_service(
        self,
        project_id: str,
        *,
        name: str | None = None,
        image: str | None = None,
        environment_id: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Service:
        """serviceCreate. Never re-sent after the request may have reached Railway (a
        second one would make a second service, or be refused for its name): a lost answer
        raises Unavailable(maybe_applied=True) to the caller."""
        source = {"image": image} if image else None
        variables_in = {
            "input": _strip_none(
                {
                    "projectId": project_id,
                    "name": name,
                    "environmentId": environment_id,
                    "source": source,
                    "variables": dict(variables) if variables else None,
                }
            )
        }
        return Service.from_api(self.execute("ServiceCreate", variables_in)["serviceCreate"])

    def deployment_statuses(
        self, deployment_ids: Iterable[str], *, batch_size: int | None = None
    ) -> dict[str, Deployment | None]:
        """Many deployments, `batch_size` per request (aliases). An id Railway does not know
        (or will not show) maps to None."""
        ids = list(dict.fromkeys(deployment_ids))
        out: dict[str, Deployment | None] = {}
        for chunk in _chunks(ids, batch_size or self.batch_size):
            out.update(
                self._batch(
                    "DeploymentStatuses",
                    "d",
                    [{"id": i} for i in chunk],
                    list(chunk),
                    Deployment.from_api,
                )
            )
        return out

    def service_statuses(
        self, pairs: Iterable[tuple[str, str]], *, batch_size: int | None = None
    ) -> dict[tuple[str, str], ServiceStatus | None]:
        """The latest deployment of many (environment_id, service_id) pairs, `batch_size`
        per request. This is what the poller uses: Pro's 10,000 requests an hour keep
        10,000 instances fresh only in batches. A pair Railway does not know maps to None."""
        keys = list(dict.fromkeys(pairs))

        def parse(d: dict) -> ServiceStatus:
            latest = d.get("latestDeployment")
            return ServiceStatus(
                environment_id=d["environmentId"],
                service_id=d["serviceId"],
                latest=Deployment.from_api(latest) if latest else None,
            )

        out: dict[tuple[str, str], ServiceStatus | None] = {}
        for chunk in _chunks(keys, batch_size or self.batch_size):
            items = [{"environmentId": e, "serviceId": s} for e, s in chunk]
            out.update(self._batch("ServiceStatuses", "s", items, list(chunk), parse))
        return out

    def _batch(
        self, name: str, prefix: str, items: list[dict], keys: list, parse: Callable[[dict], Any]
    ) -> dict:
        result: dict = {}
        pending = list(range(len(items)))
        while pending:
            op = documents.batch(name, len(pending), prefix)
            body, status = self._request(op, documents.batch_variables([items[i] for i in pending]))
            data = body.get("data") or {}
            failed: dict[int, dict] = {}
            for err in body.get("errors") or []:
                path = err.get("path") or []
                alias = str(path[0]) if path else ""
                if alias.startswith(prefix) and alias[len(prefix) :].isdigit():
                    failed[int(alias[len(prefix) :])] = err
                else:  # not about one item: the whole request failed
                    self._raise_for_errors(name, [err], status)
            if (
                failed
                and len(failed) == len(pending)
                and all(
                    "not authorized" in str(e.get("message", "")).lower() for e in failed.values()
                )
            ):
                self._raise_for_errors(name, [next(iter(failed.values()))], status)
            for j, i in enumerate(pending):
                if j in failed:
                    result[keys[i]] = None
                elif data.get(f"{prefix}{j}") is not None:
                    result[keys[i]] = parse(data[f"{prefix}{j}"])
            if failed and not data:
                # A non-null root field's error nulls all of `data`: ask again for the rest.
                pending = [i for j, i in enumerate(pending) if j not in failed]
                continue
            for i in pending:
                result.setdefault(keys[i], None)
            break
        return result

    def redeploy_deployment(
        self, deployment_id: str, *, use_previous_image: bool = False
    ) -> Deployment:
        """A new deployment like this one (not retried once sent: it would deploy twice)."""
        data = self.execute(
            "DeploymentRedeploy",
            {"id": deployment_id, "usePreviousImageTag": use_previous_image or None},
        )
        return Deployment.from_api(data["deploymentRedeploy"])

    def restart_deployment(self, deployment_id: str) -> bool:
        return bool(self.execute("DeploymentRestart", {"id": deployment_id})["deploymentRestart"])

    def stop_deployment(self, deployment_id: str) -> bool:
        return bool(self.execute("DeploymentStop", {"id": deployment_id})["deploymentStop"])

    def remove_deployment(self, deployment_id: str) -> bool:
        return bool(self.execute("DeploymentRemove", {"id": deployment_id})["deploymentRemove"])

    def deploy_service(self, environment_id: str, service_id: str) -> str:
        """serviceInstanceDeployV2: a new deployment from the service's source (for when the
        latest deployment cannot be redeployed, e.g. REMOVED). Returns its id."""
        return str(
            self.execute(
                "ServiceInstanceDeployV2",
                {"environmentId": environment_id, "serviceId": service_id},
            )["serviceInstanceDeployV2"]
        )

    def redeploy_service(self, environment_id: str, service_id: str) -> bool:
        """serviceInstanceRedeploy: redeploy the service's latest deployment."""
        return bool(
            self.execute(
                "ServiceInstanceRedeploy",
                {"environmentId": environment_id, "serviceId": service_id},
            )["serviceInstanceRedeploy"]
        )

    # -- logs -------------------------------------------------------------------------------

    def deployment_logs(
        self,
        deployment_id: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 500,
        filter: str | None = None,
    ) -> list[LogLine]:
        """Runtime logs, oldest first. With `since`, only lines strictly after it (feed the
        last line's timestamp back in to get what is new); without, the last `limit`."""
        return self._logs(
            "DeploymentLogs", "deploymentLogs", deployment_id, since, until, limit, filter
        )

    def build_logs(
        self,
        deployment_id: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 500,
        filter: str | None = None,
    ) -> list[LogLine]:
        return self._logs("BuildLogs", "buildLogs", deployment_id, since, until, limit, filter)

    def _logs(self, name, field, deployment_id, since, until, limit, filt) -> list[LogLine]:
        since_dt = parse_time(since) if isinstance(since, str) else since
        if since_dt is not None and since_dt.tzinfo is None:
            since_dt = since_dt.replace(tzinfo=UTC)
        data = self.execute(
            name,
            {
                # The start is inclusive: one more line covers the one we already have.
                "deploymentId": deployment_id,
                "limit": limit + 1 if since_dt else limit,
                "startDate": format_time(since_dt) if since_dt else None,
                "endDate": format_time(until) if until else None,
                "filter": filt,
            },
        )
        lines = sorted((LogLine.from_api(d) for d in data[field]), key=lambda ln: ln.timestamp)
        if since_dt is not None:
            # The window's start is inclusive on Railway's side (the CLI drops what it saw).
            lines = [ln for ln in lines if ln.timestamp > since_dt]
            return lines[:limit]
        return lines[-limit:] if limit else lines  # Railway may send limit + 1 lines

    # -- variables and domains ---------------------------------------------------------------

    def variables(
        self,
        project_id: str,
        environment_id: str,
        service_id: str | None = None,
        *,
        unrendered: bool = False,
    ) -> dict[str, str]:
        return dict(
            self.execute(
                "Variables",
                {
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "unrendered": unrendered or None,
                },
            )["variables"]
            or {}
        )

    def upsert_variables(
        self,
        project_id: str,
        environment_id: str,
        variables: Mapping[str, str],
        *,
        service_id: str | None = None,
        replace: bool = False,
        skip_deploys: bool = False,
    ) -> bool:
        """variableCollectionUpsert. Railway redeploys affected services unless
        `skip_deploys`."""
        return bool(
            self.execute(
                "VariableCollectionUpsert",
                {
                    "input": _strip_none(
                        {
                            "projectId": project_id,
                            "environmentId": environment_id,
                            "serviceId": service_id,
                            "variables": {k: str(v) for k, v in variables.items()},
                            "replace": replace or None,
                            "skipDeploys": skip_deploys or None,
                        }
                    )
                },
            )["variableCollectionUpsert"]
        )

    def domains(self, project_id: str, environment_id: str, service_id: str) -> Domains:
        d = self.execute(
            "Domains",
            {"projectId": project_id, "environmentId": environment_id, "serviceId": service_id},
        )["domains"]
        return Domains(
            service_domains=tuple(ServiceDomain.from_api(x) for x in d["serviceDomains"]),
            custom_domains=tuple(CustomDomain.from_api(x) for x in d["customDomains"]),
        )

    def custom_domain_statuses(
        self, triples: Iterable[tuple[str, str, str]], *, batch_size: int | None = None
    ) -> dict[tuple[str, str, str], tuple[CustomDomain, ...] | None]:
        """The custom domains (DNS records, verification, certificate) of many
        (project_id, environment_id, service_id) services, `batch_size` per request. A
        service Railway does not know maps to None."""
        keys = list(dict.fromkeys(triples))

        def parse(d: dict) -> tuple[CustomDomain, ...]:
            return tuple(CustomDomain.from_api(x) for x in d["customDomains"])

        out: dict[tuple[str, str, str], tuple[CustomDomain, ...] | None] = {}
        for chunk in _chunks(keys, batch_size or self.batch_size):
            items = [{"projectId": p, "environmentId": e, "serviceId": s} for p, e, s in chunk]
            out.update(self._batch("CustomDomainStatuses", "c", items, list(chunk), parse))
        return out

    def create_service_domain(
        self,
        environment_id: str,
        service_id: str,
        *,
        target_port: int | None = None,
        project_id: str | None = None,
    ) -> ServiceDomain:
        """A `*.up.railway.app` domain. With `project_id`, a lost answer is recovered by
        returning the service domain the service already has."""
        variables = {
            "input": _strip_none(
                {
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "targetPort": target_port,
                }
            )
        }
        try:
            data = self.execute("ServiceDomainCreate", variables)
        except Unavailable as exc:
            if not exc.maybe_applied or project_id is None:
                raise
            existing = self.domains(project_id, environment_id, service_id).service_domains
            if existing:
                return existing[0]
            data = self.execute("ServiceDomainCreate", variables)
        return ServiceDomain.from_api(data["serviceDomainCreate"])

    def create_custom_domain(
        self,
        project_id: str,
        environment_id: str,
        service_id: str,
        domain: str,
        *,
        target_port: int | None = None,
    ) -> CustomDomain:
        """A customer's own domain; `.dns_records` says what to set at their DNS provider."""
        variables = {
            "input": _strip_none(
                {
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "domain": domain,
                    "targetPort": target_port,
                }
            )
        }
        try:
            data = self.execute("CustomDomainCreate", variables)
        except Unavailable as exc:
            if not exc.maybe_applied:
                raise
            for existing in self.domains(project_id, environment_id, service_id).custom_domains:
                if existing.domain == domain:
                    return existing
            data = self.execute("CustomDomainCreate", variables)
        return CustomDomain.from_api(data["customDomainCreate"])

    # -- metrics and usage --------------------------------------------------------------------

    def metrics(
        self,
        *,
        start: datetime,
        end: datetime | None = None,
        project_id: str | None = None,
        environment_id: str | None = None,
        service_id: str | None = None,
        measurements: Sequence[str] = DEFAULT_METRICS,
        group_by: Sequence[str] | None = None,
        sample_rate_seconds: int | None = None,
    ) -> list[MetricSeries]:
        """Time series (CPU in vCPU, memory and disk in GB, network in GB per sample).
        The sample rate follows the window like the CLI's unless given."""
        window = ((end or datetime.now(UTC)) - start).total_seconds()
        rate = sample_rate_seconds or _sample_rate(window)
        data = self.execute(
            "Metrics",
            {
                "measurements": list(measurements),
                "startDate": format_time(start),
                "endDate": format_time(end) if end else None,
                "projectId": project_id,
                "environmentId": environment_id,
                "serviceId": service_id,
                "groupBy": list(group_by) if group_by else None,
                "sampleRateSeconds": rate,
            },
        )
        return [MetricSeries.from_api(d) for d in data["metrics"]]

    def usage(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        project_id: str | None = None,
        workspace_id: str | None = None,
        measurements: Sequence[str] = DEFAULT_USAGE,
        group_by: Sequence[str] | None = ("PROJECT_ID", "SERVICE_ID"),
        include_deleted: bool = True,
    ) -> list[UsageValue]:
        """Aggregated usage (vCPU-minutes, GB-minutes, GB egress). Without `start`, the
        current billing period. Deleted projects count (they were billed)."""
        if project_id is None:
            workspace_id = workspace_id or self.workspace_id
        data = self.execute(
            "Usage",
            {
                "measurements": list(measurements),
                "projectId": project_id,
                "workspaceId": workspace_id,
                "startDate": format_time(start) if start else None,
                "endDate": format_time(end) if end else None,
                "groupBy": list(group_by) if group_by else None,
                "includeDeleted": include_deleted,
            },
        )
        return [UsageValue.from_api(d) for d in data["usage"]]

    def estimated_usage(
        self,
        *,
        project_id: str | None = None,
        workspace_id: str | None = None,
        measurements: Sequence[str] = DEFAULT_USAGE,
        include_deleted: bool = True,
    ) -> list[EstimatedUsageValue]:
        if project_id is None:
            workspace_id = workspace_id or self.workspace_id
        data = self.execute(
            "EstimatedUsage",
            {
                "measurements": list(measurements),
                "projectId": project_id,
                "workspaceId": workspace_id,
                "includeDeleted": include_deleted,
            },
        )
        return [
            EstimatedUsageValue(
                measurement=d["measurement"],
                estimated_value=d["estimatedValue"],
                project_id=d["projectId"],
            )
            for d in data["estimatedUsage"]
        ]


def _sample_rate(window_seconds: float) -> int:
    for limit, rate in ((3600, 30), (6 * 3600, 60), (24 * 3600, 240), (7 * 86400, 3600)):
        if window_seconds <= limit:
            return rate
    return 14400


def status_refused(errors: list[dict]) -> bool:
    code = str(((errors[0] if errors else {}).get("extensions") or {}).get("code") or "")
    return code in ("UNAUTHORIZED", "UNAUTHENTICATED", "FORBIDDEN")


def _is_transient(errors: list[dict]) -> bool:
    message = str(errors[0].get("message") or "").lower()
    return any(m in message for m in _TRANSIENT_MESSAGES)


def _classify(message: str, error: dict, operation: str, status: int | None) -> RailwayError:
    lower = message.lower()
    code = str((error.get("extensions") or {}).get("code") or "")
    if status in (401, 403) or any(
        m in lower
        for m in ("not authorized", "project token not found", "two factor authentication required")
    ):
        return Unauthorized(message, operation=operation, status=status)
    if "not found" in lower or "does not exist" in lower or code == "NOT_FOUND":
        return NotFound(message, operation=operation, status=status)
    if "rate limit" in lower:
        return RateLimited(message, operation=operation, status=status)
    return InvalidRequest(message, operation=operation, status=status)


# -- the factory ------------------------------------------------------------------------------

_clients: dict[tuple, RailwayClient] = {}
_clients_lock = threading.Lock()


def railway_client(app=None) -> RailwayClient:
    """The client for the current app's config, with the shared Redis budget and breaker.

    One per process and configuration (a forked worker builds its own; a config change,
    e.g. a test pointing RAILWAY_API_URL at the emulator, builds a new one). Thread-safe.
    """
    if app is None:
        app = current_app._get_current_object()
    cfg = app.config
    token_digest = hashlib.sha256((cfg.get("RAILWAY_API_TOKEN") or "").encode()).hexdigest()
    options = cfg.get("RAILWAY_CLIENT_OPTIONS") or {}
    key = (
        os.getpid(),
        cfg.get("RAILWAY_API_URL"),
        token_digest,
        cfg.get("RAILWAY_WORKSPACE_ID"),
        cfg.get("RAILWAY_PLAN"),
        cfg.get("RAILWAY_RATE_PER_HOUR"),
        cfg.get("RAILWAY_RATE_PER_SECOND"),
        cfg.get("RAILWAY_BATCH_SIZE"),
        cfg.get("REDIS_URL"),
        tuple(sorted((k, repr(v)) for k, v in options.items())),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            redis = redis_client(cfg["REDIS_URL"]) if cfg.get("REDIS_URL") else None
            client = _clients[key] = RailwayClient.from_config(
                cfg, redis=redis, dead_token_opens_breaker=True
            )
        return client


def reset_clients() -> None:
    """Close and forget every cached client (tests, or after changing config at run time)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
