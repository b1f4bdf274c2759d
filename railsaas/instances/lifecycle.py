"""Customer instances: deploy, manage, suspend. Business rules only; Railway is reached by the
`instances.run_step` task (railsaas.tasks.instances -> railsaas.instances.steps).

Every request that changes an instance writes a `deployments` row (the step: kind, status,
times) and an outbox row in the caller's transaction; the task performs the step after the
commit, by the step's id. A step is the unit of idempotency: a finished step is never rerun.

A person may run something on Railway only with a confirmed email address
(accounts.verification): every step a person asks for passes through `_new_step`, which
checks it, and the entry points check it first so the refusal comes before anything else.
Steps the platform takes itself (suspensions, billing holds) carry no user and are not
subject to it.

Every step that would run something on Railway (`RUNS_SOMETHING`) is refused in a held
workspace (`admission.check_can_run`), whatever the instance's status: the check sits in
`_new_step`, the one place steps are made, so no action can skip it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from railsaas.accounts.verification import require_verified
from railsaas.catalog.templates import get_active
from railsaas.catalog.variables import (
    check_railway_requirements,
    specs_of,
    validate_values,
)
from railsaas.errors import NotFound, ValidationFailed
from railsaas.instances import admission, domains, states
from railsaas.models import Deployment, Instance, Tenant
from railsaas.permissions import HasRole, authorize
from railsaas.platform import audit, outbox
from railsaas.railway import pool

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
STEP_TASK = "instances.run_step"
OPEN_STEP = ("queued", "in_progress")
# Statuses a suspension stops (a customer's own stop is left alone: resuming must not start
# what they stopped).
SUSPENDABLE = frozenset(
    {"running", "crashed", "failed", "deploying", "redeploying", "starting", "stopping"}
)
# Step kinds that start, deploy or change what runs on Railway: never in a held workspace.
# (stop, suspend and delete only ever take things down.)
RUNS_SOMETHING = frozenset(
    {"deploy", "redeploy", "restart", "start", "resume", "variables", "domain"}
)
STEP_FOR_ACTION = {
    "redeploy": ("redeploy", "redeploying"),
    "restart": ("restart", "redeploying"),
    "stop": ("stop", "stopping"),
    "start": ("start", "starting"),
    "delete": ("delete", "deleting"),
}


def now() -> datetime:
    return datetime.now(UTC)


# --- reads ------------------------------------------------------------------------------------


def parse_id(value: Any, what: str = "instance") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No such {what}.") from None


def get_for_tenant(
    session: Session, tenant_id: uuid.UUID, instance_id: Any, *, for_update: bool = False
) -> Instance:
    """One of the workspace's instances. Another workspace's id is simply not found."""
    stmt = select(Instance).where(
        Instance.id == parse_id(instance_id), Instance.tenant_id == tenant_id
    )
    if for_update:
        stmt = stmt.with_for_update(of=Instance)
    inst = session.scalar(stmt)
    if inst is None:
        raise NotFound("No such instance.")
    return inst


def list_for_tenant(
    session: Session, tenant_id: uuid.UUID, *, include_deleted: bool = False
) -> list[Instance]:
    stmt = select(Instance).where(Instance.tenant_id == tenant_id)
    if not include_deleted:
        stmt = stmt.where(Instance.status != "deleted")
    return list(session.scalars(stmt.order_by(Instance.created_at.desc())).unique())


def list_query(
    tenant_id: uuid.UUID,
    *,
    include_deleted: bool = False,
    status: str | None = None,
    template_id: uuid.UUID | None = None,
) -> Select:
    """The workspace's instances with the API's filters, unordered (the caller pages)."""
    stmt = select(Instance).where(Instance.tenant_id == tenant_id)
    if not include_deleted and status != "deleted":
        stmt = stmt.where(Instance.status != "deleted")
    if status is not None:
        stmt = stmt.where(Instance.status == status)
    if template_id is not None:
        stmt = stmt.where(Instance.template_id == template_id)
    return stmt


def status_dict(inst: Instance) -> dict[str, Any]:
    return {
        "id": str(inst.id),
        "name": inst.name,
        "status": inst.status,
        "status_reason": inst.status_reason,
        "domain": inst.domain,
        "settled": inst.status in states.SETTLED,
        "status_changed_at": inst.status_changed_at.isoformat() if inst.status_changed_at else None,
    }


def statuses(session: Session, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Instance.id,
            Instance.name,
            Instance.status,
            Instance.status_reason,
            Instance.domain,
            Instance.status_changed_at,
        )
        .where(Instance.tenant_id == tenant_id, Instance.status != "deleted")
        .order_by(Instance.created_at.desc())
    ).all()
    return [
        {
            "id": str(r.id),
            "name": r.name,
            "status": r.status,
            "status_reason": r.status_reason,
            "domain": r.domain,
            "settled": r.status in states.SETTLED,
            "status_changed_at": r.status_changed_at.isoformat() if r.status_changed_at else None,
        }
        for r in rows
    ]


def last_steps(session: Session, instance_ids: list[uuid.UUID]) -> dict[uuid.UUID, Deployment]:
    """The newest step of each instance, in one query (cards and lists show it)."""
    if not instance_ids:
        return {}
    rows = session.scalars(
        select(Deployment)
        .where(Deployment.instance_id.in_(instance_ids))
        .ext(distinct_on(Deployment.instance_id))
        .order_by(Deployment.instance_id, Deployment.created_at.desc())
    ).all()
    return {d.instance_id: d for d in rows}


def history(
    session: Session, tenant_id: uuid.UUID, instance_id: uuid.UUID, limit: int = 50
) -> list[Deployment]:
    return list(
        session.scalars(
            select(Deployment)
            .where(Deployment.tenant_id == tenant_id, Deployment.instance_id == instance_id)
            .order_by(Deployment.created_at.desc())
            .limit(limit)
        )
    )


def instance_dict(inst: Instance, last: Deployment | None = None) -> dict[str, Any]:
    """The API's view of an instance. Variables are listed by name only (secrets stay in)."""
    return {
        "id": str(inst.id),
        "name": inst.name,
        "status": inst.status,
        "status_reason": inst.status_reason,
        "template": {
            "id": str(inst.template_id),
            "name": inst.template.name if inst.template else None,
        },
        "domain": inst.domain,
        "custom_domain": inst.custom_domain,
        "custom_domain_dns": domains.instructions(inst),
        "variables": sorted((inst.config or {}).keys()),
        "created_at": inst.created_at.isoformat() if inst.created_at else None,
        "status_changed_at": inst.status_changed_at.isoformat() if inst.status_changed_at else None,
        "deleted_at": inst.deleted_at.isoformat() if inst.deleted_at else None,
        "last_deployment": step_dict(last) if last else None,
    }


def step_dict(d: Deployment) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "kind": d.kind,
        "status": d.status,
        "reason": d.reason,
        "started_at": d.started_at.isoformat() if d.started_at else None,
        "finished_at": d.finished_at.isoformat() if d.finished_at else None,
        "created_at": d.created_at.isoformat() if d.created_at else None,
    }


# --- deploy -----------------------------------------------------------------------------------


def _clean_name(name: Any) -> str:
    value = str(name or "").strip().lower()
    if not NAME_RE.match(value):
        raise ValidationFailed(
            "Choose another name.",
            details={"name": "Use 1-63 lowercase letters, digits and hyphens (not at either end)."},
        )
    return value


def _name_taken(
    session: Session, tenant_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> bool:
    stmt = select(Instance.id).where(
        Instance.tenant_id == tenant_id, Instance.name == name, Instance.status != "deleted"
    )
    if exclude is not None:
        stmt = stmt.where(Instance.id != exclude)
    return session.scalar(stmt) is not None


def _check_person(session: Session, user_id: uuid.UUID | None) -> None:
    """A person asking must have confirmed their address; the platform (None) need not."""
    if user_id is not None:
        require_verified(session, user_id)


def _fresh_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    """The workspace as committed now (a hold set since this request began counts)."""
    tenant = (
        session.scalars(
            select(Tenant).where(Tenant.id == tenant_id).execution_options(populate_existing=True)
        )
        .unique()
        .first()
    )
    if tenant is None:
        raise NotFound("No such workspace.")
    return tenant


def _new_step(
    session: Session,
    inst: Instance,
    kind: str,
    user_id: uuid.UUID | None,
    reason: str | None = None,
) -> Deployment:
    _check_person(session, user_id)
    if kind in RUNS_SOMETHING:
        admission.check_can_run(session, _fresh_tenant(session, inst.tenant_id))
    step = Deployment(
        tenant_id=inst.tenant_id,
        instance_id=inst.id,
        kind=kind,
        status="queued",
        triggered_by=user_id,
        reason=reason,
    )
    session.add(step)
    session.flush()
    outbox.enqueue(session, STEP_TASK, tenant_id=inst.tenant_id, step_id=step.id)
    return step


def _cancel_open_steps(session: Session, inst: Instance, reason: str) -> None:
    for step in session.scalars(
        select(Deployment).where(
            Deployment.instance_id == inst.id, Deployment.status.in_(OPEN_STEP)
        )
    ):
        step.status = "canceled"
        step.reason = reason
        step.finished_at = now()


def create_instance(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    template_id: Any,
    name: Any,
    variables: dict[str, Any] | None,
    actor: HasRole | None,
) -> Instance:
    """Validate, check limits, then write the instance, its first step and the outbox row in
    the caller's transaction. Nothing is created when anything is wrong. `actor`: the caller's
    workspace and role (context.Workspace)."""
    authorize(actor, "instance.deploy")
    _check_person(session, user_id)
    template = get_active(session, template_id)
    errors: dict[str, str] = {}
    try:
        clean = _clean_name(name)
    except ValidationFailed as exc:
        errors.update(exc.details)
        clean = None
    specs = specs_of(template.setup_config)
    message = "Some settings are not valid."
    try:
        values = validate_values(specs, variables)
        check_railway_requirements(template.serialized_config, specs, values)
    except ValidationFailed as exc:
        errors.update(exc.details)
        message = exc.message
    if errors:
        raise ValidationFailed(message, details=errors)
    # Lock the workspace so two deploys at once cannot both slip under the instance limit.
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update(of=Tenant))
    if tenant is None:
        raise NotFound("No such workspace.")
    admission.check_can_deploy(session, tenant, template)
    if _name_taken(session, tenant_id, clean):
        raise ValidationFailed(
            "Choose another name.", details={"name": "An instance with this name already exists."}
        )
    # Which Railway workspace: pinned, or the least loaded open one at the first deploy.
    railway_workspace_id = pool.place(session, tenant_id)
    inst = Instance(
        tenant_id=tenant_id,
        railway_workspace_id=railway_workspace_id,
        user_id=user_id,
        template_id=template.id,
        name=clean,
        status="requested",
        config=values,
        status_changed_at=now(),
        next_poll_at=now() + timedelta(seconds=30),
    )
    try:
        with session.begin_nested():
            session.add(inst)
            session.flush()
    except IntegrityError:
        raise ValidationFailed(
            "Choose another name.", details={"name": "An instance with this name already exists."}
        ) from None
    _new_step(session, inst, "deploy", user_id)
    audit.record(
        session,
        "instance.create",
        target_type="instance",
        target_id=inst.id,
        tenant_id=tenant_id,
        details={"template": template.name, "name": clean},
    )
    return inst


# --- actions ----------------------------------------------------------------------------------


def authorize_action(
    actor: HasRole | None, inst: Instance, action: str, user_id: uuid.UUID | None
) -> None:
    """Roles (railsaas.permissions): deleting is an admin's call, or a member's for an
    instance they deployed; the other actions are any editor's."""
    if action == "delete":
        authorize(actor, "instance.delete", owner_id=inst.user_id, user_id=user_id)
    else:
        authorize(actor, "instance.manage")


def request_action(
    session: Session,
    tenant_id: uuid.UUID,
    instance_id: Any,
    action: str,
    user_id: uuid.UUID | None,
    *,
    actor: HasRole | None,
) -> Instance:
    """redeploy, restart, stop, start or delete: the status changes now, Railway after commit."""
    if action not in STEP_FOR_ACTION:
        raise ValidationFailed("Unknown action.", details={"action": "is not an action"})
    inst = get_for_tenant(session, tenant_id, instance_id, for_update=True)
    authorize_action(actor, inst, action, user_id)
    _check_person(session, user_id)
    states.check_action(inst, action)
    if action == "start":
        admission.check_can_start(session, _fresh_tenant(session, tenant_id))
    kind, status = STEP_FOR_ACTION[action]
    if action == "delete":
        _cancel_open_steps(session, inst, "superseded by delete")
    states.transition(inst, status)
    inst.next_poll_at = now()
    _new_step(session, inst, kind, user_id)
    audit.record(
        session,
        f"instance.{action}",
        target_type="instance",
        target_id=inst.id,
        tenant_id=tenant_id,
    )
    return inst


def rename(
    session: Session, tenant_id: uuid.UUID, instance_id: Any, name: Any, *, actor: HasRole | None
) -> Instance:
    inst = get_for_tenant(session, tenant_id, instance_id, for_update=True)
    authorize(actor, "instance.manage")
    if inst.status == "deleted":
        raise NotFound("No such instance.")
    clean = _clean_name(name)
    if clean == inst.name:
        return inst
    if _name_taken(session, tenant_id, clean, exclude=inst.id):
        raise ValidationFailed(
            "Choose another name.", details={"name": "An instance with this name already exists."}
        )
    old, inst.name = inst.name, clean
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed(
            "Choose another name.", details={"name": "An instance with this name already exists."}
        ) from None
    audit.record(
        session,
        "instance.rename",
        target_type="instance",
        target_id=inst.id,
        tenant_id=tenant_id,
        details={"from": old, "to": clean},
    )
    return inst


def update_variables(
    session: Session,
    tenant_id: uuid.UUID,
    instance_id: Any,
    values: dict[str, Any],
    user_id: uuid.UUID | None,
    *,
    actor: HasRole | None,
) -> Instance:
    """Change some variables; the change takes effect by redeploying. Blank secret fields
    keep their value (the form never shows it)."""
    inst = get_for_tenant(session, tenant_id, instance_id, for_update=True)
    authorize(actor, "instance.variables.edit")
    _check_person(session, user_id)
    states.check_action(inst, "variables")
    specs = specs_of(inst.template.setup_config)
    secret_names = {s.name for s in specs if s.secret}
    sent = {
        k: v
        for k, v in (values or {}).items()
        if not (k in secret_names and (v is None or str(v).strip() == ""))
    }
    clean = validate_values(specs, sent, partial=True)
    # Clearing an optional variable removes it; a required one cannot be cleared.
    cleared = [k for k, v in sent.items() if k not in clean and (v is None or str(v).strip() == "")]
    changed = {k: v for k, v in clean.items() if (inst.config or {}).get(k) != v}
    if not changed and not any(k in (inst.config or {}) for k in cleared):
        return inst
    config = dict(inst.config or {})
    config.update(changed)
    for k in cleared:
        config.pop(k, None)
    inst.config = config
    if inst.status != "stopped":
        states.transition(inst, "redeploying")
        inst.next_poll_at = now()
    _new_step(session, inst, "variables", user_id)
    audit.record(
        session,
        "instance.variables",
        target_type="instance",
        target_id=inst.id,
        tenant_id=tenant_id,
        details={"changed": sorted(changed), "cleared": cleared},
    )
    return inst


def add_custom_domain(
    session: Session,
    tenant_id: uuid.UUID,
    instance_id: Any,
    domain: Any,
    user_id: uuid.UUID | None,
    *,
    actor: HasRole | None,
) -> Instance:
    inst = get_for_tenant(session, tenant_id, instance_id, for_update=True)
    authorize(actor, "instance.manage")
    _check_person(session, user_id)
    states.check_action(inst, "domain")
    value = str(domain or "").strip().lower().rstrip(".")
    if not DOMAIN_RE.match(value) or value.endswith((".railway.app", ".up.railway.app")):
        raise ValidationFailed(
            "Enter a domain you own.", details={"domain": "Enter a domain such as app.example.com."}
        )
    if value != inst.custom_domain:
        inst.custom_domain_dns = None  # Railway's records were for the old domain
    inst.custom_domain = value
    _new_step(session, inst, "domain", user_id)
    audit.record(
        session,
        "instance.domain",
        target_type="instance",
        target_id=inst.id,
        tenant_id=tenant_id,
        details={"domain": value},
    )
    return inst


def dns_instructions(inst: Instance) -> dict[str, Any] | None:
    """The DNS records a customer sets for their custom domain: Railway's own (a CNAME
    target chosen for that domain, an ownership TXT), each with its status, or a message
    while Railway has not answered. None without a custom domain (instances.domains)."""
    return domains.instructions(inst)


# --- billing: suspend and resume a whole workspace -------------------------------------------


def _move_all(
    session: Session,
    tenant_id: uuid.UUID,
    which,
    *,
    to: str,
    step: str,
    why: str,
    reason: str | None,
    action: str,
    poll_in: timedelta = timedelta(0),
) -> int:
    """Move the workspace's instances matching `which` (locked) to `to`, each with a `step`
    for the tasks to run on Railway, and audit the batch. Returns how many moved."""
    count = 0
    for inst in session.scalars(
        select(Instance).where(Instance.tenant_id == tenant_id, which).with_for_update(of=Instance)
    ):
        if not states.can(inst.status, to):
            continue
        _cancel_open_steps(session, inst, f"{why}: {reason}" if reason else why)
        states.transition(inst, to, reason or why)
        inst.next_poll_at = now() + poll_in
        _new_step(session, inst, step, None, reason=reason)
        count += 1
    if count:
        details: dict[str, Any] = {"count": count}
        if reason:
            details["reason"] = reason
        audit.record(
            session,
            action,
            target_type="tenant",
            target_id=tenant_id,
            tenant_id=tenant_id,
            details=details,
        )
    return count


def suspend_tenant_instances(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    """Stop every live instance of the workspace on Railway (billing, spend cap). They show
    as suspended at once; the stop happens in tasks. Returns how many were suspended."""
    return _move_all(
        session,
        tenant_id,
        Instance.status.in_(SUSPENDABLE),
        to="suspended",
        step="suspend",
        why="suspended",
        reason=reason,
        action="instance.suspend_all",
        poll_in=timedelta(minutes=5),
    )


def stop_instances(
    session: Session, tenant_id: uuid.UUID, instance_ids: list[uuid.UUID], reason: str
) -> int:
    """Stop these instances of the workspace, whatever they are doing (billing: a workspace
    over its plan's limit stops the ones its owner picked). Returns how many will stop."""
    return _move_all(
        session,
        tenant_id,
        Instance.id.in_(list(instance_ids)),
        to="stopping",
        step="stop",
        why="stopped",
        reason=reason,
        action="instance.stop_many",
    )


def delete_tenant_instances(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    """Delete every instance of the workspace (billing: unpaid past the deletion date).
    The rows stay, marked deleted once Railway's projects are gone."""
    return _move_all(
        session,
        tenant_id,
        Instance.status.notin_(("deleting", "deleted")),
        to="deleting",
        step="delete",
        why="deleted",
        reason=reason,
        action="instance.delete_all",
    )


def resume_tenant_instances(session: Session, tenant_id: uuid.UUID) -> int:
    """Start again what a suspension stopped (not what customers stopped themselves).
    Refused (LimitExceeded) while anything still holds the workspace."""
    admission.check_can_run(session, _fresh_tenant(session, tenant_id))
    return _move_all(
        session,
        tenant_id,
        Instance.status == "suspended",
        to="starting",
        step="resume",
        why="resumed",
        reason=None,
        action="instance.resume_all",
    )
