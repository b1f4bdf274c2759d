"""The instance state machine."""

from __future__ import annotations

import pytest

from railsaas.errors import Conflict
from railsaas.instances import states
from railsaas.models import Instance


def _inst(status: str) -> Instance:
    return Instance(name="x", status=status)


def test_the_deploy_path_is_allowed_and_deleted_is_final():
    inst = _inst("requested")
    for status in (
        "provisioning",
        "deploying",
        "running",
        "redeploying",
        "running",
        "stopping",
        "stopped",
        "starting",
        "running",
        "deleting",
        "deleted",
    ):
        assert states.transition(inst, status)
    assert inst.deleted_at is not None
    with pytest.raises(Conflict):
        states.transition(inst, "running")


def test_observations_never_resurrect_an_instance():
    inst = _inst("deleted")
    assert states.transition(inst, "running", strict=False) is False
    assert inst.status == "deleted"


def test_every_status_is_covered_and_every_target_is_a_status():
    from railsaas.models.instance import INSTANCE_STATUSES

    assert set(states.TRANSITIONS) == set(INSTANCE_STATUSES)
    for targets in states.TRANSITIONS.values():
        assert targets <= set(INSTANCE_STATUSES)
    assert set(INSTANCE_STATUSES) == states.IN_FLIGHT | states.SETTLED


def test_actions_follow_the_status():
    assert states.allowed_actions("running") == [
        "redeploy",
        "restart",
        "stop",
        "delete",
        "variables",
        "domain",
    ]
    assert "start" in states.allowed_actions("stopped")
    assert states.allowed_actions("deleted") == []
    with pytest.raises(Conflict):
        states.check_action(_inst("deploying"), "stop")
