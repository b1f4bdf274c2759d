"""Deploy pipeline: instances deployed per minute end to end, against the Railway emulator
with no added latency.

    .venv/bin/python -m bench.deploy_pipeline [--instances 200] [--concurrency 4]
            [--workers 1] [--stream] [--existing-projects 0] [--pro-limits] [--out FILE]

Each deploy is created through the service layer (instances.create_instance, as the
workspace's owner, 10 instances per workspace), which commits the instance, its deploy step
and an outbox row; the commit sends the step to Celery. Real Celery worker subprocesses
(`celery -A railsaas.tasks.worker worker`, prefork, `--concurrency` processes each; the
first also runs beat with the real schedule, so `instances.poll` runs every 3 s) create the
Railway project and deploy the template on the emulator; the poll finds the service, sees
its deployment's SUCCESS and marks the instance running (and reads its domain).

Burst (default): the workers stop consuming, all deploys are created (timed on their own),
then the workers take the queue; timed from then to the last instance running. `--stream`:
deploys are created while the workers run; timed from the first create.

The emulator runs in its own process with deploy_seconds=0 and workflow_seconds=0 (a
deployment is SUCCESS as soon as it exists) and no injected latency. Rate limits are lifted
on both sides unless `--pro-limits` keeps Railway Pro's 10,000/h and 50/s (emulator and the
client's shared budget). `--existing-projects K` first creates K other projects in the
Railway workspace (over GraphQL): a deploy looks its project up by name among all of them,
a page of 100 per request. Requests per deploy come from the emulator's request log.
Servers: see bench/harness.py (BENCH_REDIS_URL, if set, is emptied first).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench import harness
from devtools import embedded

UNLIMITED = 1_000_000_000


def start_emulator(port: int, pro_limits: bool, log_path: Path) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "devtools.emulators.railway",
        "--port",
        str(port),
        "--token",
        harness.TOKEN,
        "--workspace-id",
        harness.WORKSPACE,
        "--deploy-seconds",
        "0",
        "--deploy-jitter",
        "0",
        "--workflow-seconds",
        "0",
    ]
    if not pro_limits:
        args += ["--rate-per-hour", str(UNLIMITED), "--rate-per-second", str(UNLIMITED)]
    log = log_path.open("w")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def start_worker(n: int, concurrency: int, beat: bool, env: dict, local: Path) -> subprocess.Popen:
    celery = str(Path(sys.executable).with_name("celery"))
    args = [
        celery,
        "-A",
        "railsaas.tasks.worker",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--hostname",
        f"bench{n}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        args += ["--beat", "--schedule", str(local / "deploy-bench-beat")]
    log = (local / f"deploy-bench-worker{n}.log").open("w")
    return subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,  # noqa: S603
        env={**os.environ, **env},
    )


def wait_ready(app, workers: int, timeout: float = 120) -> None:
    """Until every worker answers a ping (its pool is up and consuming)."""
    celery = app.extensions["celery"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(celery.control.ping(timeout=1.0) or []) >= workers:
            return
    raise RuntimeError(f"workers not ready after {timeout:.0f} s; see .local/")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def create_deploys(app, ws: harness.Workspaces, count: int) -> list:
    """Through the service layer, as each workspace's owner: what a deploy form does."""
    from railsaas.context import Workspace
    from railsaas.db import TenantContext
    from railsaas.extensions import db
    from railsaas.instances import lifecycle as instances
    from railsaas.models import Tenant

    ids = []
    with app.app_context():
        for n in range(count):
            tenant_id, user_id = ws.tenants[n // 10]
            with db.scope(TenantContext(tenant_id=tenant_id, user_id=user_id)) as s:
                tenant = s.get(Tenant, tenant_id)
                inst = instances.create_instance(
                    s,
                    tenant_id=tenant_id,
                    user_id=user_id,
                    template_id=ws.template_id,
                    name=f"app-{n}",
                    variables={},
                    actor=Workspace(tenant=tenant, role="owner"),
                )
                ids.append(inst.id)
    return ids


def statuses(app) -> dict[str, int]:
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Instance

    with app.app_context(), db.scope(SYSTEM) as s:
        return dict(
            s.execute(select(Instance.status, func.count()).group_by(Instance.status)).all()
        )


def latencies(app, since: datetime) -> list[float]:
    """Seconds from each instance's creation (or the start, if later) to its running."""
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Instance

    with app.app_context(), db.scope(SYSTEM) as s:
        rows = s.execute(
            select(Instance.created_at, Instance.status_changed_at).where(
                Instance.status == "running"
            )
        ).all()
    return sorted((b - max(a, since)).total_seconds() for a, b in rows)


def seed_projects(url: str, count: int) -> None:
    """Other projects in the Railway workspace (the platform's other instances), created
    over GraphQL like ours: a deploy looks its project up by name among all of them."""
    from railsaas.railway import RailwayClient

    with RailwayClient(
        api_url=url,
        token=harness.TOKEN,
        workspace_id=harness.WORKSPACE,
        rate_per_hour=UNLIMITED,
        rate_per_second=UNLIMITED,
    ) as rc:
        for n in range(count):
            rc.create_project(f"railsaas-existing-{n}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument(
        "--concurrency", type=int, default=4, help="prefork processes per worker (default 4)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--pro-limits", action="store_true", help="keep Railway Pro's rate limits (10,000/h, 50/s)"
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="create the deploys while the workers run (default: queue "
        "them all, then let the workers go)",
    )
    parser.add_argument(
        "--existing-projects",
        type=int,
        default=0,
        help="projects already in the Railway workspace (default 0)",
    )
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--database", default="railsaas_bench_deploy")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from devtools.emulators.railway import EmulatorControl

    local = embedded.local_dir()
    local.mkdir(parents=True, exist_ok=True)
    admin_url, redis_url = harness.servers()
    database_url = harness.fresh_database(admin_url, args.database)
    port = embedded.free_port()
    procs = [start_emulator(port, args.pro_limits, local / "deploy-bench-emulator.log")]
    try:
        ctl = EmulatorControl(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                ctl.health()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        limits = (
            {}
            if args.pro_limits
            else {
                "RAILWAY_RATE_PER_HOUR": str(UNLIMITED),
                "RAILWAY_RATE_PER_SECOND": str(UNLIMITED),
            }
        )
        env = harness.app_environment(
            database_url, redis_url, f"http://127.0.0.1:{port}/graphql/v2", **limits
        )
        template = next(t for t in ctl.templates() if t["code"] == harness.TEMPLATE_CODE)
        ws = harness.seed_workspaces(
            database_url, template, math.ceil(args.instances / 10), max_instances=10
        )
        import redis

        redis.Redis.from_url(redis_url).flushdb()  # no queue or budget left from a past run

        from railsaas.app import create_app

        app = create_app()
        for n in range(args.workers):
            procs.append(start_worker(n, args.concurrency, n == 0, env, local))
        wait_ready(app, args.workers)

        if args.existing_projects:
            print(f"  {args.existing_projects:,} projects already in the workspace ...", flush=True)
            seed_projects(f"http://127.0.0.1:{port}/graphql/v2", args.existing_projects)
        ctl.clear_requests()
        celery = app.extensions["celery"]
        mode = "stream" if args.stream else "burst"
        print(
            f"{args.instances} deploys ({mode}), {args.workers} worker(s) x "
            f"{args.concurrency} processes, {'Pro' if args.pro_limits else 'no'} rate "
            f"limits",
            flush=True,
        )
        if not args.stream:  # the deploys queue up; the clock starts when workers take them
            celery.control.cancel_consumer("celery", reply=True)
        began = time.monotonic()
        create_deploys(app, ws, args.instances)
        created = time.monotonic() - began
        print(f"  created through the service layer in {created:.1f} s", flush=True)
        if not args.stream:
            celery.control.add_consumer("celery", reply=True)
        started = began if args.stream else time.monotonic()
        started_at = datetime.now(UTC) - timedelta(seconds=time.monotonic() - started)
        seen: dict[str, int] = {}
        accepted_at = None
        while time.monotonic() - started < args.timeout:
            seen = statuses(app)
            if accepted_at is None and not (seen.get("requested", 0) + seen.get("provisioning", 0)):
                accepted_at = time.monotonic() - started
            if seen.get("running", 0) == args.instances:
                break
            if sum(seen.get(s, 0) for s in ("failed", "crashed")):
                print(f"  some failed: {seen}", flush=True)
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        log = ctl.requests(limit=0)
    finally:
        stop(procs[1:])
        stop(procs[:1])

    running = seen.get("running", 0)
    lat = latencies(app, started_at)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "instances": args.instances,
        "mode": mode,
        "workers": args.workers,
        "existing_projects": args.existing_projects,
        "concurrency": args.concurrency,
        "rate_limits": "pro" if args.pro_limits else "none",
        "created_seconds": round(created, 1),
        "accepted_seconds": round(accepted_at, 1) if accepted_at is not None else None,
        "all_running_seconds": round(elapsed, 1) if running == args.instances else None,
        "running": running,
        "statuses": seen,
        "instances_per_minute": round(running / elapsed * 60, 1),
        "latency_seconds": {
            "p50": round(statistics.median(lat), 1),
            "p95": round(lat[int(0.95 * (len(lat) - 1))], 1),
            "max": round(lat[-1], 1),
        }
        if lat
        else None,
        "requests": log["total"],
        "requests_per_deploy": round(log["total"] / args.instances, 1),
        "by_operation": log["by_operation"],
        "by_status": log["by_status"],
    }
    print(
        f"  {running}/{args.instances} running after {elapsed:.1f} s: "
        f"{result['instances_per_minute']} instances/minute; creation to running "
        f"{result['latency_seconds']}; {result['requests_per_deploy']} Railway requests "
        f"per deploy {log['by_operation']}",
        flush=True,
    )
    print()
    print(
        "| instances | mode | existing projects | workers x processes | rate limits "
        "| created in | all accepted | all running | instances/min "
        "| p50 / p95 to running | requests/deploy |"
    )
    print("|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    lat_s = (
        f"{result['latency_seconds']['p50']:g} / {result['latency_seconds']['p95']:g} s"
        if lat
        else "-"
    )
    print(
        f"| {args.instances} | {mode} | {args.existing_projects:,} "
        f"| {args.workers} x {args.concurrency} | {result['rate_limits']} "
        f"| {created:.1f} s | {result['accepted_seconds']} s | {elapsed:.1f} s "
        f"| {result['instances_per_minute']:g} | {lat_s} | {result['requests_per_deploy']:g} |"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
