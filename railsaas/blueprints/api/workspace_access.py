"""What the instance routes need of the caller beyond authentication (which
`guard.api_login_required` does and binds to g): a workspace, and a role that may change
things."""

from __future__ import annotations

import uuid

from flask import g

from railsaas.blueprints.htmx_helpers import EDITOR_ROLES
from railsaas.errors import Forbidden, NotFound


def api_tenant_id() -> uuid.UUID:
    workspace = g.get("workspace")
    if workspace is None:
        raise NotFound("No workspace: create one, or name it with X-Workspace-ID.")
    return workspace.id


def require_api_editor() -> uuid.UUID:
    tenant_id = api_tenant_id()
    if g.workspace.role not in EDITOR_ROLES:
        raise Forbidden("Viewers cannot change instances.")
    return tenant_id
