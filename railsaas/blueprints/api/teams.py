"""/api/workspaces: the caller's workspaces, their members and invitations; and
/api/invitations/accept.

A route under /api/workspaces/<id> acts in workspace <id>: the caller must belong to it (404
otherwise, and for a token bound to another workspace), and the RLS context is bound to it
for the request. services.teams authorizes the caller's role there.
"""

from __future__ import annotations

import uuid

from flask import g

from railsaas import context
from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required, current_principal
from railsaas.blueprints.api.validation import dump, parse_body
from railsaas.errors import Forbidden, NotFound
from railsaas.extensions import db
from railsaas.schemas.teams import (
    AcceptRequest,
    InvitationCreate,
    InvitationList,
    InvitationOut,
    MemberList,
    MemberOut,
    MemberUpdate,
    TransferRequest,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceOut,
    WorkspaceUpdate,
)
from railsaas.services import teams
from railsaas.services.permissions import authorize

READ, ADMIN = "read", "admin"  # API token scopes (read < deploy < admin)


def _bind(workspace_id: uuid.UUID) -> context.Workspace:
    """Act in workspace `workspace_id` for the rest of the request."""
    bound = current_principal().tenant_id
    if bound is not None and bound != workspace_id:
        raise NotFound("No such workspace.")
    workspace = teams.find_workspace(db.session, g.user.id, workspace_id)
    context.bind(g.user, workspace)
    return workspace


def _members(workspace: context.Workspace) -> dict:
    return dump(MemberList(members=[MemberOut.of(m) for m in
                                    teams.list_members(db.session, workspace)]))


def _invitation(inv) -> dict:
    return dump(InvitationOut.of(inv, teams.invitation_state(inv)))


# --- workspaces -------------------------------------------------------------------------------

@bp.get("/workspaces")
@api_login_required(scope=READ)
def workspaces_index():
    bound = current_principal().tenant_id
    items = [WorkspaceOut.of(t, role) for t, role in teams.list_workspaces(db.session, g.user.id)
             if bound is None or t.id == bound]
    return dump(WorkspaceList(workspaces=items))


@bp.post("/workspaces")
@api_login_required(scope=ADMIN)
def workspaces_create():
    if current_principal().tenant_id is not None:
        raise Forbidden("This token belongs to one workspace: it cannot create others.")
    body = parse_body(WorkspaceCreate)
    workspace = teams.create_workspace(db.session, g.user, body.name)
    db.session.commit()
    return dump(WorkspaceOut.of(workspace.tenant, workspace.role)), 201, {
        "Location": f"/api/workspaces/{workspace.id}"}


@bp.get("/workspaces/current")
@api_login_required(scope=READ)
def workspaces_current():
    """The workspace this request acts in: X-Workspace-ID, the token's own, or your first."""
    workspace = g.get("workspace")
    authorize(workspace, "workspace.view")
    return dump(WorkspaceOut.of(workspace.tenant, workspace.role))


@bp.get("/workspaces/<uuid:workspace_id>")
@api_login_required(scope=READ)
def workspaces_show(workspace_id: uuid.UUID):
    workspace = _bind(workspace_id)
    authorize(workspace, "workspace.view")
    return dump(WorkspaceOut.of(workspace.tenant, workspace.role))


@bp.patch("/workspaces/<uuid:workspace_id>")
@api_login_required(scope=ADMIN)
def workspaces_update(workspace_id: uuid.UUID):
    workspace = _bind(workspace_id)
    body = parse_body(WorkspaceUpdate)
    tenant = teams.rename_workspace(db.session, workspace, g.user.id, body.name)
    db.session.commit()
    return dump(WorkspaceOut.of(tenant, workspace.role))


@bp.delete("/workspaces/<uuid:workspace_id>")
@api_login_required(scope=ADMIN)
def workspaces_delete(workspace_id: uuid.UUID):
    teams.delete_workspace(db.session, _bind(workspace_id), g.user.id)
    db.session.commit()
    return "", 204


@bp.post("/workspaces/<uuid:workspace_id>/leave")
@api_login_required(scope=ADMIN)
def workspaces_leave(workspace_id: uuid.UUID):
    teams.leave(db.session, _bind(workspace_id), g.user.id)
    db.session.commit()
    return "", 204


@bp.post("/workspaces/<uuid:workspace_id>/transfer")
@api_login_required(scope=ADMIN)
def workspaces_transfer(workspace_id: uuid.UUID):
    workspace = _bind(workspace_id)
    body = parse_body(TransferRequest)
    teams.transfer_ownership(db.session, workspace, g.user.id, body.user_id)
    db.session.commit()
    return _members(workspace)


# --- members ----------------------------------------------------------------------------------

@bp.get("/workspaces/<uuid:workspace_id>/members")
@api_login_required(scope=READ)
def members_index(workspace_id: uuid.UUID):
    return _members(_bind(workspace_id))


@bp.patch("/workspaces/<uuid:workspace_id>/members/<uuid:user_id>")
@api_login_required(scope=ADMIN)
def members_update(workspace_id: uuid.UUID, user_id: uuid.UUID):
    workspace = _bind(workspace_id)
    body = parse_body(MemberUpdate)
    teams.change_role(db.session, workspace, g.user.id, user_id, body.role)
    db.session.commit()
    member = next(m for m in teams.list_members(db.session, workspace) if m.user_id == user_id)
    return dump(MemberOut.of(member))


@bp.delete("/workspaces/<uuid:workspace_id>/members/<uuid:user_id>")
@api_login_required(scope=ADMIN)
def members_delete(workspace_id: uuid.UUID, user_id: uuid.UUID):
    teams.remove_member(db.session, _bind(workspace_id), g.user.id, user_id)
    db.session.commit()
    return "", 204


# --- invitations ------------------------------------------------------------------------------

@bp.get("/workspaces/<uuid:workspace_id>/invitations")
@api_login_required(scope=READ)
def invitations_index(workspace_id: uuid.UUID):
    items = teams.list_invitations(db.session, _bind(workspace_id))
    return dump(InvitationList(invitations=[
        InvitationOut.of(i, teams.invitation_state(i)) for i in items]))


@bp.post("/workspaces/<uuid:workspace_id>/invitations")
@api_login_required(scope=ADMIN)
def invitations_create(workspace_id: uuid.UUID):
    workspace = _bind(workspace_id)
    body = parse_body(InvitationCreate)
    inv = teams.invite(db.session, workspace, g.user.id, email=body.email, role=body.role)
    db.session.commit()
    return _invitation(inv), 201


@bp.delete("/workspaces/<uuid:workspace_id>/invitations/<uuid:invitation_id>")
@api_login_required(scope=ADMIN)
def invitations_revoke(workspace_id: uuid.UUID, invitation_id: uuid.UUID):
    teams.revoke_invitation(db.session, _bind(workspace_id), g.user.id, invitation_id)
    db.session.commit()
    return "", 204


@bp.post("/workspaces/<uuid:workspace_id>/invitations/<uuid:invitation_id>/resend")
@api_login_required(scope=ADMIN)
def invitations_resend(workspace_id: uuid.UUID, invitation_id: uuid.UUID):
    inv = teams.resend_invitation(db.session, _bind(workspace_id), g.user.id, invitation_id)
    db.session.commit()
    return _invitation(inv)


@bp.post("/invitations/accept")
@api_login_required(scope=ADMIN)
def invitations_accept():
    if current_principal().tenant_id is not None:
        raise Forbidden("This token belongs to one workspace: it cannot join others.")
    body = parse_body(AcceptRequest)
    membership = teams.accept(db.session, body.token, g.user)
    db.session.commit()
    workspace = teams.find_workspace(db.session, g.user.id, membership.tenant_id)
    return dump(WorkspaceOut.of(workspace.tenant, workspace.role))
