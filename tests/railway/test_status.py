"""Railway deployment statuses onto instance statuses, in the one function that does it."""

from __future__ import annotations

import pytest

from railsaas.config import Config, InsecureConfiguration
from railsaas.models.instance import INSTANCE_STATUSES
from railsaas.railway.status import RAILWAY_STATUSES, instance_status


@pytest.mark.parametrize(
    ("railway", "current", "expected"),
    [
        ("QUEUED", None, "deploying"),
        ("WAITING", "provisioning", "deploying"),
        ("INITIALIZING", "deploying", "deploying"),
        ("BUILDING", "deploying", "deploying"),
        ("DEPLOYING", "deploying", "deploying"),
        ("NEEDS_APPROVAL", "deploying", "deploying"),
        ("SUCCESS", "deploying", "running"),
        ("SLEEPING", "running", "running"),
        ("FAILED", "deploying", "failed"),
        ("CRASHED", "running", "crashed"),
        ("REMOVING", "running", "stopping"),
        ("REMOVED", "stopping", "stopped"),
        ("SKIPPED", "deploying", "failed"),
        # A redeploy in flight stays a redeploy; a start from stopped is "starting".
        ("BUILDING", "redeploying", "redeploying"),
        ("QUEUED", "stopped", "starting"),
        ("DEPLOYING", "starting", "starting"),
        ("SUCCESS", "redeploying", "running"),
        ("FAILED", "redeploying", "failed"),
        ("SKIPPED", "redeploying", "running"),  # the previous deployment keeps serving
        # Stopping: Railway still says SUCCESS until the stop lands.
        ("SUCCESS", "stopping", "stopping"),
        ("REMOVING", "stopped", "stopped"),
        # The platform's own holds are never undone by what Railway reports.
        ("SUCCESS", "suspended", "suspended"),
        ("REMOVED", "deleting", "deleting"),
        ("CRASHED", "deleted", "deleted"),
        # No deployment yet; a status Railway may add one day.
        (None, None, "provisioning"),
        (None, "deploying", "deploying"),
        ("SOMETHING_NEW", "running", "running"),
    ],
)
def test_railway_status_maps_to_instance_status(railway, current, expected):
    assert instance_status(railway, current) == expected


@pytest.mark.parametrize("railway", RAILWAY_STATUSES)
@pytest.mark.parametrize("current", [None, *INSTANCE_STATUSES])
def test_every_combination_lands_on_a_known_instance_status(railway, current):
    assert instance_status(railway, current) in INSTANCE_STATUSES


def test_all_thirteen_railway_statuses_are_covered():
    assert len(RAILWAY_STATUSES) == 13


def test_an_unknown_instance_status_is_a_bug():
    with pytest.raises(ValueError, match="unknown instance status"):
        instance_status("SUCCESS", "exploded")


def test_a_railway_token_without_a_workspace_refuses_to_start(monkeypatch):
    monkeypatch.setenv("DEBUG", "1")  # even in development: projects would land elsewhere
    monkeypatch.setenv("RAILWAY_API_TOKEN", "a-token")
    monkeypatch.setenv("RAILWAY_WORKSPACE_ID", "")
    with pytest.raises(InsecureConfiguration, match="RAILWAY_WORKSPACE_ID"):
        Config().check_safe_to_start()
    monkeypatch.setenv("RAILWAY_WORKSPACE_ID", "ws-1")
    Config().check_safe_to_start()
    monkeypatch.setenv("RAILWAY_API_TOKEN", "")
    monkeypatch.setenv("RAILWAY_WORKSPACE_ID", "")
    Config().check_safe_to_start()  # no token, no Railway: nothing to check
