"""/api/admin/acquisition-spend: acquisition spend per month and channel (platform admins)."""

from __future__ import annotations

from flask import g

from railsaas.acquisition import spend
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate
from railsaas.extensions import db
from railsaas.models import AcquisitionSpend
from railsaas.schemas.acquisition import SpendCreate, SpendOut
from railsaas.schemas.common import Page, PageQuery


@bp.get("/admin/acquisition-spend")
@operation(auth="admin", query=PageQuery, responses={200: Page[SpendOut]}, tags=["admin"])
def spend_index(query: PageQuery):
    """List acquisition spend entries (platform admins).

    Newest entry first. The metrics page divides each month's and channel's spend by the
    paying workspaces it brought (CAC)."""
    page = paginate(db.session, spend.query(g.user), AcquisitionSpend, query)
    return Page[SpendOut](
        items=[SpendOut.model_validate(r) for r in page.rows], next_cursor=page.next_cursor
    )


@bp.post("/admin/acquisition-spend")
@operation(auth="admin", body=SpendCreate, responses={201: SpendOut}, tags=["admin"])
def spend_create(body: SpendCreate):
    """Record an amount spent in a month through a channel (platform admins).

    Two entries for one month and channel add up. A negative or fractional amount, a month
    in the future or not YYYY-MM, or a channel no utm_source could name is a 422 naming the
    field; nothing is written."""
    row = spend.record(db.session, g.user, spend.parse(body.model_dump()))
    db.session.commit()
    return SpendOut.model_validate(row), 201


@bp.delete("/admin/acquisition-spend/<int:spend_id>")
@operation(auth="admin", responses={204: None}, tags=["admin"])
def spend_delete(spend_id: int):
    """Delete an acquisition spend entry (platform admins)."""
    spend.delete(db.session, g.user, spend_id)
    db.session.commit()
    return None
