"""The template catalog over JSON: public reads, admin writes; deploy a template."""

from __future__ import annotations

import uuid

from flask import g, url_for

from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.instances import create_from_body
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate_items
from railsaas.blueprints.api.workspace_access import api_tenant_id
from railsaas.catalog import templates as catalog
from railsaas.extensions import db
from railsaas.schemas.instances import InstanceCreate, InstanceOut
from railsaas.schemas.templates import (
    TemplateCreate,
    TemplateOut,
    TemplatePage,
    TemplateQuery,
    TemplateUpdate,
)


@bp.get("/templates")
@operation(auth="public", query=TemplateQuery, responses={200: TemplatePage}, tags=["templates"])
def templates_index(query: TemplateQuery):
    """Browse the active catalog, newest first; filter by words and category."""
    items = [
        TemplateOut.model_validate(t)
        for t in catalog.search(
            db.session,
            q=(query.q or "").strip() or None,
            category=(query.category or "").strip() or None,
        )
    ]
    page = paginate_items(items, query, key=lambda t: (t.created_at, t.id))
    return TemplatePage(
        items=page.rows, next_cursor=page.next_cursor, categories=catalog.categories(db.session)
    )


@bp.get("/templates/<uuid:template_id>")
@operation(auth="public", responses={200: TemplateOut}, tags=["templates"])
def templates_show(template_id: uuid.UUID):
    """One active template, with the variables a deploy asks for."""
    return TemplateOut.model_validate(catalog.get_public(db.session, template_id))


@bp.post("/templates")
@operation(
    auth="admin",
    body=TemplateCreate,
    responses={201: TemplateOut},
    errors=(409,),
    tags=["templates"],
)
def templates_create(body: TemplateCreate):
    """Add a template to the catalog (platform admins)."""
    t = catalog.create_template(db.session, body.model_dump(exclude_unset=True))
    db.session.commit()
    return (
        TemplateOut.model_validate(catalog.template_dict(t)),
        201,
        {"Location": url_for("api.templates_show", template_id=t.id)},
    )


@bp.put("/templates/<uuid:template_id>")
@operation(
    auth="admin",
    body=TemplateUpdate,
    responses={200: TemplateOut},
    errors=(409,),
    tags=["templates"],
)
def templates_update(template_id: uuid.UUID, body: TemplateUpdate):
    """Change a template (platform admins); fields left out stay as they are."""
    t = catalog.update_template(db.session, template_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return TemplateOut.model_validate(catalog.template_dict(t))


@bp.delete("/templates/<uuid:template_id>")
@operation(auth="admin", responses={200: TemplateOut}, tags=["templates"])
def templates_delete(template_id: uuid.UUID):
    """Take a template out of the catalog (platform admins).

    It is deactivated, not deleted: instances still refer to it."""
    t = catalog.deactivate_template(db.session, template_id)
    db.session.commit()
    return TemplateOut.model_validate(catalog.template_dict(t))


@bp.post("/templates/deploy")
@operation(
    scope="deploy",
    body=InstanceCreate,
    responses={202: InstanceOut},
    errors=(402, 409),
    tags=["templates"],
)
def templates_deploy(body: InstanceCreate):
    """Deploy a template (the same as POST /api/instances)."""
    return create_from_body(api_tenant_id(), g.user.id, body)
