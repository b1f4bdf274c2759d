"""Every lifecycle step writes one log line with the seed's fields filled: which step
(`action`), for which template and Railway service, who asked, how long, how it went."""

from __future__ import annotations

from tests.support import wait_until
from tests.support.logs import capture_logs

SEED = (
    "service",
    "user_id",
    "action",
    "template_id",
    "railway_service_id",
    "duration_ms",
    "status",
)


def _filled(line: dict) -> None:
    missing = [k for k in SEED if line.get(k) in (None, "")]
    assert not missing, (missing, line)
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0


def test_deploy_and_stop_each_write_one_line_with_every_seed_field(lifecycle):
    lc = lifecycle
    with capture_logs() as logs:
        iid = lc.deploy("logged")
        lc.wait_for(iid, "running")
        inst = lc.instance(iid)
        lc.act(iid, "stop")
        wait_until(
            lambda: lc.steps(iid)[-1] == ("stop", "succeeded"),
            timeout=20,
            interval=0.2,
            message="the stop step succeeded",
        )
        wait_until(
            lambda: logs.actions("instance.stop"),
            timeout=5,
            interval=0.05,
            message="the stop step's line",
        )

    deploy = logs.actions("instance.deploy")
    # The run that asked Railway (accepted), then the line where the poll saw it run.
    assert [d["status"] for d in deploy] == ["accepted", "succeeded"], deploy
    done = deploy[-1]
    _filled(done)
    assert done["template_id"] == str(lc.template.id)
    assert done["railway_service_id"] == inst.railway_service_id
    assert done["user_id"] == str(lc.user.id)
    assert done["tenant_id"] == str(lc.tenant.id)
    assert done["instance_id"] == iid
    assert done["service"] == "instances"
    assert deploy[0]["template_id"] == str(lc.template.id)
    assert deploy[0]["result"] == "deploying"

    # A stop ends within its run: one line, not a dispatch line and an end line.
    (stop,) = logs.actions("instance.stop")
    _filled(stop)
    assert stop["status"] == "succeeded"
    assert stop["railway_service_id"] == inst.railway_service_id
    assert stop["level"] == "info"
