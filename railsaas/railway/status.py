"""Railway deployment status -> RailSaaS instance status (DESIGN section 4), in one place.

Railway reports the latest deployment's status; the instance's own state says what the
platform is doing to it, so the same Railway status can mean different things: QUEUED while
the instance is `redeploying` is still a redeploy, REMOVED while `stopping` means stopped,
and nothing Railway says moves an instance out of `suspended` or `deleting` (the platform
put it there and takes it out).
"""

from __future__ import annotations

from railsaas.models.instance import INSTANCE_STATUSES

RAILWAY_STATUSES = (
    "QUEUED",
    "WAITING",
    "INITIALIZING",
    "BUILDING",
    "DEPLOYING",
    "SUCCESS",
    "FAILED",
    "CRASHED",
    "SLEEPING",
    "REMOVING",
    "REMOVED",
    "SKIPPED",
    "NEEDS_APPROVAL",
)
# Building or rolling out: the instance is on its way to running.
_IN_FLIGHT = frozenset(
    {"QUEUED", "WAITING", "INITIALIZING", "BUILDING", "DEPLOYING", "NEEDS_APPROVAL"}
)
# States the platform holds regardless of what Railway reports.
_HELD = frozenset({"suspended", "deleting", "deleted"})
# An in-flight deployment keeps these names (a redeploy stays a redeploy).
_KEEPS_WHILE_IN_FLIGHT = frozenset({"redeploying", "starting", "stopping"})


def instance_status(
    railway_status: str | None, current: str | None = None, stopped: bool = False
) -> str:
    """The instance status for the latest deployment's Railway status.

    `current` is the instance's status now (None for a fresh instance). `railway_status`
    None means the service has no deployment yet. `stopped` is the deployment's
    `deploymentStopped`: a stopped deployment stays SUCCESS on Railway (the CLI shows the
    flag beside the status). Unknown Railway values (Railway adds some over time) leave the
    instance as it is.
    """
    if current is not None and current not in INSTANCE_STATUSES:
        raise ValueError(f"unknown instance status {current!r}")
    if current in _HELD:
        return current
    if railway_status is None:
        return current or "provisioning"
    status = railway_status.upper()
    if status in _IN_FLIGHT:
        if current in _KEEPS_WHILE_IN_FLIGHT:
            return current
        if current == "stopped":
            return "starting"
        return "deploying"
    if stopped and status in ("SUCCESS", "SLEEPING", "CRASHED"):
        # What was stopped before a start or redeploy took: still theirs to report.
        return current if current in ("starting", "redeploying") else "stopped"
    if status in ("SUCCESS", "SLEEPING"):
        # SLEEPING: serverless app asleep after a successful deploy; it wakes on a request.
        return "stopping" if current == "stopping" else "running"
    if status == "FAILED":
        return "failed"
    if status == "CRASHED":
        return "crashed"
    if status == "REMOVING":
        return "stopped" if current == "stopped" else "stopping"
    if status == "REMOVED":
        return "stopped"
    if status == "SKIPPED":
        # Railway skipped this deployment: whatever ran before keeps running.
        return "running" if current in ("running", "redeploying", "starting") else "failed"
    return current or "provisioning"
