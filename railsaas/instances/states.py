"""The instance state machine (DESIGN section 4): every status change goes through here.

    requested -> provisioning -> deploying -> running
                      |              |           |-> redeploying -> running | failed
                      v              v           |-> stopping -> stopped -> starting -> running
                    failed         failed        |-> suspended (billing, spend cap)
    any -> deleting -> deleted (row kept for billing and audit)

`crashed` is a running instance whose process died (Railway CRASHED); it may recover.
A billing hold suspends `failed` and `crashed` instances too (a retry must not escape it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from railsaas.errors import Conflict
from railsaas.models import Instance
from railsaas.models import instance as statuses

# `stopping` from states a customer cannot stop is for billing (stop_instances: a workspace
# over its plan's limit stops the instances its owner picked, whatever they are doing).
TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"provisioning", "failed", "stopping", "deleting"}),
    "provisioning": frozenset({"deploying", "failed", "stopping", "deleting"}),
    "deploying": frozenset({"running", "failed", "crashed", "suspended", "stopping", "deleting"}),
    "running": frozenset({"redeploying", "stopping", "suspended", "crashed", "failed", "deleting"}),
    "redeploying": frozenset({"running", "failed", "crashed", "suspended", "stopping", "deleting"}),
    "crashed": frozenset({"running", "redeploying", "stopping", "suspended", "failed", "deleting"}),
    # A failed deploy may be retried (redeploying, or provisioning when Railway never got
    # a project), and a late success after a timeout still counts.
    "failed": frozenset(
        {"provisioning", "redeploying", "running", "stopping", "suspended", "deleting"}
    ),
    "stopping": frozenset({"stopped", "failed", "suspended", "deleting"}),
    "stopped": frozenset({"starting", "deleting"}),
    "starting": frozenset({"running", "failed", "crashed", "suspended", "stopping", "deleting"}),
    "suspended": frozenset({"starting", "stopping", "deleting"}),
    "deleting": frozenset({"deleted"}),
    "deleted": frozenset(),
}

# The groupings live with the model (metrics and reports read them too); the machine uses
# them by these names.
IN_FLIGHT = statuses.IN_FLIGHT
SETTLED = statuses.SETTLED
# Statuses that end a deploy step, for notifications and the timeout.
DEPLOY_OUTCOMES = frozenset({"running", "failed", "crashed"})

# What a customer may ask for, from which statuses.
ACTIONS: dict[str, frozenset[str]] = {
    "redeploy": frozenset({"running", "crashed", "failed"}),
    "restart": frozenset({"running", "crashed"}),
    "stop": frozenset({"running", "crashed"}),
    "start": frozenset({"stopped"}),
    "delete": frozenset(TRANSITIONS) - {"deleting", "deleted"},
    "variables": frozenset({"running", "crashed", "failed", "stopped"}),
    "domain": frozenset({"running", "crashed", "stopped"}),
}

LABELS = {
    "requested": "Queued",
    "provisioning": "Creating project",
    "deploying": "Deploying",
    "running": "Running",
    "redeploying": "Redeploying",
    "crashed": "Crashed",
    "failed": "Failed",
    "stopping": "Stopping",
    "stopped": "Stopped",
    "starting": "Starting",
    "suspended": "Suspended",
    "deleting": "Deleting",
    "deleted": "Deleted",
}


def can(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def allowed_actions(status: str) -> list[str]:
    return [a for a, froms in ACTIONS.items() if status in froms]


def check_action(instance: Instance, action: str) -> None:
    if instance.status not in ACTIONS[action]:
        raise Conflict(
            f"You cannot {action} an instance that is "
            f"{LABELS.get(instance.status, instance.status).lower()}.",
            details={"status": instance.status, "action": action},
        )


def reprovision(instance: Instance, reason: str) -> None:
    """An admin's fix for an instance whose Railway project is gone: deploy it again into a
    new project, from whatever state it was left in (not a deleted one)."""
    if instance.status in ("deleting", "deleted"):
        raise Conflict(
            "A deleted instance cannot be deployed again.", details={"status": instance.status}
        )
    instance.status = "provisioning"
    instance.status_reason = reason
    instance.status_changed_at = datetime.now(UTC)


def transition(
    instance: Instance, new: str, reason: str | None = None, *, strict: bool = True
) -> bool:
    """Move `instance` to `new`. Returns False (nothing changed) when it is already there.

    strict=False is for observations (a poll saw Railway's state): an impossible move is
    ignored instead of raised, since a late answer must never resurrect a deleted instance.
    """
    if instance.status == new:
        if reason is not None:
            instance.status_reason = reason
        return False
    if not can(instance.status, new):
        if strict:
            raise Conflict(
                f"An instance cannot go from {instance.status} to {new}.",
                details={"status": instance.status, "to": new},
            )
        return False
    instance.status = new
    instance.status_reason = reason
    instance.status_changed_at = datetime.now(UTC)
    if new == "deleted":
        instance.deleted_at = instance.status_changed_at
    return True
