"""A workspace over its plan's instance limit (after a downgrade): the owner picks which
instances to stop. What counts, and by how much it is over, is `instances.admission`'s."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from railsaas.billing import holds
from railsaas.errors import NotFound, ValidationFailed
from railsaas.instances import admission, lifecycle
from railsaas.permissions import authorize
from railsaas.platform import audit


def stop_over_limit(session: Session, workspace, instance_ids: list[Any]) -> int:
    """Stop the instances the owner picked (at least enough to fit the plan). The owner's
    (billing.manage); the workspace row is locked."""
    authorize(workspace, "billing.manage")
    tenant = holds.lock_tenant(session, workspace.id)
    over = admission.over_limit(session, tenant)
    ids: set[uuid.UUID] = set()
    for raw in instance_ids:
        try:
            ids.add(uuid.UUID(str(raw)))
        except ValueError:
            raise NotFound("No such instance.") from None
    mine = {i.id for i in admission.counted_list(session, tenant.id)}
    if ids - mine:
        raise NotFound("No such instance.")
    if over is not None and len(ids) < over.to_stop:
        raise ValidationFailed(
            f"Pick at least {over.to_stop} instance{'s' if over.to_stop > 1 else ''} to stop.",
            details={"instance_ids": f"pick at least {over.to_stop}"})
    if not ids:
        return 0
    stopped = lifecycle.stop_instances(session, tenant.id, sorted(ids), "plan_limit")
    audit.record(session, "billing.over_limit_stopped", target_type="tenant",
                 target_id=tenant.id, details={"instances": [str(i) for i in sorted(ids)]})
    return stopped
