"""python -m devtools.emulators.railway --port N [options]: see the package docstring."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from devtools.emulators.railway.faults import FaultConfig
from devtools.emulators.railway.server import EmulatorServer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m devtools.emulators.railway",
        description="Local Railway GraphQL API emulator",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4010)
    p.add_argument(
        "--token",
        default=os.environ.get("RAILWAY_API_TOKEN", ""),
        help="the accepted Bearer token (default $RAILWAY_API_TOKEN; empty: any)",
    )
    p.add_argument(
        "--workspace-id", default=os.environ.get("RAILWAY_WORKSPACE_ID") or "emulator-workspace"
    )
    p.add_argument(
        "--deploy-seconds",
        type=float,
        default=30.0,
        help="QUEUED -> SUCCESS duration (default 30, +- jitter)",
    )
    p.add_argument("--deploy-jitter", type=float, default=0.33)
    p.add_argument(
        "--workflow-seconds",
        type=float,
        default=20.0,
        help="templateDeployV2's workflow: its services appear during it",
    )
    p.add_argument(
        "--missing-project-answer",
        default="Not Authorized",
        help='what an unknown or deleted project answers ("Project not found" is the other choice)',
    )
    p.add_argument(
        "--workflow-status-answer",
        default="status",
        choices=("status", "not_authorized"),
        help="not_authorized: workflowStatus answers Not Authorized",
    )
    p.add_argument(
        "--slow-seconds", type=float, default=75.0, help="how late a `slow` fault's answer comes"
    )
    p.add_argument(
        "--slow-rate",
        type=float,
        default=0.0,
        help="share of projectCreate calls whose answer comes slow_seconds late",
    )
    p.add_argument(
        "--log-interval",
        type=float,
        default=2.0,
        help="seconds between runtime log lines of a running deployment",
    )
    p.add_argument("--crash-after", type=float, default=5.0)
    p.add_argument("--rate-per-hour", type=int, default=10_000)
    p.add_argument("--rate-per-second", type=int, default=50)
    p.add_argument("--usage-scale", type=float, default=1.0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--rate-limit-rate", type=float, default=0.0)
    p.add_argument("--timeout-rate", type=float, default=0.0)
    p.add_argument("--timeout-seconds", type=float, default=30.0)
    p.add_argument("--html-rate", type=float, default=0.0)
    p.add_argument(
        "--lose-create-rate",
        type=float,
        default=0.0,
        help="share of projectCreate calls that run but lose their answer",
    )
    p.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = p.parse_args(argv)

    faults = FaultConfig(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        timeout_rate=args.timeout_rate,
        timeout_seconds=args.timeout_seconds,
        html_rate=args.html_rate,
        lose_response_rate=args.lose_create_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
    )
    server = EmulatorServer(
        args.host,
        args.port,
        quiet=not args.verbose,
        faults=faults,
        token=args.token,
        workspace_id=args.workspace_id,
        deploy_seconds=args.deploy_seconds,
        deploy_jitter=args.deploy_jitter,
        workflow_seconds=args.workflow_seconds,
        log_interval=args.log_interval,
        crash_after=args.crash_after,
        rate_per_hour=args.rate_per_hour,
        rate_per_second=args.rate_per_second,
        usage_scale=args.usage_scale,
        missing_project_answer=args.missing_project_answer,
        workflow_status_answer=args.workflow_status_answer,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Railway emulator on {server.graphql_url} (control: {server.control_url})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
