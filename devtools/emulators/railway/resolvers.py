"""GraphQL resolvers: the emulator schema (schema.graphql) bound to the World.

Objects are plain dicts. A value that needs arguments or is costly is a callable, which
graphql-core's default resolver calls with `(info, **args)`.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, build_schema

from devtools.emulators.railway.world import (
    ApiError,
    CustomDomain,
    Deployment,
    Environment,
    Project,
    Service,
    ServiceDomain,
    World,
    connection,
    iso,
    iso_nanos,
    month_end,
    month_start,
    parse_dt,
)

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.graphql"
PUBLIC_FIELDS = frozenset(
    {"template", "templateSearch", "templates", "__typename", "__schema", "__type"}
)
_LOG_LIMIT_MAX = 5000


@cache
def schema() -> GraphQLSchema:
    """The emulator's schema with resolvers for the root fields. Built once per process."""
    sch = build_schema(SCHEMA_PATH.read_text())
    for type_name, resolvers in (("Query", _QUERY), ("Mutation", _MUTATION)):
        gql_type = sch.get_type(type_name)
        for name, fn in resolvers.items():
            gql_type.fields[name].resolve = _bind(fn)
    return sch


def _bind(fn):
    def resolve(_root, info, **args):
        return fn(info.context["world"], **args)

    return resolve


# -- object shapes --------------------------------------------------------------------------


def template_obj(tpl: dict) -> dict:
    out = dict(tpl)
    out["createdAt"] = "2024-01-15T10:00:00.000Z"
    out["updatedAt"] = "2026-06-01T10:00:00.000Z"
    return out


def project_obj(w: World, p: Project) -> dict:
    def services(_info, first=None, after=None, last=None, before=None):
        nodes = [
            service_obj(w, w.services[s]) for s in p.service_ids if w.services[s].deleted_at is None
        ]
        return connection(nodes, first, after, last, before)

    def environments(
        _info, first=None, after=None, last=None, before=None, isEphemeral=None, sort=None
    ):
        envs = [w.environments[e] for e in p.environment_ids]
        if isEphemeral:
            envs = []
        envs.sort(key=lambda e: e.created_at, reverse=sort == "desc")
        return connection([environment_obj(w, e) for e in envs], first, after, last, before)

    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "workspaceId": p.workspace_id,
        "isPublic": False,
        "prDeploys": False,
        "createdAt": iso(p.created_at),
        "updatedAt": iso(p.updated_at),
        "deletedAt": iso(p.deleted_at),
        "services": services,
        "environments": environments,
    }


def environment_obj(w: World, env: Environment) -> dict:
    def service_instances(_info, first=None, after=None, last=None, before=None):
        project = w.projects[env.project_id]
        nodes = [
            service_instance_obj(w, w.services[s], env)
            for s in project.service_ids
            if w.services[s].deleted_at is None
        ]
        return connection(nodes, first, after, last, before)

    return {
        "id": env.id,
        "name": env.name,
        "projectId": env.project_id,
        "isEphemeral": False,
        "createdAt": iso(env.created_at),
        "updatedAt": iso(env.created_at),
        "deletedAt": None,
        "serviceInstances": service_instances,
    }


def service_obj(w: World, svc: Service) -> dict:
    return {
        "id": svc.id,
        "name": svc.name,
        "icon": svc.icon,
        "projectId": svc.project_id,
        "templateId": svc.template_id,
        "templateServiceId": svc.template_service_id,
        "createdAt": iso(svc.created_at),
        "updatedAt": iso(svc.created_at),
        "deletedAt": iso(svc.deleted_at),
    }


def service_instance_obj(w: World, svc: Service, env: Environment) -> dict:
    def latest(_info):
        dep = w.latest_deployment(svc.id, env.id)
        return deployment_obj(w, dep) if dep else None

    def active(_info):
        now = w.now()
        return [
            deployment_obj(w, d)
            for d in w.deployments_of(svc.id, env.id)
            if not d.stopped
            and w.status(d, now)[0] in ("SUCCESS", "SLEEPING", "CRASHED", "DEPLOYING")
        ]

    return {
        "id": f"{svc.id}:{env.id}",
        "serviceId": svc.id,
        "serviceName": svc.name,
        "environmentId": env.id,
        "latestDeployment": latest,
        "activeDeployments": active,
        "domains": lambda _info: domains_obj(w, svc.id, env.id),
        "numReplicas": 1,
        "region": "us-west2",
        "startCommand": svc.start_command,
        "createdAt": iso(svc.created_at),
        "updatedAt": iso(svc.created_at),
        "deletedAt": iso(svc.deleted_at),
    }


_INSTANCE_STATUS = {
    "QUEUED": "CREATED",
    "WAITING": "CREATED",
    "INITIALIZING": "INITIALIZING",
    "BUILDING": "INITIALIZING",
    "DEPLOYING": "INITIALIZING",
    "SUCCESS": "RUNNING",
    "SLEEPING": "STOPPED",
    "FAILED": "EXITED",
    "CRASHED": "CRASHED",
    "REMOVING": "REMOVING",
    "REMOVED": "REMOVED",
    "SKIPPED": "SKIPPED",
    "NEEDS_APPROVAL": "CREATED",
}


def deployment_obj(w: World, dep: Deployment) -> dict:
    status, since = w.status(dep)
    domains = w.service_domains_of(dep.service_id, dep.environment_id)
    domain = domains[0].domain if domains else None
    return {
        "id": dep.id,
        "status": status,
        "statusUpdatedAt": iso(since),
        "createdAt": iso(dep.created_at),
        "updatedAt": iso(since),
        "projectId": dep.project_id,
        "environmentId": dep.environment_id,
        "serviceId": dep.service_id,
        "url": f"https://{domain}" if domain else None,
        "staticUrl": domain,
        # REMOVED cannot be redeployed (the CLI refuses it too): start from the service.
        "canRedeploy": w.can_redeploy(dep),
        "canRollback": False,
        "deploymentStopped": dep.stopped,
        "meta": {"image": dep.image, "reason": "deploy"},
        "instances": [
            {
                "id": f"{dep.id}-0",
                "status": "STOPPED" if dep.stopped else _INSTANCE_STATUS.get(status, "CREATED"),
            }
        ],
    }


def service_domain_obj(d: ServiceDomain) -> dict:
    return {
        "id": d.id,
        "domain": d.domain,
        "suffix": "up.railway.app",
        "environmentId": d.environment_id,
        "serviceId": d.service_id,
        "projectId": d.project_id,
        "targetPort": d.target_port,
        "syncStatus": "ACTIVE",
        "createdAt": iso(d.created_at),
        "updatedAt": iso(d.created_at),
        "deletedAt": None,
    }


def custom_domain_obj(w: World, d: CustomDomain) -> dict:
    labels = d.domain.split(".")
    apex = len(labels) <= 2
    hostlabel = "@" if apex else ".".join(labels[:-2])
    zone = ".".join(labels[-2:])
    verify_host = "_railway-verify" + ("" if apex else f".{hostlabel}")

    def record(kind: str, host: str, fqdn: str, purpose: str) -> dict:
        required = d.required_values()[kind]
        current = d.dns_values.get(kind, "")
        return {
            "recordType": f"DNS_RECORD_TYPE_{kind}",
            "hostlabel": host,
            "fqdn": fqdn,
            "zone": zone,
            "requiredValue": required,
            "currentValue": current,
            "status": (
                "DNS_RECORD_STATUS_PROPAGATED"
                if current == required
                else "DNS_RECORD_STATUS_REQUIRES_UPDATE"
            ),
            "purpose": purpose,
        }

    records = [
        record("CNAME", hostlabel, d.domain, "DNS_RECORD_PURPOSE_TRAFFIC_ROUTE"),
        record("TXT", verify_host, f"{verify_host}.{zone}", "DNS_RECORD_PURPOSE_UNSPECIFIED"),
    ]
    return {
        "id": d.id,
        "domain": d.domain,
        "environmentId": d.environment_id,
        "serviceId": d.service_id,
        "projectId": d.project_id,
        "targetPort": d.target_port,
        "syncStatus": "ACTIVE" if d.verified else "CREATING",
        "createdAt": iso(d.created_at),
        "updatedAt": iso(d.created_at),
        "deletedAt": None,
        "status": {
            "verified": d.verified,
            "certificateStatus": w.certificate_status(d),
            "verificationDnsHost": f"{verify_host}.{zone}",
            "verificationToken": d.verification_token,
            "dnsRecords": records,
        },
    }


def domains_obj(w: World, service_id: str, environment_id: str) -> dict:
    return {
        "serviceDomains": [
            service_domain_obj(d) for d in w.service_domains_of(service_id, environment_id)
        ],
        "customDomains": [
            custom_domain_obj(w, d)
            for d in w.custom_domains.values()
            if d.service_id == service_id and d.environment_id == environment_id
        ],
    }


def log_obj(dep: Deployment, ts: float, message: str, severity: str) -> dict:
    return {
        "timestamp": iso_nanos(ts),
        "message": message,
        "severity": severity,
        "attributes": [{"key": "level", "value": f'"{severity}"'}],
        "tags": {
            "deploymentId": dep.id,
            "deploymentInstanceId": f"{dep.id}-0",
            "environmentId": dep.environment_id,
            "projectId": dep.project_id,
            "serviceId": dep.service_id,
            "snapshotId": None,
        },
    }


# -- queries ---------------------------------------------------------------------------------


def q_template(w: World, code=None, id=None, owner=None, repo=None):
    if code is None and id is None:
        raise ApiError("Template not found")
    return template_obj(w.template_by(code=code, id=id))


def q_project(w: World, id):
    return project_obj(w, w.project(id))


def q_projects(
    w: World,
    workspaceId=None,
    includeDeleted=None,
    orderBy=None,
    first=None,
    after=None,
    last=None,
    before=None,
    userId=None,
):
    if workspaceId is not None:
        w.home_workspace(workspaceId)  # another workspace's id: "Not Authorized"
    projects = [
        p
        for p in w.projects.values()
        if (includeDeleted or p.deleted_at is None)
        and (workspaceId is None or p.workspace_id == workspaceId)
        and w._visible(p)
    ]
    if orderBy == "NAME_ASC":
        projects.sort(key=lambda p: p.name)
    elif orderBy == "UPDATED_AT_DESC":
        projects.sort(key=lambda p: p.updated_at, reverse=True)
    else:
        projects.sort(key=lambda p: p.created_at, reverse=True)
    return connection([project_obj(w, p) for p in projects], first, after, last, before)


def q_environment(w: World, id, projectId=None):
    return environment_obj(w, w.environment(id, projectId))


def q_service(w: World, id):
    return service_obj(w, w.service(id))


def q_service_instance(w: World, environmentId, serviceId):
    svc = w.service(serviceId)
    env = w.environment(environmentId, svc.project_id)
    return service_instance_obj(w, svc, env)


def q_deployment(w: World, id):
    return deployment_obj(w, w.deployment(id))


def q_deployments(w: World, input, first=None, after=None, last=None, before=None):
    status = input.get("status") or {}
    deps = w.list_deployments(
        project_id=input.get("projectId"),
        environment_id=input.get("environmentId"),
        service_id=input.get("serviceId"),
        include_deleted=bool(input.get("includeDeleted")),
        status_in=status.get("in"),
        status_not_in=status.get("notIn"),
    )
    return connection([deployment_obj(w, d) for d in deps], first, after, last, before)


def q_workflow_status(w: World, workflowId):
    status, error = w.workflow_status(workflowId)
    return {"status": status, "error": error}


def _limit(limit) -> int:
    if limit is None:
        return 500
    if limit < 0:
        raise ApiError("limit must be positive")
    return min(limit, _LOG_LIMIT_MAX)


def _filter(lines, filt: str | None):
    if not filt:
        return lines
    terms = filt.split()
    out = []
    for line in lines:
        ok = True
        for term in terms:
            if term.startswith("@level:"):
                ok = ok and line[2] == term.split(":", 1)[1].lower()
            else:
                ok = ok and term.strip('"').lower() in line[1].lower()
        if ok:
            out.append(line)
    return out


def q_deployment_logs(
    w: World, deploymentId, limit=None, startDate=None, endDate=None, filter=None
):
    dep = w.deployment(deploymentId)
    n = _limit(limit)
    start, end = parse_dt(startDate), parse_dt(endDate)
    # Fetch extra so a filter still fills the page.
    lines = w.runtime_log_lines(dep, start, end, n * (4 if filter else 1))
    lines = _filter(lines, filter)
    lines = lines[:n] if start is not None else lines[-n:]
    return [log_obj(dep, *line) for line in lines]


def q_build_logs(w: World, deploymentId, limit=None, startDate=None, endDate=None, filter=None):
    dep = w.deployment(deploymentId)
    n = _limit(limit)
    now = w.now()
    start, end = parse_dt(startDate), parse_dt(endDate)
    hi = min(end, now) if end is not None else now
    lines = [
        ln for ln in w.build_log_lines(dep) if ln[0] <= hi and (start is None or ln[0] >= start)
    ]
    lines = _filter(lines, filter)
    lines = lines[:n] if start is not None else lines[-n:]
    return [log_obj(dep, *line) for line in lines]


def q_variables(w: World, projectId, environmentId, serviceId=None, unrendered=None):
    return w.read_variables(projectId, environmentId, serviceId, bool(unrendered))


def q_domains(w: World, environmentId, projectId, serviceId):
    w.project(projectId)
    w.environment(environmentId, projectId)
    w.service(serviceId)
    return domains_obj(w, serviceId, environmentId)


def _tags(group_by, svc: Service | None, env_id: str | None) -> dict:
    tags: dict[str, Any] = {
        k: None
        for k in (
            "deploymentId",
            "deploymentInstanceId",
            "environmentId",
            "projectId",
            "region",
            "serviceId",
            "volumeId",
            "volumeInstanceId",
        )
    }
    groups = set(group_by or ())
    if svc is not None:
        if "PROJECT_ID" in groups:
            tags["projectId"] = svc.project_id
        if "SERVICE_ID" in groups:
            tags["serviceId"] = svc.id
        if "ENVIRONMENT_ID" in groups:
            tags["environmentId"] = env_id
    return tags


def _group_key(group_by, svc: Service, env_id: str) -> tuple:
    groups = set(group_by or ())
    return (
        svc.project_id if "PROJECT_ID" in groups else None,
        svc.id if "SERVICE_ID" in groups else None,
        env_id if "ENVIRONMENT_ID" in groups else None,
    )


def q_metrics(
    w: World,
    measurements,
    startDate,
    endDate=None,
    projectId=None,
    environmentId=None,
    serviceId=None,
    workspaceId=None,
    groupBy=None,
    sampleRateSeconds=None,
    averagingWindowSeconds=None,
    includeDeleted=None,
    volumeId=None,
    volumeInstanceExternalId=None,
):
    now = w.now()
    start = parse_dt(startDate)
    end = min(parse_dt(endDate) or now, now)
    step = max(int(sampleRateSeconds or 60), 1)
    if end > start and (end - start) / step > 2000:  # keep answers bounded
        step = int((end - start) / 2000) + 1
    pairs = w.scoped_services(
        project_id=projectId,
        service_id=serviceId,
        environment_id=environmentId,
        workspace_id=workspaceId,
        include_deleted=bool(includeDeleted),
    )
    first_ts = int(math.ceil(start / step) * step)  # samples on the step grid in [start, end)
    stamps = list(range(first_ts, int(math.ceil(end)), step))
    groups: dict[tuple, list[tuple[Service, str, list]]] = {}
    for svc, env_id in pairs:
        spans = w.service_spans(svc, env_id, end)
        groups.setdefault(_group_key(groupBy, svc, env_id), []).append((svc, env_id, spans))
    out = []
    for _key, members in groups.items():
        svc0, env0, _ = members[0]
        for measurement in measurements:
            values = []
            for ts in stamps:
                total, running = 0.0, False
                for svc, _env, spans in members:
                    if any(a <= ts < b for a, b in spans):
                        running = True
                        total += w.metric_value(svc, measurement, ts, step)
                if running:
                    values.append({"ts": ts, "value": total})
            out.append(
                {"measurement": measurement, "tags": _tags(groupBy, svc0, env0), "values": values}
            )
    return out


def _minutes(spans, start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans) / 60.0


def q_usage(
    w: World,
    measurements,
    projectId=None,
    workspaceId=None,
    startDate=None,
    endDate=None,
    groupBy=None,
    includeDeleted=None,
):
    now = w.now()
    start = parse_dt(startDate) if startDate else month_start(now)
    end = min(parse_dt(endDate) or now, now)
    if projectId is None and workspaceId is None:
        workspaceId = w.home_workspace()
    elif workspaceId is not None:
        w.home_workspace(workspaceId)
    pairs = w.scoped_services(
        project_id=projectId, workspace_id=workspaceId, include_deleted=includeDeleted is not False
    )
    totals: dict[tuple, dict[str, float]] = {}
    samples: dict[tuple, tuple[Service, str]] = {}
    for svc, env_id in pairs:
        minutes = _minutes(w.service_spans(svc, env_id, end), start, end)
        key = _group_key(groupBy, svc, env_id)
        samples.setdefault(key, (svc, env_id))
        bucket = totals.setdefault(key, {m: 0.0 for m in measurements})
        for m in measurements:
            bucket[m] += w.usage_value(svc, m, minutes)
    out = []
    for key, bucket in totals.items():
        svc, env_id = samples[key]
        for m, value in bucket.items():
            out.append(
                {"measurement": m, "value": round(value, 6), "tags": _tags(groupBy, svc, env_id)}
            )
    return out


def q_estimated_usage(
    w: World, measurements, projectId=None, workspaceId=None, includeDeleted=None
):
    now = w.now()
    start, end_of_period = month_start(now), month_end(now)
    if projectId is None and workspaceId is None:
        workspaceId = w.home_workspace()
    elif workspaceId is not None:
        w.home_workspace(workspaceId)
    pairs = w.scoped_services(
        project_id=projectId, workspace_id=workspaceId, include_deleted=includeDeleted is not False
    )
    per_project: dict[str, dict[str, float]] = {}
    for svc, env_id in pairs:
        spans = w.service_spans(svc, env_id, now)
        so_far = _minutes(spans, start, now)
        running_now = (
            any(a <= now <= b + 1 for a, b in spans)
            and w.projects[svc.project_id].deleted_at is None
        )
        ahead = (end_of_period - now) / 60.0 if running_now else 0.0
        bucket = per_project.setdefault(svc.project_id, {m: 0.0 for m in measurements})
        for m in measurements:
            bucket[m] += w.usage_value(svc, m, so_far + ahead)
    return [
        {"measurement": m, "estimatedValue": round(v, 6), "projectId": pid}
        for pid, bucket in per_project.items()
        for m, v in bucket.items()
    ]


# -- mutations -------------------------------------------------------------------------------


def m_project_create(w: World, input):
    p = w.create_project(
        input.get("name"),
        input.get("description"),
        input.get("workspaceId"),
        input.get("defaultEnvironmentName"),
    )
    return project_obj(w, p)


def m_project_delete(w: World, id):
    w.delete_project(id)
    return True


def m_template_deploy_v2(w: World, input):
    wf = w.deploy_template(
        input["templateId"],
        input["serializedConfig"],
        input.get("projectId"),
        input.get("environmentId"),
        input.get("workspaceId"),
        bool(input.get("stageOnly")),
    )
    return {"projectId": wf.project_id, "workflowId": wf.id}


def m_deployment_redeploy(w: World, id, usePreviousImageTag=None):
    return deployment_obj(w, w.redeploy(w.deployment(id)))


def m_deployment_restart(w: World, id):
    w.restart(w.deployment(id))
    return True


def m_deployment_stop(w: World, id):
    w.stop(w.deployment(id))
    return True


def m_deployment_remove(w: World, id):
    w.remove(w.deployment(id))
    return True


def m_service_instance_redeploy(w: World, environmentId, serviceId):
    svc = w.service(serviceId)
    w.environment(environmentId, svc.project_id)
    latest = w.latest_deployment(svc.id, environmentId)
    if latest is None:
        raise ApiError("No deployment found for this service")
    w.redeploy(latest)
    return True


def m_service_instance_deploy_v2(w: World, environmentId, serviceId, commitSha=None):
    """A new deployment of the service from its source (works when the latest deployment
    cannot be redeployed); answers the new deployment's id."""
    svc = w.service(serviceId)
    w.environment(environmentId, svc.project_id)
    return w.new_deployment(svc, environmentId).id


def m_variable_collection_upsert(w: World, input):
    w.upsert_variables(
        input["projectId"],
        input["environmentId"],
        input.get("serviceId"),
        input["variables"],
        bool(input.get("replace")),
        bool(input.get("skipDeploys")),
    )
    return True


def m_service_domain_create(w: World, input):
    return service_domain_obj(
        w.create_service_domain(input["environmentId"], input["serviceId"], input.get("targetPort"))
    )


def m_service_create(w: World, input):
    source = input.get("source") or {}
    svc = w.create_service(
        input["projectId"],
        name=input.get("name"),
        environment_id=input.get("environmentId"),
        image=source.get("image"),
        repo=source.get("repo"),
        icon=input.get("icon"),
        variables=input.get("variables"),
        template_id=input.get("templateId"),
        template_service_id=input.get("templateServiceId"),
    )
    return service_obj(w, svc)


def m_custom_domain_create(w: World, input):
    return custom_domain_obj(
        w,
        w.create_custom_domain(
            input["projectId"],
            input["environmentId"],
            input["serviceId"],
            input["domain"],
            input.get("targetPort"),
        ),
    )


_QUERY = {
    "template": q_template,
    "project": q_project,
    "projects": q_projects,
    "environment": q_environment,
    "service": q_service,
    "serviceInstance": q_service_instance,
    "deployment": q_deployment,
    "deployments": q_deployments,
    "workflowStatus": q_workflow_status,
    "deploymentLogs": q_deployment_logs,
    "buildLogs": q_build_logs,
    "variables": q_variables,
    "domains": q_domains,
    "metrics": q_metrics,
    "usage": q_usage,
    "estimatedUsage": q_estimated_usage,
}
_MUTATION = {
    "projectCreate": m_project_create,
    "projectDelete": m_project_delete,
    "templateDeployV2": m_template_deploy_v2,
    "deploymentRedeploy": m_deployment_redeploy,
    "deploymentRestart": m_deployment_restart,
    "deploymentStop": m_deployment_stop,
    "deploymentRemove": m_deployment_remove,
    "serviceInstanceRedeploy": m_service_instance_redeploy,
    "serviceInstanceDeployV2": m_service_instance_deploy_v2,
    "variableCollectionUpsert": m_variable_collection_upsert,
    "serviceDomainCreate": m_service_domain_create,
    "customDomainCreate": m_custom_domain_create,
    "serviceCreate": m_service_create,
}
