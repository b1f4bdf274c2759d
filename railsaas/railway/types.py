"""Typed results of the Railway client: frozen dataclasses built from GraphQL answers.

Enum-valued fields (`status`, `measurement`, ...) stay plain strings: Railway adds values
over time and a client must accept ones it does not know (the CLI keeps an `Other` arm).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_FRACTION = re.compile(r"(\.\d{6})\d+")

IN_FLIGHT = frozenset(
    {"QUEUED", "WAITING", "INITIALIZING", "BUILDING", "DEPLOYING", "NEEDS_APPROVAL", "REMOVING"}
)
TERMINAL = frozenset({"SUCCESS", "FAILED", "CRASHED", "REMOVED", "SKIPPED", "SLEEPING"})


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 (Z or offset; nanoseconds cut to microseconds) -> aware UTC datetime."""
    if not value:
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime | str) -> str:
    """A DateTime argument: RFC 3339 in UTC with a Z."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _edges(conn: dict | None) -> list[dict]:
    return [e["node"] for e in (conn or {}).get("edges") or []]


@dataclass(frozen=True)
class TemplateVariable:
    """One variable of one service in a template's serializedConfig."""

    service_key: str
    service_name: str
    name: str
    default_value: str | None
    description: str | None
    is_optional: bool
    value: str | None = None

    @property
    def generated(self) -> bool:
        """Filled by Railway (`${{secret(32)}}`, a reference to another service, ...)."""
        return bool(self.default_value and "${{" in self.default_value)

    @property
    def needs_input(self) -> bool:
        """A customer must fill it in: required, and neither a default nor a value."""
        return not self.is_optional and not self.default_value and not self.value


@dataclass(frozen=True)
class Template:
    id: str
    code: str
    name: str
    description: str | None
    image: str | None
    category: str | None
    status: str
    is_verified: bool
    readme: str | None
    # Opaque JSON: pass it back to templateDeployV2 unchanged except for variable values
    # (round-tripping it through typed structs drops fields; the CLI learned that).
    serialized_config: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d: dict) -> Template:
        return cls(
            id=d["id"],
            code=d["code"],
            name=d["name"],
            description=d.get("description"),
            image=d.get("image"),
            category=d.get("category"),
            status=d.get("status") or "PUBLISHED",
            is_verified=bool(d.get("isVerified")),
            readme=d.get("readme"),
            serialized_config=d.get("serializedConfig") or {},
        )

    def variables(self) -> list[TemplateVariable]:
        out = []
        for key, svc in (self.serialized_config.get("services") or {}).items():
            for name, spec in (svc.get("variables") or {}).items():
                spec = spec or {}
                out.append(
                    TemplateVariable(
                        service_key=key,
                        service_name=svc.get("name") or key,
                        name=name,
                        default_value=spec.get("defaultValue"),
                        description=spec.get("description"),
                        is_optional=bool(spec.get("isOptional")),
                        value=spec.get("value"),
                    )
                )
        return out


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    icon: str | None = None
    template_service_id: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, d: dict) -> Service:
        return cls(
            id=d["id"],
            name=d["name"],
            icon=d.get("icon"),
            template_service_id=d.get("templateServiceId"),
            created_at=parse_time(d.get("createdAt")),
        )


@dataclass(frozen=True)
class Environment:
    id: str
    name: str


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    description: str | None
    workspace_id: str | None
    created_at: datetime | None
    deleted_at: datetime | None
    services: tuple[Service, ...]
    environments: tuple[Environment, ...]

    @classmethod
    def from_api(cls, d: dict) -> Project:
        return cls(
            id=d["id"],
            name=d["name"],
            description=d.get("description"),
            workspace_id=d.get("workspaceId"),
            created_at=parse_time(d.get("createdAt")),
            deleted_at=parse_time(d.get("deletedAt")),
            services=tuple(Service.from_api(n) for n in _edges(d.get("services"))),
            environments=tuple(
                Environment(id=n["id"], name=n["name"]) for n in _edges(d.get("environments"))
            ),
        )

    def environment(self, name: str = "production") -> Environment | None:
        """The environment called `name`, else the only one there is."""
        for env in self.environments:
            if env.name == name:
                return env
        return self.environments[0] if len(self.environments) == 1 else None


@dataclass(frozen=True)
class ProjectSummary:
    id: str
    name: str
    created_at: datetime | None


@dataclass(frozen=True)
class TemplateDeployment:
    project_id: str
    workflow_id: str | None  # nullable in Railway's schema


@dataclass(frozen=True)
class WorkflowResult:
    status: str  # Running, Complete, Error, NotFound (PascalCase, as Railway sends it)
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.status == "Complete"

    @property
    def failed(self) -> bool:
        return self.status == "Error"


@dataclass(frozen=True)
class Deployment:
    id: str
    status: str
    project_id: str | None = None
    environment_id: str | None = None
    service_id: str | None = None
    created_at: datetime | None = None
    status_updated_at: datetime | None = None
    url: str | None = None
    static_url: str | None = None
    can_redeploy: bool = False
    stopped: bool = False

    @classmethod
    def from_api(cls, d: dict) -> Deployment:
        return cls(
            id=d["id"],
            status=d["status"],
            project_id=d.get("projectId"),
            environment_id=d.get("environmentId"),
            service_id=d.get("serviceId"),
            created_at=parse_time(d.get("createdAt")),
            status_updated_at=parse_time(d.get("statusUpdatedAt")),
            url=d.get("url"),
            static_url=d.get("staticUrl"),
            can_redeploy=bool(d.get("canRedeploy")),
            stopped=bool(d.get("deploymentStopped")),
        )

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT


@dataclass(frozen=True)
class ServiceStatus:
    environment_id: str
    service_id: str
    latest: Deployment | None  # None: the service never deployed


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime
    message: str
    severity: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    raw_timestamp: str = ""  # as Railway sent it (RFC 3339, maybe nanoseconds)

    @classmethod
    def from_api(cls, d: dict) -> LogLine:
        # Attribute values may arrive JSON-encoded ("\"info\""); the CLI strips the quotes.
        attrs = {a["key"]: a["value"].strip('"') for a in d.get("attributes") or []}
        severity = d.get("severity") or attrs.get("level") or attrs.get("lvl")
        return cls(
            timestamp=parse_time(d["timestamp"]),
            message=d.get("message") or "",
            severity=severity,
            attributes=attrs,
            raw_timestamp=d["timestamp"],
        )


@dataclass(frozen=True)
class ServiceDomain:
    id: str
    domain: str
    environment_id: str
    service_id: str
    target_port: int | None
    sync_status: str
    created_at: datetime | None

    @classmethod
    def from_api(cls, d: dict) -> ServiceDomain:
        return cls(
            id=d["id"],
            domain=d["domain"],
            environment_id=d["environmentId"],
            service_id=d["serviceId"],
            target_port=d.get("targetPort"),
            sync_status=d.get("syncStatus") or "UNSPECIFIED",
            created_at=parse_time(d.get("createdAt")),
        )


@dataclass(frozen=True)
class DnsRecord:
    """A DNS record the customer must create at their DNS provider."""

    record_type: str  # DNS_RECORD_TYPE_CNAME, DNS_RECORD_TYPE_TXT, ...
    hostlabel: str
    fqdn: str
    zone: str
    required_value: str
    current_value: str
    status: str  # DNS_RECORD_STATUS_REQUIRES_UPDATE until it is right
    purpose: str

    @property
    def type_name(self) -> str:
        """CNAME, TXT, A, NS: what a person types into their DNS provider."""
        return self.record_type.removeprefix("DNS_RECORD_TYPE_")


@dataclass(frozen=True)
class CustomDomain:
    id: str
    domain: str
    environment_id: str
    service_id: str
    target_port: int | None
    sync_status: str
    verified: bool
    certificate_status: str | None
    verification_host: str | None
    verification_token: str | None
    dns_records: tuple[DnsRecord, ...]
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, d: dict) -> CustomDomain:
        st = d.get("status") or {}
        records = tuple(
            DnsRecord(
                record_type=r["recordType"],
                hostlabel=r["hostlabel"],
                fqdn=r["fqdn"],
                zone=r["zone"],
                required_value=r["requiredValue"],
                current_value=r["currentValue"],
                status=r["status"],
                purpose=r["purpose"],
            )
            for r in st.get("dnsRecords") or []
        )
        return cls(
            id=d["id"],
            domain=d["domain"],
            environment_id=d["environmentId"],
            service_id=d["serviceId"],
            target_port=d.get("targetPort"),
            sync_status=d.get("syncStatus") or "UNSPECIFIED",
            verified=bool(st.get("verified")),
            certificate_status=st.get("certificateStatus"),
            verification_host=st.get("verificationDnsHost"),
            verification_token=st.get("verificationToken"),
            dns_records=records,
            created_at=parse_time(d.get("createdAt")),
        )


@dataclass(frozen=True)
class Domains:
    service_domains: tuple[ServiceDomain, ...]
    custom_domains: tuple[CustomDomain, ...]


@dataclass(frozen=True)
class MetricPoint:
    ts: datetime
    value: float


@dataclass(frozen=True)
class MetricSeries:
    measurement: str
    points: tuple[MetricPoint, ...]
    project_id: str | None = None
    environment_id: str | None = None
    service_id: str | None = None
    deployment_id: str | None = None

    @classmethod
    def from_api(cls, d: dict) -> MetricSeries:
        tags = d.get("tags") or {}
        # Metric.ts is Unix seconds.
        points = tuple(
            MetricPoint(ts=datetime.fromtimestamp(v["ts"], UTC), value=v["value"])
            for v in d.get("values") or []
        )
        return cls(
            measurement=d["measurement"],
            points=points,
            project_id=tags.get("projectId"),
            environment_id=tags.get("environmentId"),
            service_id=tags.get("serviceId"),
            deployment_id=tags.get("deploymentId"),
        )


@dataclass(frozen=True)
class UsageValue:
    """Aggregated usage. Units (from Railway's own cost maths): CPU in vCPU-minutes, memory
    and disk in GB-minutes, network egress in GB."""

    measurement: str
    value: float
    project_id: str | None = None
    service_id: str | None = None
    environment_id: str | None = None

    @classmethod
    def from_api(cls, d: dict) -> UsageValue:
        tags = d.get("tags") or {}
        return cls(
            measurement=d["measurement"],
            value=d["value"],
            project_id=tags.get("projectId"),
            service_id=tags.get("serviceId"),
            environment_id=tags.get("environmentId"),
        )


@dataclass(frozen=True)
class EstimatedUsageValue:
    """Railway's estimate of a measurement at the end of the current billing period."""

    measurement: str
    estimated_value: float
    project_id: str
