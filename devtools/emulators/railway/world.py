"""The emulator's state: projects, environments, services, deployments, variables, domains,
workflows, and the logs, metrics and usage they produce.

Time drives everything and nothing runs in the background: a deployment's status, its log
lines, its metrics and its usage are all computed from its timestamps and `Clock.now()` when
asked. So a deploy moves QUEUED -> INITIALIZING -> BUILDING -> DEPLOYING -> SUCCESS over
`deploy_seconds` by itself, runtime logs keep growing while it runs, and tests can jump
ahead with `Clock.advance`.

Every public method is called with `World.lock` held (the server takes it per request).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from devtools.demo_catalog import seed_templates


class ApiError(Exception):
    """Becomes a GraphQL error entry (HTTP 200, `data` null for non-null root fields)."""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_nanos(ts: float) -> str:
    """Log timestamps as Railway sends them: RFC 3339 with nanoseconds."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000Z"


def parse_dt(value: str | None) -> float | None:
    if not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(f"Invalid DateTime: {value}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _uid() -> str:
    return str(uuid.uuid4())


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "service"


def _unit(*parts: str) -> float:
    """A stable pseudo-random number in [0, 1) from the given strings."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def month_start(ts: float) -> float:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_end(ts: float) -> float:
    dt = datetime.fromtimestamp(ts, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (
        dt.replace(year=dt.year + 1, month=1) if dt.month == 12 else dt.replace(month=dt.month + 1)
    )
    return nxt.timestamp()


class Clock:
    """Wall time plus an offset tests can move forward. Frozen, it stands still between
    advance() calls, so a test's timings do not depend on how busy the machine is."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.frozen_at: float | None = None

    def now(self) -> float:
        base = self.frozen_at if self.frozen_at is not None else time.time()
        return base + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += max(float(seconds), 0.0)

    def freeze(self, frozen: bool) -> None:
        if frozen and self.frozen_at is None:
            self.frozen_at = time.time()
        elif not frozen and self.frozen_at is not None:
            self.offset += self.frozen_at - time.time()  # no jump back when released
            self.frozen_at = None


@dataclass
class Settings:
    """Tunable at start (command line) and at run time (POST /_emulator/config)."""

    token: str = ""  # empty: any non-empty Bearer token is accepted
    workspace_id: str = "emulator-workspace"
    deploy_seconds: float = 30.0  # QUEUED -> SUCCESS
    deploy_jitter: float = 0.33  # each deploy takes deploy_seconds * (1 +- jitter)
    # templateDeployV2 answers at once; its services appear one by one while the workflow
    # runs (databases first), and it completes after this many seconds.
    workflow_seconds: float = 20.0
    log_interval: float = 2.0  # a runtime log line every this many seconds while running
    crash_after: float = 5.0  # seconds after SUCCESS a CRASHED-outcome deployment crashes
    removal_seconds: float = 1.0  # REMOVING -> REMOVED
    # deploymentRestart answers at once; the deployment keeps its old status (CRASHED) until
    # the container is back, this many seconds later.
    restart_seconds: float = 3.0
    # After a custom domain's records are right, its certificate is ISSUING this long.
    certificate_seconds: float = 30.0
    rate_per_hour: int = 10_000
    rate_per_second: int = 50
    usage_scale: float = 1.0  # multiplies metrics and usage (bigger numbers for demos)
    # What a deleted or unknown project answers. Railway may say "Not Authorized" (the
    # token cannot see it) rather than "Project not found": the pessimistic default.
    missing_project_answer: str = "Not Authorized"
    # "status": workflowStatus answers; "not_authorized": it answers "Not Authorized" (the
    # CLI treats that as "cannot be polled; it keeps running server-side").
    workflow_status_answer: str = "status"

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}")
            current = getattr(self, key)
            setattr(self, key, type(current)(value))


@dataclass
class Project:
    id: str
    name: str
    description: str | None
    workspace_id: str
    created_at: float
    updated_at: float
    deleted_at: float | None = None
    environment_ids: list[str] = field(default_factory=list)
    service_ids: list[str] = field(default_factory=list)


@dataclass
class Environment:
    id: str
    project_id: str
    name: str
    created_at: float


@dataclass
class Service:
    id: str
    project_id: str
    name: str
    icon: str | None
    image: str | None
    start_command: str | None
    has_volume: bool
    template_id: str | None
    template_service_id: str | None
    created_at: float
    deleted_at: float | None = None


@dataclass
class Deployment:
    id: str
    project_id: str
    environment_id: str
    service_id: str
    created_at: float
    duration: float
    outcome: str  # SUCCESS, FAILED or CRASHED: where this deployment ends up
    image: str | None
    crash_at: float | None = None
    removed_at: float | None = None
    stopped: bool = False
    stopped_at: float | None = None  # deploymentStop: still SUCCESS, no longer running
    superseded_by: str | None = None
    forced: tuple[str, float] | None = None  # (status, since): set through the control API
    restarts: list[float] = field(default_factory=list)
    # (until, status, since): what a restarting deployment still reports until then.
    restarting: tuple[float, str, float] | None = None
    down: list[tuple[float, float]] = field(default_factory=list)  # crashed spans, restarted

    def phase_times(self) -> dict[str, float]:
        d = self.duration
        return {
            "QUEUED": self.created_at,
            "INITIALIZING": self.created_at + 0.10 * d,
            "BUILDING": self.created_at + 0.25 * d,
            "DEPLOYING": self.created_at + 0.65 * d,
            "SUCCESS": self.created_at + d,
        }

    @property
    def success_at(self) -> float | None:
        return None if self.outcome == "FAILED" else self.created_at + self.duration


@dataclass
class Workflow:
    id: str
    project_id: str
    created_at: float
    complete_at: float
    error: str | None = None
    environment_id: str = ""
    template_id: str = ""
    stage_only: bool = False
    # (appears at, service key, service config): created by `World.tick` when due.
    pending: list[tuple[float, str, dict]] = field(default_factory=list)


@dataclass
class ServiceDomain:
    id: str
    domain: str
    project_id: str
    environment_id: str
    service_id: str
    target_port: int | None
    created_at: float


@dataclass
class CustomDomain:
    id: str
    domain: str
    project_id: str
    environment_id: str
    service_id: str
    target_port: int | None
    created_at: float
    cname_target: str
    verification_token: str
    verified: bool = False  # every record set to its required value
    verified_at: float | None = None
    # What the customer's DNS answers for each record type (control API: domains/<d>/dns).
    dns_values: dict[str, str] = field(default_factory=dict)

    def required_values(self) -> dict[str, str]:
        return {"CNAME": self.cname_target, "TXT": self.verification_token}


_SECRET = re.compile(r"\$\{\{\s*secret\(\s*(\d+)\s*(?:,\s*\"([^\"]*)\"\s*)?\)\s*\}\}")
_REFERENCE = re.compile(r"\$\{\{\s*([A-Za-z0-9_\- ]+?)(?:\.([A-Za-z0-9_]+))?\s*\}\}")
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

# Baselines per service for metrics and usage, varied a little by a stable hash.
_CPU = 0.04  # vCPU
_MEMORY = 0.25  # GB
_NET_GB_PER_MIN = 0.0004
_DISK = 0.6  # GB on a volume


def _generate_secrets(value: str) -> str:
    def one(m: re.Match) -> str:
        alphabet = m.group(2) or (string.ascii_letters + string.digits)
        return "".join(secrets.choice(alphabet) for _ in range(int(m.group(1))))

    return _SECRET.sub(one, value)


class World:
    def __init__(
        self, settings: Settings, clock: Clock | None = None, rng: random.Random | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.initial_settings = replace(settings)
        self.settings = settings
        self.clock = clock or Clock()
        self.rng = rng or random.Random()
        self.templates: dict[str, dict] = {}
        self.reset()

    def reset(self) -> None:
        self.settings = replace(self.initial_settings)
        self.clock.offset = 0.0
        self.clock.frozen_at = None
        self.templates = {t["id"]: t for t in seed_templates()}
        self.projects: dict[str, Project] = {}
        self.environments: dict[str, Environment] = {}
        self.services: dict[str, Service] = {}
        self.deployments: dict[str, Deployment] = {}
        # (service, environment) -> its deployments: a status lookup stays cheap with
        # thousands of services (the polling benchmark asks about 10,000).
        self._deployments_by_service: dict[tuple[str, str], list[Deployment]] = {}
        self.workflows: dict[str, Workflow] = {}
        # Workflows with services still to appear: `tick` looks at these only (it runs before
        # every request; the polling benchmark seeds 100,000 workflows).
        self._pending_workflows: dict[str, Workflow] = {}
        self.service_domains: dict[str, ServiceDomain] = {}
        self._service_domains_by_service: dict[tuple[str, str], list[ServiceDomain]] = {}
        self.custom_domains: dict[str, CustomDomain] = {}
        self.variables: dict[tuple[str, str | None], dict[str, str]] = {}
        # More Railway workspaces, each reached with its own token (the settings' token
        # reaches settings.workspace_id): token -> workspace id. A revoked token is refused
        # like an unknown one ("Not Authorized").
        self.workspace_tokens: dict[str, str] = {}
        self.revoked_tokens: set[str] = set()
        # Per workspace rate limits (per_hour, per_second); default: the settings'.
        self.workspace_rates: dict[str, tuple[int, int]] = {}
        # The workspace of the request being executed: a token sees only its own.
        self.caller_workspace: str | None = None
        # Outcomes queued for the next deployments, then shares drawn at random.
        self.next_outcomes: list[str] = []
        self.fail_rate = 0.0
        self.crash_rate = 0.0

    def now(self) -> float:
        return self.clock.now()

    # -- workspaces and their tokens -------------------------------------------------------------

    def add_workspace(self, workspace_id: str, token: str, rates=None) -> None:
        if not workspace_id or not token:
            raise ValueError("id and token are required")
        if token == self.settings.token or self.workspace_tokens.get(token, workspace_id) != (
            workspace_id
        ):
            raise ValueError("that token already belongs to another workspace")
        self.workspace_tokens[token] = workspace_id
        self.revoked_tokens.discard(token)
        if rates:
            self.workspace_rates[workspace_id] = rates

    def revoke_workspace(self, workspace_id: str) -> int:
        """Every token of the workspace stops working (as when it is deleted on Railway)."""
        tokens = [t for t, ws in self.workspace_tokens.items() if ws == workspace_id]
        if workspace_id == self.settings.workspace_id and self.settings.token:
            tokens.append(self.settings.token)
        self.revoked_tokens.update(tokens)
        return len(tokens)

    def workspace_of(self, token: str | None) -> str | None:
        """The workspace a Bearer token reaches, or None (refused)."""
        if not token or token in self.revoked_tokens:
            return None
        if token in self.workspace_tokens:
            return self.workspace_tokens[token]
        if not self.settings.token or token == self.settings.token:
            return self.settings.workspace_id
        return None

    def home_workspace(self, workspace_id: str | None = None) -> str:
        """The workspace a request acts in: the one named, which must be the caller's."""
        caller = self.caller_workspace
        if workspace_id and caller and workspace_id != caller:
            raise ApiError("Not Authorized")
        return workspace_id or caller or self.settings.workspace_id

    def _visible(self, project: Project) -> bool:
        caller = self.caller_workspace
        return caller is None or project.workspace_id == caller

    # -- lookups -----------------------------------------------------------------------------

    def template_by(self, *, code: str | None = None, id: str | None = None) -> dict:
        for tpl in self.templates.values():
            if (code is not None and tpl["code"] == code) or (id is not None and tpl["id"] == id):
                return tpl
        raise ApiError("Template not found")

    def project(self, project_id: str) -> Project:
        p = self.projects.get(project_id)
        if p is None or p.deleted_at is not None:
            raise ApiError(self.settings.missing_project_answer or "Project not found")
        if not self._visible(p):
            raise ApiError("Not Authorized")  # another workspace's: the token cannot see it
        return p

    def environment(self, environment_id: str, project_id: str | None = None) -> Environment:
        env = self.environments.get(environment_id)
        if env is None or (project_id and env.project_id != project_id):
            raise ApiError("Environment not found")
        self.project(env.project_id)
        return env

    def service(self, service_id: str) -> Service:
        svc = self.services.get(service_id)
        if svc is None or svc.deleted_at is not None:
            raise ApiError("Service not found")
        self.project(svc.project_id)
        return svc

    def deployment(self, deployment_id: str) -> Deployment:
        dep = self.deployments.get(deployment_id)
        if dep is None:
            raise ApiError("Deployment not found")
        p = self.projects.get(dep.project_id)
        if p is None or p.deleted_at is not None:
            raise ApiError("Deployment not found")
        if not self._visible(p):
            raise ApiError("Not Authorized")
        return dep

    def deployments_of(self, service_id: str, environment_id: str) -> list[Deployment]:
        deps = self._deployments_by_service.get((service_id, environment_id), [])
        return sorted(deps, key=lambda d: d.created_at)

    def latest_deployment(self, service_id: str, environment_id: str) -> Deployment | None:
        deps = self.deployments_of(service_id, environment_id)
        return deps[-1] if deps else None

    # -- deployment status ---------------------------------------------------------------------

    def removed_at(self, dep: Deployment) -> float | None:
        candidates = [dep.removed_at] if dep.removed_at is not None else []
        if dep.superseded_by:
            newer = self.deployments.get(dep.superseded_by)
            if newer is not None and newer.success_at is not None:
                candidates.append(newer.success_at)
        return min(candidates) if candidates else None

    def status(self, dep: Deployment, now: float | None = None) -> tuple[str, float]:
        """(status, since when)."""
        now = self.now() if now is None else now
        removed = self.removed_at(dep)
        if removed is not None and now >= removed:
            done = removed + self.settings.removal_seconds
            return ("REMOVED", done) if now >= done else ("REMOVING", removed)
        if dep.restarting is not None and now < dep.restarting[0]:
            return dep.restarting[1], dep.restarting[2]
        if dep.forced is not None and now >= dep.forced[1]:
            return dep.forced
        phases = dep.phase_times()
        current, since = "QUEUED", dep.created_at
        for name in ("INITIALIZING", "BUILDING", "DEPLOYING"):
            if now >= phases[name]:
                current, since = name, phases[name]
        if dep.outcome == "FAILED" and now >= phases["DEPLOYING"]:
            return "FAILED", phases["DEPLOYING"]
        if now >= phases["SUCCESS"]:
            if dep.crash_at is not None and now >= dep.crash_at:
                return "CRASHED", dep.crash_at
            return "SUCCESS", max([phases["SUCCESS"], *dep.restarts])
        return current, since

    def running_intervals(self, dep: Deployment, until: float) -> list[tuple[float, float]]:
        """When this deployment served traffic, up to `until`."""
        if dep.success_at is None:
            return []
        start = dep.success_at
        end = until
        removed = self.removed_at(dep)
        if removed is not None:
            end = min(end, removed)
        if dep.forced is not None and dep.forced[0] not in ("SUCCESS", "SLEEPING"):
            end = min(end, dep.forced[1])
        if dep.crash_at is not None:
            end = min(end, dep.crash_at)
        if dep.stopped_at is not None:
            end = min(end, dep.stopped_at)
        svc = self.services.get(dep.service_id)
        project = self.projects.get(dep.project_id)
        for gone in (svc.deleted_at if svc else None, project.deleted_at if project else None):
            if gone is not None:
                end = min(end, gone)
        if end <= start:
            return []
        spans = [(start, end)]
        for a, b in dep.down:  # crashed spans that a restart ended
            spans = [
                piece
                for s, e in spans
                for piece in ((s, min(e, a)), (max(s, b), e))
                if piece[1] > piece[0]
            ]
        return spans

    # -- projects ------------------------------------------------------------------------------

    def create_project(
        self,
        name: str | None,
        description: str | None,
        workspace_id: str | None,
        environment_name: str | None,
    ) -> Project:
        now = self.now()
        project = Project(
            id=_uid(),
            name=name or f"project-{secrets.token_hex(3)}",
            description=description,
            workspace_id=self.home_workspace(workspace_id),
            created_at=now,
            updated_at=now,
        )
        env = Environment(
            id=_uid(), project_id=project.id, name=environment_name or "production", created_at=now
        )
        project.environment_ids.append(env.id)
        self.projects[project.id] = project
        self.environments[env.id] = env
        return project

    def create_service(
        self,
        project_id: str,
        *,
        name: str | None = None,
        environment_id: str | None = None,
        image: str | None = None,
        repo: str | None = None,
        icon: str | None = None,
        variables: dict | None = None,
        template_id: str | None = None,
        template_service_id: str | None = None,
    ) -> Service:
        """serviceCreate: a service in every environment of the project (or only
        `environment_id`), deployed there when it has a source; an empty service otherwise.
        Names are unique within a project (the dashboard refuses a second one too)."""
        project = self.project(project_id)
        if (template_id is None) != (template_service_id is None):
            raise ApiError("templateId and templateServiceId must be provided together")
        envs = (
            [self.environment(environment_id, project.id)]
            if environment_id
            else [self.environments[e] for e in project.environment_ids]
        )
        if variables is not None and not isinstance(variables, dict):
            raise ApiError("variables must be an object of strings")
        source_name = (image or repo or "").rsplit("/", 1)[-1].split(":", 1)[0]
        name = (name or "").strip() or source_name or f"service-{secrets.token_hex(3)}"
        taken = {
            self.services[s].name
            for s in project.service_ids
            if self.services[s].deleted_at is None
        }
        if name in taken:
            raise ApiError(f"A service named {name} already exists in this project")
        svc = Service(
            id=_uid(),
            project_id=project.id,
            name=name,
            icon=icon,
            image=image,
            start_command=None,
            has_volume=False,
            template_id=template_id,
            template_service_id=template_service_id,
            created_at=self.now(),
        )
        self.services[svc.id] = svc
        project.service_ids.append(svc.id)
        for env in envs:
            self.variables[(env.id, svc.id)] = {
                str(k): str(v) for k, v in (variables or {}).items()
            }
            if image or repo:
                self.new_deployment(svc, env.id)
        return svc

    def list_deployments(
        self,
        *,
        project_id: str | None = None,
        environment_id: str | None = None,
        service_id: str | None = None,
        include_deleted: bool = False,
        status_in: list[str] | None = None,
        status_not_in: list[str] | None = None,
    ) -> list[Deployment]:
        """The `deployments` query: newest first, filtered; removed ones only when asked."""
        if service_id:
            self.service(service_id)
        if environment_id:
            self.environment(environment_id, project_id)
        if project_id:
            self.project(project_id)
        now = self.now()
        out = []
        for dep in self.deployments.values():
            if project_id and dep.project_id != project_id:
                continue
            if environment_id and dep.environment_id != environment_id:
                continue
            if service_id and dep.service_id != service_id:
                continue
            p = self.projects.get(dep.project_id)
            if p is None or p.deleted_at is not None:
                continue
            status = self.status(dep, now)[0]
            if not include_deleted and status == "REMOVED":
                continue
            if status_in is not None and status not in status_in:
                continue
            if status_not_in is not None and status in status_not_in:
                continue
            out.append(dep)
        out.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return out

    def delete_project(self, project_id: str) -> None:
        project = self.project(project_id)
        now = self.now()
        project.deleted_at = project.updated_at = now
        for dep in self.deployments.values():
            if dep.project_id == project_id and dep.removed_at is None:
                dep.removed_at = now

    # -- templates -----------------------------------------------------------------------------

    def deploy_template(
        self,
        template_id: str,
        config: Any,
        project_id: str | None,
        environment_id: str | None,
        workspace_id: str | None,
        stage_only: bool,
    ) -> Workflow:
        tpl = self.template_by(id=template_id)
        services = config.get("services") if isinstance(config, dict) else None
        if not isinstance(services, dict) or not services:
            raise ApiError("Invalid serializedConfig: no services")
        if project_id:
            project = self.project(project_id)
        else:
            project = self.create_project(
                f"{tpl['code']}-{secrets.token_hex(2)}", None, workspace_id, None
            )
        if environment_id:
            env = self.environment(environment_id, project.id)
        else:
            env = self.environments[project.environment_ids[0]]
        now = self.now()
        seconds = max(self.settings.workflow_seconds, 0.0)
        workflow = Workflow(
            id=_uid(),
            project_id=project.id,
            created_at=now,
            complete_at=now + seconds,
            environment_id=env.id,
            template_id=tpl["id"],
            stage_only=stage_only,
        )
        self.workflows[workflow.id] = workflow
        # Railway fills nothing from defaultValue: the client sends `value` (as the CLI does).
        missing = [
            f"{svc.get('name') or key}.{name}"
            for key, svc in services.items()
            for name, spec in (svc.get("variables") or {}).items()
            if not (spec or {}).get("isOptional") and not (spec or {}).get("value")
        ]
        if missing:
            workflow.error = "Missing required variables: " + ", ".join(missing)
            return workflow
        # The answer comes at once; the services appear while the workflow runs, the
        # databases (no public domain) before the apps that use them.
        order = sorted(
            services.items(),
            key=lambda kv: bool(((kv[1] or {}).get("networking") or {}).get("serviceDomains")),
        )
        n = len(order)
        workflow.pending = [
            (now + seconds * (i + 1) / (n + 1), key, cfg) for i, (key, cfg) in enumerate(order)
        ]
        self._pending_workflows[workflow.id] = workflow
        project.updated_at = now
        self.tick()
        return workflow

    def tick(self) -> None:
        """Create the services whose time has come (called before every request)."""
        now = self.now()
        for wf in list(self._pending_workflows.values()):
            while wf.pending and wf.pending[0][0] <= now:
                at, key, cfg = wf.pending.pop(0)
                project = self.projects.get(wf.project_id)
                if project is None or project.deleted_at is not None:
                    wf.pending.clear()
                    break
                self._create_template_service(project, wf, key, cfg, at)
            if not wf.pending:
                self._pending_workflows.pop(wf.id, None)

    def _create_template_service(
        self, project: Project, wf: Workflow, key: str, svc_cfg: dict, at: float
    ) -> None:
        source = svc_cfg.get("source") or {}
        deploy = svc_cfg.get("deploy") or {}
        svc = Service(
            id=_uid(),
            project_id=project.id,
            name=svc_cfg.get("name") or key,
            icon=svc_cfg.get("icon"),
            image=source.get("image"),
            start_command=deploy.get("startCommand"),
            has_volume=bool(svc_cfg.get("volumeMounts")),
            template_id=wf.template_id,
            template_service_id=key,
            created_at=at,
        )
        self.services[svc.id] = svc
        project.service_ids.append(svc.id)
        values = {}
        for name, spec in (svc_cfg.get("variables") or {}).items():
            value = (spec or {}).get("value")
            if value not in (None, ""):
                values[name] = _generate_secrets(str(value))
        self.variables[(wf.environment_id, svc.id)] = values
        domains = (svc_cfg.get("networking") or {}).get("serviceDomains") or {}
        for spec in domains.values():
            self.create_service_domain(wf.environment_id, svc.id, (spec or {}).get("port"))
        if not wf.stage_only:
            self.new_deployment(svc, wf.environment_id, at=at)

    def workflow_status(self, workflow_id: str) -> tuple[str, str | None]:
        if self.settings.workflow_status_answer == "not_authorized":
            raise ApiError("Not Authorized")
        wf = self.workflows.get(workflow_id)
        if wf is None:
            return "NotFound", None
        if self.now() < wf.complete_at:
            return "Running", None
        return ("Error", wf.error) if wf.error else ("Complete", None)

    # -- deployments ---------------------------------------------------------------------------

    def _outcome(self) -> str:
        if self.next_outcomes:
            return self.next_outcomes.pop(0)
        draw = self.rng.random()
        if draw < self.fail_rate:
            return "FAILED"
        if draw < self.fail_rate + self.crash_rate:
            return "CRASHED"
        return "SUCCESS"

    def new_deployment(
        self, svc: Service, environment_id: str, at: float | None = None
    ) -> Deployment:
        now = self.now() if at is None else at
        jitter = self.settings.deploy_jitter
        duration = max(self.settings.deploy_seconds * (1 + self.rng.uniform(-jitter, jitter)), 0.0)
        outcome = self._outcome()
        dep = Deployment(
            id=_uid(),
            project_id=svc.project_id,
            environment_id=environment_id,
            service_id=svc.id,
            created_at=now,
            duration=duration,
            outcome=outcome,
            image=svc.image,
        )
        if outcome == "CRASHED":
            dep.crash_at = now + duration + self.settings.crash_after
        for older in self.deployments_of(svc.id, environment_id):
            if older.superseded_by is None and older.removed_at is None:
                older.superseded_by = dep.id
        self.deployments[dep.id] = dep
        self._deployments_by_service.setdefault((svc.id, environment_id), []).append(dep)
        return dep

    def can_redeploy(self, dep: Deployment) -> bool:
        return self.status(dep)[0] in ("SUCCESS", "FAILED", "CRASHED", "SLEEPING")

    def redeploy(self, dep: Deployment) -> Deployment:
        svc = self.service(dep.service_id)
        if not self.can_redeploy(dep):
            # Like the CLI's refusal: building, deploying or removed cannot be redeployed.
            raise ApiError("This deployment cannot be redeployed")
        return self.new_deployment(svc, dep.environment_id)

    def restart(self, dep: Deployment) -> None:
        status, _ = self.status(dep)
        if dep.stopped:
            raise ApiError("Cannot restart a stopped deployment")
        if status not in ("SUCCESS", "CRASHED", "SLEEPING"):
            raise ApiError(f"Cannot restart a deployment that is {status}")
        now = self.now()
        until = now + max(self.settings.restart_seconds, 0.0)
        dep.restarting = (until, status, self.status(dep, now)[1])
        if status == "CRASHED":
            dep.down.append((dep.crash_at if dep.crash_at is not None else now, until))
        dep.crash_at = None
        dep.forced = None
        dep.restarts.append(until)

    def stop(self, dep: Deployment) -> None:
        """deploymentStop: the deployment stays SUCCESS with deploymentStopped true (as the
        CLI shows it), but no longer runs (no logs, metrics or usage from now on)."""
        if not dep.stopped:
            dep.stopped, dep.stopped_at = True, self.now()

    def remove(self, dep: Deployment) -> None:
        if self.removed_at(dep) is None:
            dep.removed_at = self.now()

    def force_status(self, dep: Deployment, status: str) -> None:
        now = self.now()
        if status == "CRASHED":
            dep.crash_at = now
            dep.outcome = "CRASHED" if dep.outcome == "SUCCESS" else dep.outcome
            dep.forced = None
        else:
            dep.forced = (status, now)

    # -- variables -----------------------------------------------------------------------------

    def system_variables(self, svc: Service, env: Environment) -> dict[str, str]:
        project = self.projects[svc.project_id]
        domains = self.service_domains_of(svc.id, env.id)
        return {
            "RAILWAY_PROJECT_ID": project.id,
            "RAILWAY_PROJECT_NAME": project.name,
            "RAILWAY_ENVIRONMENT_ID": env.id,
            "RAILWAY_ENVIRONMENT_NAME": env.name,
            "RAILWAY_SERVICE_ID": svc.id,
            "RAILWAY_SERVICE_NAME": svc.name,
            "RAILWAY_PRIVATE_DOMAIN": f"{_slug(svc.name)}.railway.internal",
            "RAILWAY_PUBLIC_DOMAIN": domains[0].domain if domains else "",
        }

    def read_variables(
        self, project_id: str, environment_id: str, service_id: str | None, unrendered: bool
    ) -> dict[str, str]:
        self.project(project_id)
        env = self.environment(environment_id, project_id)
        shared = dict(self.variables.get((env.id, None), {}))
        if service_id is None:
            raw = shared
            svc = None
        else:
            svc = self.service(service_id)
            raw = dict(self.variables.get((env.id, svc.id), {}))
        if unrendered:
            return raw
        out = {}
        if svc is not None:
            out.update(self.system_variables(svc, env))
        out.update({k: self._render(v, svc, env, 0) for k, v in raw.items()})
        return out

    def _render(self, value: str, svc: Service | None, env: Environment, depth: int) -> str:
        if depth > 5 or "${{" not in value:
            return value

        def one(m: re.Match) -> str:
            owner, name = m.group(1).strip(), m.group(2)
            if name is None:  # ${{VAR}}: this service's variable or a system one
                name, target = owner, svc
            elif owner == "shared":
                return self._render(
                    self.variables.get((env.id, None), {}).get(name, ""), None, env, depth + 1
                )
            else:
                target = next(
                    (
                        s
                        for s in self.services.values()
                        if s.project_id == env.project_id
                        and s.name == owner
                        and s.deleted_at is None
                    ),
                    None,
                )
            if target is None:
                return ""
            own = self.variables.get((env.id, target.id), {})
            if name in own:
                return self._render(own[name], target, env, depth + 1)
            return self.system_variables(target, env).get(name, "")

        return _REFERENCE.sub(one, value)

    def upsert_variables(
        self,
        project_id: str,
        environment_id: str,
        service_id: str | None,
        values: dict,
        replace_all: bool,
        skip_deploys: bool,
    ) -> None:
        self.project(project_id)
        env = self.environment(environment_id, project_id)
        svc = self.service(service_id) if service_id else None
        if not isinstance(values, dict):
            raise ApiError("variables must be an object of strings")
        key = (env.id, svc.id if svc else None)
        current = {} if replace_all else dict(self.variables.get(key, {}))
        current.update({str(k): str(v) for k, v in values.items()})
        self.variables[key] = current
        if skip_deploys:
            return
        targets = (
            [svc]
            if svc
            else [
                self.services[s]
                for s in self.projects[project_id].service_ids
                if self.services[s].deleted_at is None
            ]
        )
        for target in targets:
            if self.latest_deployment(target.id, env.id) is not None:
                self.new_deployment(target, env.id)

    # -- domains -------------------------------------------------------------------------------

    def create_service_domain(
        self, environment_id: str, service_id: str, target_port: int | None
    ) -> ServiceDomain:
        svc = self.service(service_id)
        env = self.environment(environment_id, svc.project_id)
        domain = ServiceDomain(
            id=_uid(),
            domain=f"{_slug(svc.name)}-{_slug(env.name)}-{secrets.token_hex(2)}.up.railway.app",
            project_id=svc.project_id,
            environment_id=env.id,
            service_id=svc.id,
            target_port=target_port,
            created_at=self.now(),
        )
        self.service_domains[domain.id] = domain
        self._service_domains_by_service.setdefault((svc.id, env.id), []).append(domain)
        return domain

    def service_domains_of(self, service_id: str, environment_id: str) -> list[ServiceDomain]:
        return list(self._service_domains_by_service.get((service_id, environment_id), []))

    def create_custom_domain(
        self,
        project_id: str,
        environment_id: str,
        service_id: str,
        domain: str,
        target_port: int | None,
    ) -> CustomDomain:
        self.project(project_id)
        env = self.environment(environment_id, project_id)
        svc = self.service(service_id)
        name = domain.strip().lower().rstrip(".")
        if not _HOSTNAME.match(name):
            raise ApiError(f"Invalid domain: {domain}")
        if any(d.domain == name for d in self.custom_domains.values()):
            raise ApiError("Domain is already in use")
        cd = CustomDomain(
            id=_uid(),
            domain=name,
            project_id=project_id,
            environment_id=env.id,
            service_id=svc.id,
            target_port=target_port,
            created_at=self.now(),
            cname_target=f"{secrets.token_hex(4)}.up.railway.app",
            verification_token=f"railway-verify={secrets.token_hex(16)}",
        )
        self.custom_domains[cd.id] = cd
        return cd

    def custom_domain_named(self, name: str) -> CustomDomain:
        for cd in self.custom_domains.values():
            if cd.domain == name.lower():
                return cd
        raise ApiError("Domain not found")

    def set_custom_domain_dns(self, name: str, values: dict[str, str] | None) -> CustomDomain:
        """The customer's DNS now answers `values` (record type -> value; None: every
        record as required). Verified only once every record has its required value; a
        wrong value (say, the service domain as CNAME target) leaves it unverified."""
        cd = self.custom_domain_named(name)
        required = cd.required_values()
        for kind, value in (required if values is None else values).items():
            if kind.upper() not in required:
                raise ApiError(f"No {kind} record for {cd.domain}")
            cd.dns_values[kind.upper()] = str(value or "")
        verified = all(cd.dns_values.get(k) == v for k, v in required.items())
        if verified and not cd.verified:
            cd.verified_at = self.now()
        cd.verified = verified
        if not verified:
            cd.verified_at = None
        return cd

    def verify_custom_domain(self, name: str) -> CustomDomain:
        return self.set_custom_domain_dns(name, None)

    def certificate_status(self, cd: CustomDomain) -> str:
        if not cd.verified or cd.verified_at is None:
            return "CERTIFICATE_STATUS_TYPE_VALIDATING_OWNERSHIP"
        if self.now() - cd.verified_at < max(self.settings.certificate_seconds, 0.0):
            return "CERTIFICATE_STATUS_TYPE_ISSUING"
        return "CERTIFICATE_STATUS_TYPE_VALID"

    # -- logs ----------------------------------------------------------------------------------

    def build_log_lines(self, dep: Deployment) -> list[tuple[float, str, str]]:
        phases = dep.phase_times()
        start, end = phases["BUILDING"], phases["DEPLOYING"]
        span = max(end - start, 0.0)
        image = dep.image or "nixpacks build"
        steps = [
            ("info", "Initializing build environment"),
            ("info", f"Using image {image}"),
            ("info", f"Pulling {image}"),
            (
                "info",
                "Layer sha256:"
                + hashlib.sha256(dep.id.encode()).hexdigest()[:12]
                + " pull complete",
            ),
            ("info", "Digest verified, image extracted"),
            ("info", "Mounting volumes and injecting variables"),
            ("info", f"Build time: {span:.1f} seconds"),
        ]
        if dep.outcome == "FAILED":
            steps[-1] = ("error", "ERROR: failed to start build: exit code 1")
        n = len(steps)
        return [(start + span * i / n, msg, sev) for i, (sev, msg) in enumerate(steps)]

    def runtime_event_lines(self, dep: Deployment, now: float) -> list[tuple[float, str, str]]:
        phases = dep.phase_times()
        out: list[tuple[float, str, str]] = []
        if dep.outcome == "FAILED":
            return out
        boot = phases["DEPLOYING"]
        span = max(phases["SUCCESS"] - boot, 0.0)
        svc = self.services.get(dep.service_id)
        name = svc.name if svc else "app"
        out += [
            (boot, "Starting Container", "info"),
            (boot + span * 0.3, f"{name} initializing", "info"),
            (boot + span * 0.8, f"{name} listening on port {8080}", "info"),
            (phases["SUCCESS"], "Healthcheck succeeded", "info"),
        ]
        for a, _b in dep.down:
            out.append((a, f"{name} exited unexpectedly: Error: out of memory", "error"))
        if dep.crash_at is not None:
            out.append((dep.crash_at, f"{name} exited unexpectedly: Error: out of memory", "error"))
        for ts in dep.restarts:
            out.append((ts, "Restarting Container", "info"))
        removed = self.removed_at(dep)
        if dep.stopped_at is not None and (removed is None or dep.stopped_at < removed):
            removed = dep.stopped_at
        if removed is not None:
            out.append((removed, "Stopping Container", "info"))
        return [line for line in out if line[0] <= now]

    def runtime_log_lines(
        self, dep: Deployment, start: float | None, end: float | None, limit: int
    ) -> list[tuple[float, str, str]]:
        now = self.now()
        hi = min(end, now) if end is not None else now
        lo = start if start is not None else -math.inf
        events = [ln for ln in self.runtime_event_lines(dep, now) if lo <= ln[0] <= hi]
        spans = self.running_intervals(dep, hi)
        interval = max(self.settings.log_interval, 0.05)
        beats: list[tuple[float, str, str]] = []
        first_success = dep.success_at
        if first_success is not None and spans:
            # Heartbeat i happens at first_success + (i + 1) * interval, in running spans.
            i_lo = max(math.ceil((max(lo, first_success) - first_success) / interval) - 1, 0)
            i_hi = math.floor((hi - first_success) / interval) - 1
            indices = range(i_lo, i_hi + 1)
            if start is None:
                indices = range(max(i_hi - 4 * limit, i_lo), i_hi + 1)  # the tail only
            for i in indices:
                ts = first_success + (i + 1) * interval
                if ts < lo or ts > hi or not any(a <= ts < b for a, b in spans):
                    continue
                beats.append((ts, self._request_line(dep, i), "info"))
                if start is not None and len(beats) >= limit:
                    break
        lines = sorted(events + beats)
        return lines[:limit] if start is not None else lines[-limit:]

    @staticmethod
    def _request_line(dep: Deployment, i: int) -> str:
        u = _unit(dep.id, str(i))
        path = ["/", "/api/health", "/login", "/assets/app.js", "/api/items"][int(u * 5)]
        status = 200 if u < 0.93 else (304 if u < 0.98 else 500)
        return f"GET {path} {status} {int(2 + u * 120)}ms"

    # -- metrics and usage -----------------------------------------------------------------------

    def scoped_services(
        self,
        *,
        project_id=None,
        service_id=None,
        environment_id=None,
        workspace_id=None,
        include_deleted=False,
    ) -> list[tuple[Service, str]]:
        """(service, environment_id) pairs in scope."""
        out = []
        for svc in self.services.values():
            project = self.projects[svc.project_id]
            if not include_deleted and (project.deleted_at or svc.deleted_at):
                continue
            if not self._visible(project):
                continue
            if project_id and svc.project_id != project_id:
                continue
            if service_id and svc.id != service_id:
                continue
            if workspace_id and project.workspace_id != workspace_id:
                continue
            for env_id in project.environment_ids:
                if environment_id and env_id != environment_id:
                    continue
                out.append((svc, env_id))
        return out

    def service_spans(self, svc: Service, env_id: str, until: float) -> list[tuple[float, float]]:
        spans: list[tuple[float, float]] = []
        for dep in self.deployments_of(svc.id, env_id):
            spans += self.running_intervals(dep, until)
        spans.sort()
        merged: list[list[float]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return [(a, b) for a, b in merged]

    def metric_value(self, svc: Service, measurement: str, ts: float, step: float) -> float:
        u = _unit(svc.id, measurement)
        wave = 1 + 0.35 * math.sin(ts / 600.0 + u * 6.28) + 0.15 * (_unit(svc.id, str(ts)) - 0.5)
        scale = self.settings.usage_scale
        if measurement in ("CPU_USAGE", "CPU_USAGE_2"):
            return round(_CPU * (0.5 + u) * wave * scale, 6)
        if measurement == "MEMORY_USAGE_GB":
            return round(_MEMORY * (0.6 + u) * (1 + 0.1 * math.sin(ts / 3600.0)) * scale, 6)
        if measurement in ("NETWORK_RX_GB", "NETWORK_TX_GB"):
            return round(_NET_GB_PER_MIN * (0.5 + u) * wave * step / 60.0 * scale, 9)
        if measurement == "DISK_USAGE_GB":
            return round((_DISK * (0.5 + u) if svc.has_volume else 0.05) * scale, 6)
        if measurement == "CPU_LIMIT":
            return 8.0
        if measurement == "MEMORY_LIMIT_GB":
            return 8.0
        return 0.0

    def usage_value(self, svc: Service, measurement: str, minutes: float) -> float:
        u = _unit(svc.id, measurement)
        scale = self.settings.usage_scale
        per_minute = {
            "CPU_USAGE": _CPU * (0.5 + u),
            "CPU_USAGE_2": _CPU * (0.5 + u),
            "MEMORY_USAGE_GB": _MEMORY * (0.6 + u),
            "NETWORK_TX_GB": _NET_GB_PER_MIN * (0.5 + u),
            "NETWORK_RX_GB": _NET_GB_PER_MIN * (0.5 + u),
            "DISK_USAGE_GB": _DISK * (0.5 + u) if svc.has_volume else 0.0,
        }.get(measurement, 0.0)
        return per_minute * minutes * scale

    def template_summary(self, tpl: dict) -> dict:
        return {k: tpl[k] for k in ("id", "code", "name", "category", "description")}

    def snapshot(self) -> dict:
        self.tick()
        now = self.now()
        return {
            "now": iso(now),
            "projects": [
                {
                    "id": p.id,
                    "name": p.name,
                    "deleted": p.deleted_at is not None,
                    "environments": [self.environments[e].name for e in p.environment_ids],
                    "services": [
                        {
                            "id": s,
                            "name": self.services[s].name,
                            "deployments": [
                                {"id": d.id, "status": self.status(d, now)[0], "stopped": d.stopped}
                                for e in p.environment_ids
                                for d in self.deployments_of(s, e)
                            ],
                        }
                        for s in p.service_ids
                    ],
                }
                for p in self.projects.values()
            ],
            "workflows": len(self.workflows),
            "service_domains": [d.domain for d in self.service_domains.values()],
            "custom_domains": [d.domain for d in self.custom_domains.values()],
            "settings": {
                f.name: getattr(self.settings, f.name)
                for f in fields(self.settings)
                if f.name != "token"
            },
        }


def encode_cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(base64.b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise ApiError("Invalid cursor") from None


def connection(nodes: list, first=None, after=None, last=None, before=None) -> dict:
    """A Relay connection over `nodes` with real cursors and page info."""
    start = 0
    end = len(nodes)
    a = decode_cursor(after)
    b = decode_cursor(before)
    if a is not None:
        start = a + 1
    if b is not None:
        end = min(end, b)
    if first is not None:
        if first < 0:
            raise ApiError("first must be positive")
        end = min(end, start + first)
    if last is not None:
        if last < 0:
            raise ApiError("last must be positive")
        start = max(start, end - last)
    window = nodes[start:end]
    edges = [{"cursor": encode_cursor(start + i), "node": n} for i, n in enumerate(window)]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": end < len(nodes),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


__all__ = [
    "ApiError",
    "Clock",
    "Settings",
    "World",
    "connection",
    "iso",
    "iso_nanos",
    "month_end",
    "month_start",
    "parse_dt",
]
