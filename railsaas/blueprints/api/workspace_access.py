"""What the instance routes need of the caller beyond authentication (which
`guard.api_login_required` does and binds to g): a workspace. Roles are checked by the
services (railsaas.permissions)."""

from __future__ import annotations

import uuid

from flask import g

from railsaas.errors import NotFound


def api_tenant_id() -> uuid.UUID:
    workspace = g.get("workspace")
    if workspace is None:
        raise NotFound("No workspace: create one, or name it with X-Workspace-ID.")
    return workspace.id
