"""Instances over JSON: list, create (202: the deploy runs in the background), read, change,
delete, and the statuses of the caller's workspace in one call."""

from __future__ import annotations

import uuid

from flask import g, url_for

from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate
from railsaas.blueprints.api.workspace_access import api_tenant_id
from railsaas.extensions import db
from railsaas.instances import lifecycle as instances
from railsaas.models import Instance
from railsaas.schemas.common import Page, PageQuery
from railsaas.schemas.instances import (
    InstanceCreate,
    InstanceOut,
    InstanceQuery,
    InstanceStatus,
    InstanceUpdate,
)


def _one(tenant_id: uuid.UUID, instance_id) -> InstanceOut:
    inst = instances.get_for_tenant(db.session, tenant_id, instance_id)
    last = instances.last_steps(db.session, [inst.id]).get(inst.id)
    return InstanceOut.model_validate(instances.instance_dict(inst, last))


def create_from_body(tenant_id: uuid.UUID, user_id: uuid.UUID, body: InstanceCreate):
    inst = instances.create_instance(
        db.session,
        tenant_id=tenant_id,
        user_id=user_id,
        template_id=body.template_id,
        name=body.name,
        variables=body.variables,
        actor=g.workspace,
    )
    db.session.commit()
    return (
        _one(tenant_id, inst.id),
        202,
        {"Location": url_for("api.instances_show", instance_id=inst.id)},
    )


@bp.get("/instances")
@operation(query=InstanceQuery, responses={200: Page[InstanceOut]}, tags=["instances"])
def instances_index(query: InstanceQuery):
    """List the workspace's instances, newest first."""
    stmt = instances.list_query(
        api_tenant_id(),
        include_deleted=query.include_deleted,
        status=query.status,
        template_id=query.template_id,
    )
    page = paginate(db.session, stmt, Instance, query)
    last = instances.last_steps(db.session, [i.id for i in page.rows])
    return Page[InstanceOut](
        items=[
            InstanceOut.model_validate(instances.instance_dict(i, last.get(i.id)))
            for i in page.rows
        ],
        next_cursor=page.next_cursor,
    )


@bp.post("/instances")
@operation(
    scope="deploy",
    body=InstanceCreate,
    responses={202: InstanceOut},
    errors=(402, 409),
    tags=["instances"],
)
def instances_create(body: InstanceCreate):
    """Deploy a template as a new instance.

    The deploy continues in the background: follow it with GET /api/instances/{id} or
    /api/instances/status. 402 when the plan's limits stand in the way."""
    return create_from_body(api_tenant_id(), g.user.id, body)


@bp.get("/instances/status")
@operation(query=PageQuery, responses={200: Page[InstanceStatus]}, tags=["instances"])
def instances_status(query: PageQuery):
    """The status of every live instance of the workspace (cheap to poll)."""
    stmt = instances.list_query(api_tenant_id())
    page = paginate(db.session, stmt, Instance, query)
    return Page[InstanceStatus](
        items=[InstanceStatus.model_validate(instances.status_dict(i)) for i in page.rows],
        next_cursor=page.next_cursor,
    )


@bp.get("/instances/<uuid:instance_id>")
@operation(responses={200: InstanceOut}, tags=["instances"])
def instances_show(instance_id: uuid.UUID):
    """One instance, with its latest lifecycle step."""
    return _one(api_tenant_id(), instance_id)


@bp.put("/instances/<uuid:instance_id>")
@operation(
    scope="deploy",
    body=InstanceUpdate,
    responses={200: InstanceOut, 202: InstanceOut},
    errors=(402, 409),
    tags=["instances"],
)
def instances_update(instance_id: uuid.UUID, body: InstanceUpdate):
    """Rename, change variables, add a custom domain, or redeploy, restart, stop or start.

    Changing variables redeploys, so the change takes effect. 409 when the instance's state
    does not allow the change."""
    tenant_id = api_tenant_id()
    sent = body.model_fields_set
    instances.get_for_tenant(db.session, tenant_id, instance_id)  # 404 before anything else
    changed = False
    if "name" in sent:
        instances.rename(db.session, tenant_id, instance_id, body.name, actor=g.workspace)
    if "variables" in sent:
        instances.update_variables(
            db.session, tenant_id, instance_id, body.variables or {}, g.user.id, actor=g.workspace
        )
        changed = True
    if "custom_domain" in sent:
        instances.add_custom_domain(
            db.session, tenant_id, instance_id, body.custom_domain, g.user.id, actor=g.workspace
        )
        changed = True
    if body.action:
        instances.request_action(
            db.session, tenant_id, instance_id, body.action, g.user.id, actor=g.workspace
        )
        changed = True
    db.session.commit()
    return _one(tenant_id, instance_id), 202 if changed else 200


@bp.delete("/instances/<uuid:instance_id>")
@operation(scope="deploy", responses={202: InstanceOut}, errors=(409,), tags=["instances"])
def instances_delete(instance_id: uuid.UUID):
    """Delete an instance: its Railway project goes, the row stays (billing, audit)."""
    tenant_id = api_tenant_id()
    instances.request_action(
        db.session, tenant_id, instance_id, "delete", g.user.id, actor=g.workspace
    )
    db.session.commit()
    return _one(tenant_id, instance_id)
