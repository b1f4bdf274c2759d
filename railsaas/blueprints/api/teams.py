"""/api/workspaces: the caller's workspaces, their members and invitations; and
/api/invitations/accept.

A route under /api/workspaces/<id> acts in workspace <id>: the caller must belong to it (404
otherwise, and for a token bound to another workspace), and the RLS context is bound to it
for the request. teams.service authorizes the caller's role there. Membership changes need
a token's "admin" scope.
"""

from __future__ import annotations

import uuid

from flask import g, url_for

from railsaas import context
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.guard import current_principal
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate_items
from railsaas.errors import Forbidden, NotFound
from railsaas.extensions import db
from railsaas.schemas.common import Page, PageQuery
from railsaas.schemas.teams import (
    AcceptRequest,
    InvitationCreate,
    InvitationOut,
    MemberOut,
    MemberUpdate,
    TransferRequest,
    WorkspaceCreate,
    WorkspaceOut,
    WorkspaceUpdate,
)
from railsaas.teams import service as teams

TAGS = ["workspaces"]


def _bind(workspace_id: uuid.UUID) -> context.Workspace:
    """Act in workspace `workspace_id` for the rest of the request."""
    bound = current_principal().tenant_id
    if bound is not None and bound != workspace_id:
        raise NotFound("No such workspace.")
    if g.workspace is not None and g.workspace.id == workspace_id:
        return g.workspace  # the guard selected and bound it already: no second lookup
    workspace = teams.find_workspace(db.session, g.user.id, workspace_id)
    context.bind(g.user, workspace)
    return workspace


def _no_other_workspace(what: str) -> None:
    if current_principal().tenant_id is not None:
        raise Forbidden(f"This token belongs to one workspace: it cannot {what}.")


def _members(workspace: context.Workspace, query: PageQuery) -> Page[MemberOut]:
    page = paginate_items(
        teams.list_members(db.session, workspace), query, key=lambda m: (m.joined_at, m.user_id)
    )
    return Page[MemberOut](items=[MemberOut.of(m) for m in page.rows], next_cursor=page.next_cursor)


def _invitation(inv) -> InvitationOut:
    return InvitationOut.of(inv, teams.invitation_state(inv))


# --- workspaces -------------------------------------------------------------------------------


@bp.get("/workspaces")
@operation(query=PageQuery, responses={200: Page[WorkspaceOut]}, tags=TAGS)
def workspaces_index(query: PageQuery):
    """List your workspaces, with your role in each.

    A personal token sees only its own workspace."""
    bound = current_principal().tenant_id
    items = [
        (t, role)
        for t, role in teams.list_workspaces(db.session, g.user.id)
        if bound is None or t.id == bound
    ]
    page = paginate_items(items, query, key=lambda item: (item[0].created_at, item[0].id))
    return Page[WorkspaceOut](
        items=[WorkspaceOut.of(t, role) for t, role in page.rows], next_cursor=page.next_cursor
    )


@bp.post("/workspaces")
@operation(
    scope="admin", body=WorkspaceCreate, responses={201: WorkspaceOut}, errors=(402,), tags=TAGS
)
def workspaces_create(body: WorkspaceCreate):
    """Create a workspace: you are its owner.

    It has its own members, instances, subscription and spend cap. 402 when you already own
    the most workspaces one person may."""
    _no_other_workspace("create others")
    workspace = teams.create_workspace(db.session, g.user, body.name)
    db.session.commit()
    return (
        WorkspaceOut.of(workspace.tenant, workspace.role),
        201,
        {"Location": url_for("api.workspaces_show", workspace_id=workspace.id)},
    )


@bp.get("/workspaces/current")
@operation(responses={200: WorkspaceOut}, tags=TAGS)
def workspaces_current():
    """The workspace this request acts in.

    `X-Workspace-ID`, else a personal token's own workspace, else your first."""
    workspace = teams.show_workspace(g.get("workspace"))
    return WorkspaceOut.of(workspace.tenant, workspace.role)


@bp.get("/workspaces/<uuid:workspace_id>")
@operation(responses={200: WorkspaceOut}, tags=TAGS)
def workspaces_show(workspace_id: uuid.UUID):
    """One of your workspaces, with your role in it."""
    workspace = teams.show_workspace(_bind(workspace_id))
    return WorkspaceOut.of(workspace.tenant, workspace.role)


@bp.patch("/workspaces/<uuid:workspace_id>")
@operation(scope="admin", body=WorkspaceUpdate, responses={200: WorkspaceOut}, tags=TAGS)
def workspaces_update(workspace_id: uuid.UUID, body: WorkspaceUpdate):
    """Rename a workspace (owners and admins)."""
    workspace = _bind(workspace_id)
    tenant = teams.rename_workspace(db.session, workspace, g.user.id, body.name)
    db.session.commit()
    return WorkspaceOut.of(tenant, workspace.role)


@bp.delete("/workspaces/<uuid:workspace_id>")
@operation(scope="admin", responses={204: None}, errors=(409,), tags=TAGS)
def workspaces_delete(workspace_id: uuid.UUID):
    """Delete a workspace (owners).

    409 while it still has instances or a subscription that bills. Members lose access at
    once; its rows stay for billing history and the audit log."""
    teams.delete_workspace(db.session, _bind(workspace_id), g.user.id)
    db.session.commit()
    return None


@bp.post("/workspaces/<uuid:workspace_id>/leave")
@operation(scope="admin", responses={204: None}, errors=(409,), tags=TAGS)
def workspaces_leave(workspace_id: uuid.UUID):
    """Leave a workspace.

    409 for its last owner: make someone else owner first, or delete the workspace."""
    teams.leave(db.session, _bind(workspace_id), g.user.id)
    db.session.commit()
    return None


@bp.post("/workspaces/<uuid:workspace_id>/transfer")
@operation(
    scope="admin", body=TransferRequest, responses={200: Page[MemberOut]}, errors=(409,), tags=TAGS
)
def workspaces_transfer(workspace_id: uuid.UUID, body: TransferRequest):
    """Transfer ownership to another member (owners): they become owner, you admin.

    Answers the first page of members. 409 when the new owner has not confirmed their
    email address."""
    workspace = _bind(workspace_id)
    teams.transfer_ownership(db.session, workspace, g.user.id, body.user_id)
    db.session.commit()
    return _members(workspace, PageQuery())


# --- members ----------------------------------------------------------------------------------


@bp.get("/workspaces/<uuid:workspace_id>/members")
@operation(query=PageQuery, responses={200: Page[MemberOut]}, tags=TAGS)
def members_index(workspace_id: uuid.UUID, query: PageQuery):
    """List the workspace's members, newest first."""
    return _members(_bind(workspace_id), query)


@bp.patch("/workspaces/<uuid:workspace_id>/members/<uuid:user_id>")
@operation(scope="admin", body=MemberUpdate, responses={200: MemberOut}, errors=(409,), tags=TAGS)
def members_update(workspace_id: uuid.UUID, user_id: uuid.UUID, body: MemberUpdate):
    """Change a member's role (owners and admins; the owner role only by owners).

    409 when it would leave the workspace without an owner."""
    workspace = _bind(workspace_id)
    teams.change_role(db.session, workspace, g.user.id, user_id, body.role)
    db.session.commit()
    member = next(m for m in teams.list_members(db.session, workspace) if m.user_id == user_id)
    return MemberOut.of(member)


@bp.delete("/workspaces/<uuid:workspace_id>/members/<uuid:user_id>")
@operation(scope="admin", responses={204: None}, errors=(409,), tags=TAGS)
def members_delete(workspace_id: uuid.UUID, user_id: uuid.UUID):
    """Remove a member (owners and admins; owners only by owners). Yourself: you leave.

    Their API tokens for the workspace stop working. 409 for the last owner."""
    teams.remove_member(db.session, _bind(workspace_id), g.user.id, user_id)
    db.session.commit()
    return None


# --- invitations ------------------------------------------------------------------------------


@bp.get("/workspaces/<uuid:workspace_id>/invitations")
@operation(query=PageQuery, responses={200: Page[InvitationOut]}, tags=TAGS)
def invitations_index(workspace_id: uuid.UUID, query: PageQuery):
    """List invitations not yet accepted or withdrawn (owners and admins)."""
    items = teams.list_invitations(db.session, _bind(workspace_id))
    page = paginate_items(items, query, key=lambda i: (i.created_at, i.id))
    return Page[InvitationOut](
        items=[_invitation(i) for i in page.rows], next_cursor=page.next_cursor
    )


@bp.post("/workspaces/<uuid:workspace_id>/invitations")
@operation(
    scope="admin",
    body=InvitationCreate,
    responses={201: InvitationOut},
    errors=(402, 409),
    tags=TAGS,
)
def invitations_create(workspace_id: uuid.UUID, body: InvitationCreate):
    """Invite someone by email (owners and admins; an owner only by owners).

    The link goes to their inbox only, never into this answer. 409 for a member or an
    address already invited; 402 past the limit of pending invitations; 429 past the
    workspace's daily number of invitation emails."""
    workspace = _bind(workspace_id)
    inv = teams.invite(db.session, workspace, g.user.id, email=body.email, role=body.role)
    db.session.commit()
    return _invitation(inv), 201


@bp.delete("/workspaces/<uuid:workspace_id>/invitations/<uuid:invitation_id>")
@operation(scope="admin", responses={204: None}, errors=(409,), tags=TAGS)
def invitations_revoke(workspace_id: uuid.UUID, invitation_id: uuid.UUID):
    """Withdraw an invitation: its link stops working. 409 if it was already accepted."""
    teams.revoke_invitation(db.session, _bind(workspace_id), g.user.id, invitation_id)
    db.session.commit()
    return None


@bp.post("/workspaces/<uuid:workspace_id>/invitations/<uuid:invitation_id>/resend")
@operation(scope="admin", responses={200: InvitationOut}, errors=(409,), tags=TAGS)
def invitations_resend(workspace_id: uuid.UUID, invitation_id: uuid.UUID):
    """Email an invitation again with a fresh link, valid for the full period again.

    The previous link stops working. 409 once accepted or withdrawn; 429 within a minute of
    the last sending."""
    inv = teams.resend_invitation(db.session, _bind(workspace_id), g.user.id, invitation_id)
    db.session.commit()
    return _invitation(inv)


@bp.post("/invitations/accept")
@operation(scope="admin", body=AcceptRequest, responses={200: WorkspaceOut}, tags=TAGS)
def invitations_accept(body: AcceptRequest):
    """Accept an invitation to your (confirmed) email address, and join its workspace.

    400 for a link that is invalid, expired, withdrawn or used; 403 when the invitation is
    for another address, or yours is not confirmed yet."""
    _no_other_workspace("join others")
    membership = teams.accept(db.session, body.token, g.user)
    db.session.commit()
    workspace = teams.find_workspace(db.session, g.user.id, membership.tenant_id)
    return WorkspaceOut.of(workspace.tenant, workspace.role)
