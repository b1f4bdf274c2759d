"""Who may do what in a workspace: one map from named actions to the roles allowed them.

Roles, from most to least powerful:
- owner:  billing, deleting the workspace, ownership, and everything an admin may do;
- admin:  members and invitations, and every instance;
- member: deploying and managing instances (deleting only the ones they deployed);
- viewer: read only.

Services call `authorize(workspace, action)` before they change or show anything, for every
page and API route alike (views pass `g.workspace` down); row-level security keeps
workspaces apart underneath, so another workspace's ids are a 404 whatever the role.
Templates ask `can(action)` only to hide buttons: hiding is a courtesy, `authorize` the rule.

Decisions worth knowing:
- Deleting an instance destroys its data and cannot be undone, so it is an admin's call;
  a member may still delete an instance they deployed themselves (`owner_id`).
- Secret variable values are never shown to anyone (the pages mask them), so reading an
  instance's variables is like reading the rest of it; changing them is managing it.
- Billing is the owner's to change; everyone in the workspace may read it (the dashboard
  shows every member the spend anyway).
- The activity log is everyone's to read; where an action came from (IP address, browser)
  only owners and admins see.
- The owner role is the owner's to give or take: admins manage everyone else.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from railsaas.errors import Forbidden, NotFound

OWNER, ADMIN, MEMBER, VIEWER = "owner", "admin", "member", "viewer"
ROLES = (OWNER, ADMIN, MEMBER, VIEWER)
ROLE_LABELS = {OWNER: "Owner", ADMIN: "Admin", MEMBER: "Member", VIEWER: "Viewer"}
ROLE_HELP = {
    OWNER: "Billing, deleting the workspace, and everything below.",
    ADMIN: "Members and every instance.",
    MEMBER: "Deploys and manages instances.",
    VIEWER: "Read only.",
}

_ALL = frozenset(ROLES)
_EDITORS = frozenset({OWNER, ADMIN, MEMBER})
_MANAGERS = frozenset({OWNER, ADMIN})
_OWNERS = frozenset({OWNER})

# action -> roles allowed it. Keep the names stable: tests, templates and other areas use them.
PERMISSIONS: dict[str, frozenset[str]] = {
    # the workspace itself
    "workspace.view": _ALL,
    "workspace.update": _MANAGERS,  # rename
    "workspace.leave": _ALL,  # the last owner is refused by the service
    "workspace.transfer": _OWNERS,  # hand ownership to another member
    "workspace.delete": _OWNERS,
    "workspace.security": _OWNERS,  # require two-factor sign-in of every member
    # people
    "members.view": _ALL,
    "members.invite": _MANAGERS,
    "members.manage": _MANAGERS,  # change roles, remove, revoke and resend invitations
    "owners.manage": _OWNERS,  # grant, take or invite the owner role
    # instances
    "instance.view": _ALL,  # list, status, logs, metrics, deployments
    "instance.deploy": _EDITORS,
    "instance.manage": _EDITORS,  # redeploy, restart, stop, start, rename, domains
    "instance.variables.edit": _EDITORS,  # changing variables redeploys
    "instance.delete": _MANAGERS,  # plus members, on instances they deployed
    # money
    "billing.view": _ALL,
    "billing.manage": _OWNERS,  # plan, payment method, cancel, spend cap
    # Personal API tokens in the workspace: one's own. A token acts as its owner, whose role
    # is checked on every request, so its scopes only ever narrow what the role allows.
    "tokens.create": _ALL,
    # history
    "activity.view": _ALL,  # the workspace's activity (audit) log
    "activity.origin": _MANAGERS,  # the IP address and browser of each entry
}

# Actions a role may take on objects it created although not on everyone's.
OWN_OBJECT_PERMISSIONS: dict[str, frozenset[str]] = {
    "instance.delete": frozenset({MEMBER}),
}

_MESSAGES = {
    "billing.manage": "Only an owner of the workspace can change billing.",
    "workspace.delete": "Only an owner can delete the workspace.",
    "workspace.transfer": "Only an owner can transfer ownership.",
    "workspace.security": "Only an owner can change the workspace's sign-in rules.",
    "owners.manage": "Only an owner can give, change or take the owner role.",
    "members.invite": "Only owners and admins can invite people.",
    "members.manage": "Only owners and admins can manage members.",
    "instance.delete": "Only owners and admins can delete instances others deployed.",
}


class HasRole(Protocol):
    """What authorize needs: the caller's role in the workspace (context.Workspace)."""

    role: str


class PlatformStaff:
    """Platform admins acting from the admin panel (which admits only them, and runs as
    the admin login): members of no workspace, allowed every workspace action.
    Recognised by identity, so no role string can pass for it."""

    role = "platform_admin"


PLATFORM_STAFF = PlatformStaff()


def allowed_roles(action: str) -> frozenset[str]:
    try:
        return PERMISSIONS[action]
    except KeyError:
        # A typo must fail loudly in development, never grant anything.
        raise ValueError(f"unknown action {action!r}") from None


def can(
    workspace: HasRole | None,
    action: str,
    *,
    owner_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> bool:
    """True if the caller's role in `workspace` allows `action`. `owner_id` (who created the
    object) and `user_id` (who asks) unlock the own-object permissions."""
    roles = allowed_roles(action)
    if workspace is None:
        return False
    if workspace is PLATFORM_STAFF:
        return True
    if workspace.role in roles:
        return True
    own = OWN_OBJECT_PERMISSIONS.get(action, frozenset())
    return (
        workspace.role in own
        and owner_id is not None
        and user_id is not None
        and owner_id == user_id
    )


def authorize(
    workspace: HasRole | None,
    action: str,
    *,
    owner_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    """Raise Forbidden (403) unless the caller's role allows `action`; NotFound (404) when
    there is no workspace at all (nothing to act in)."""
    allowed_roles(action)
    if workspace is None:
        raise NotFound("Choose or create a workspace first.", code="no_workspace")
    if not can(workspace, action, owner_id=owner_id, user_id=user_id):
        role = ROLE_LABELS.get(workspace.role, workspace.role)
        message = _MESSAGES.get(action) or (
            f"Your role in this workspace ({role}) does not allow this."
        )
        raise Forbidden(
            message, code="forbidden", details={"action": action, "role": workspace.role}
        )


def roles_allowed_to_grant(workspace: HasRole | None) -> tuple[str, ...]:
    """Roles the caller may give someone (invite as, or change to)."""
    if not can(workspace, "members.manage"):
        return ()
    if can(workspace, "owners.manage"):
        return ROLES
    return tuple(r for r in ROLES if r != OWNER)
