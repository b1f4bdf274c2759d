"""Railway polling: API requests per poll cycle and per hour that keep N instances fresh
(deploying ones within 10 s, settled ones within 5 minutes), counted in the Railway
emulator's request log, against one request per instance.

    .venv/bin/python -m bench.polling [--sizes 1000,10000] [--deploying 0.01]
                                      [--minutes 60] [--baseline-minutes 5] [--out FILE]
                                      [--railway-workspaces 10]

For each size: a fresh bench database with that many instances (1% deploying by default, the
rest running; 10 per workspace), and the Railway emulator (in this process, over HTTP)
holding a project, a service and a deployment for each: settled ones finished, deploying ones
still building for the whole window (so the mix stays constant). Then the real beat task
`instances.poll` runs once per beat interval of its schedule (BEAT_SCHEDULE, 3 s) on a
simulated clock: the emulator's clock is frozen and advanced by one interval per cycle, and
the poller's own clock (`now` in railsaas.instances.poll and .steps, its only notion of
time) is the same simulated one. One simulated hour takes minutes. Settled instances start
due uniformly over their 5-minute cadence, deploying ones over 3 s: the steady state, from
the first cycle.

Counted: every GraphQL request in the emulator's log during the window. Staleness: the
longest time any instance went without its status being asked for (from a recording
transport on the client), against the 10 s / 5 min promise.

Baseline: the same poller with RAILWAY_BATCH_SIZE=1, i.e. one request per instance, run for
`--baseline-minutes` (one settled cadence, 5 minutes, repeats every 5 minutes) and scaled
to the hour; the formula (instances x polls an hour each) is printed beside it.

Several Railway workspaces (`--railway-workspaces N`, issue 19): the pool holds N entries
(the environment's and N-1 stored ones, each with its own token in the emulator), the
workspaces are spread over them round-robin (placed, as at a first deploy), and each
instance's project lives in its entry's Railway workspace. The beat task polls each entry
on its own; requests are counted per Railway workspace (by the token each carried), and
each must stay within its own Pro budget.

Rate limits are lifted on both sides (emulator and client budget): the benchmark counts
requests, it does not let pacing hide them. Servers: see bench/harness.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text

from bench import harness

HOUR = 3600.0
PRO_BUDGET_PER_HOUR = 10_000
PRO_BUDGET_PER_SECOND = 50
FRESH_DEPLOYING = 10.0  # seconds
FRESH_SETTLED = 300.0
UNLIMITED = 1_000_000_000


class SimClock:
    """Seconds since the start of the window; `now()` is what the poller sees."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t = 0.0
        self.cycle = 0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)


class RecordingTransport(httpx.BaseTransport):
    """Passes every request on; notes which services a status request asked about, and
    when (simulated), for the staleness figures. The count itself comes from the emulator."""

    def __init__(self, clock: SimClock, workspaces: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.inner = httpx.HTTPTransport()
        self.asked: dict[str, list[float]] = defaultdict(list)
        self.per_cycle: Counter[int] = Counter()
        self.operations: Counter[str] = Counter()
        # Bearer token -> Railway workspace: whose budget a request spent.
        self.workspaces = {f"Bearer {t}": ws for t, ws in (workspaces or {}).items()}
        self.per_workspace: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read() or b"{}")
        name = body.get("operationName") or "?"
        self.operations[name] += 1
        self.per_cycle[self.clock.cycle] += 1
        auth = request.headers.get("authorization", "")
        self.per_workspace[self.workspaces.get(auth, "?")] += 1
        for key, value in (body.get("variables") or {}).items():
            if key.startswith("serviceId"):
                self.asked[value].append(self.clock.t)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Fleet:
    """What was seeded: service id -> (class, initial next poll in window seconds)."""

    services: dict[str, tuple[str, float]] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.services.values() if k == kind)


@dataclass(frozen=True)
class PoolEntry:
    id: uuid.UUID
    railway_workspace_id: str
    token: str


def seed_pool(database_url: str, ctl, count: int, key: str) -> list[PoolEntry]:
    """The pool: the environment's entry and `count - 1` stored ones (their tokens
    encrypted with `key`), each a workspace of its own in the emulator."""
    from railsaas import dbadmin

    engine = dbadmin.admin_engine(database_url)
    entries = []
    with engine.begin() as conn:
        env_id = conn.execute(
            text("SELECT id FROM railway_workspaces WHERE token_source = 'environment'")
        ).scalar()
        entries.append(PoolEntry(env_id, harness.WORKSPACE, harness.TOKEN))
        for n in range(2, count + 1):
            token = f"bench-railway-token-{n}-{uuid.uuid4().hex[:8]}"
            railway_id = f"ws-bench-{n}"
            entry_id = conn.execute(
                text("""
                INSERT INTO railway_workspaces (name, railway_workspace_id, token_source,
                                                token_ciphertext, plan, rate_per_hour,
                                                rate_per_second)
                VALUES (:name, :rid, 'stored', :ct, 'pro', :unlimited, :unlimited)
                RETURNING id"""),
                {
                    "name": f"pool-{n}",
                    "rid": railway_id,
                    "ct": Fernet(key).encrypt(token.encode()),
                    "unlimited": UNLIMITED,
                },
            ).scalar()
            entries.append(PoolEntry(entry_id, railway_id, token))
    engine.dispose()
    return entries


def seed(
    server,
    ctl,
    database_url: str,
    ws: harness.Workspaces,
    size: int,
    deploying_share: float,
    cadence: dict[str, float],
    rng: random.Random,
    pool: list[PoolEntry] | None = None,
) -> tuple[Fleet, datetime]:
    """Projects, services and deployments in the emulator; instances (and their steps) in
    the database; return the fleet and the simulated start."""
    from railsaas import dbadmin

    deploying = max(1, round(size * deploying_share)) if deploying_share > 0 else 0
    kinds = ["deploying"] * deploying + ["settled"] * (size - deploying)
    rng.shuffle(kinds)
    ids = [uuid.uuid4() for _ in range(size)]
    world = server.world
    pool = pool or [PoolEntry(uuid.UUID(int=0), harness.WORKSPACE, harness.TOKEN)]
    # Workspace n is placed on entry n mod N; an instance lives where its workspace is.
    tenant_of = [ws.tenants[n % len(ws.tenants)] for n in range(size)]
    entry_of = {t: pool[i % len(pool)] for i, t in enumerate(ws.tenants)}
    ctl.reset()
    for e in pool[1:]:  # each with its own token (and budget, lifted as the settings')
        ctl.add_workspace(
            e.railway_workspace_id, e.token, rate_per_hour=UNLIMITED, rate_per_second=UNLIMITED
        )
    ctl.configure(
        rate_per_hour=UNLIMITED,
        rate_per_second=UNLIMITED,
        deploy_jitter=0,
        deploy_seconds=60,
        workflow_seconds=0,
    )
    ctl.freeze()
    # The emulator's own World methods (what projectCreate and templateDeployV2 call):
    # 2 x 10,000 requests over HTTP would only time the seeding.
    refs: dict[uuid.UUID, tuple[str, str, str, str, str]] = {}
    # Railway fills nothing from defaultValue (the client sends `value`, as the CLI does).
    config = json.loads(json.dumps(ws.serialized_config))
    for svc in config.get("services", {}).values():
        for spec in (svc.get("variables") or {}).values():
            spec["value"] = spec.get("value") or spec.get("defaultValue") or "bench"

    def deploy(iid: uuid.UUID, n: int) -> None:
        railway_id = entry_of[tenant_of[n]].railway_workspace_id
        project = world.create_project(f"railsaas-{iid}", None, railway_id, None)
        env_id = project.environment_ids[0]
        world.deploy_template(ws.railway_template_id, config, project.id, env_id, None, False)
        service_id = project.service_ids[0]
        dep = world.latest_deployment(service_id, env_id)
        domain = world.service_domains_of(service_id, env_id)[0].domain
        refs[iid] = (project.id, env_id, service_id, dep.id, domain)

    with world.lock:
        for n, (iid, kind) in enumerate(zip(ids, kinds, strict=True)):
            if kind == "settled":
                deploy(iid, n)
    ctl.advance(600)  # settled deploys are long done
    ctl.configure(deploy_seconds=10 * HOUR)  # deploying ones stay in flight all window
    with world.lock:
        for n, (iid, kind) in enumerate(zip(ids, kinds, strict=True)):
            if kind == "deploying":
                deploy(iid, n)
        start = datetime.fromtimestamp(world.now(), UTC)

    fleet = Fleet()
    rows, steps = [], []
    for n, (iid, kind) in enumerate(zip(ids, kinds, strict=True)):
        tenant_id, user_id = tenant_of[n]
        project_id, env_id, service_id, dep_id, domain = refs[iid]
        due = rng.uniform(0, cadence[kind])  # steady state: spread over one cadence
        fleet.services[service_id] = (kind, due)
        rows.append(
            {
                "id": iid,
                "tenant": tenant_id,
                "user": user_id,
                "tpl": ws.template_id,
                "name": f"app-{n}",
                "status": "deploying" if kind == "deploying" else "running",
                "project": project_id,
                "env": env_id,
                "service": service_id,
                "domain": domain,
                "changed": start - timedelta(minutes=2 if kind == "deploying" else 90),
                "due": start + timedelta(seconds=due),
                "rw": entry_of[tenant_of[n]].id if len(pool) > 1 else None,
            }
        )
        at = start - timedelta(minutes=2 if kind == "deploying" else 90)
        steps.append(
            {
                "tenant": tenant_id,
                "instance": iid,
                "dep": dep_id,
                "status": "in_progress" if kind == "deploying" else "succeeded",
                "at": at,
                "done": None if kind == "deploying" else at,
            }
        )
    engine = dbadmin.admin_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL app.role = 'system'")
        conn.execute(text("DELETE FROM deployments"))
        conn.execute(text("DELETE FROM instances"))
        conn.execute(
            text("""
            INSERT INTO instances (id, tenant_id, user_id, template_id, name, status,
                                   railway_project_id, railway_environment_id,
                                   railway_service_id, domain, config, status_changed_at,
                                   next_poll_at, created_at, railway_workspace_id)
            VALUES (:id, :tenant, :user, :tpl, :name, :status, :project, :env, :service,
                    :domain, '{}', :changed, :due, :changed, :rw)"""),
            rows,
        )
        if len(pool) > 1:
            conn.execute(
                text("UPDATE tenants SET railway_workspace_id = :rw WHERE id = :t"),
                [{"rw": e.id, "t": t[0]} for t, e in entry_of.items()],
            )
        conn.execute(
            text("""
            INSERT INTO deployments (tenant_id, instance_id, railway_deployment_id, kind,
                                     status, started_at, finished_at, created_at)
            VALUES (:tenant, :instance, :dep, 'deploy', :status, :at, :done, :at)"""),
            steps,
        )
        conn.exec_driver_sql("ANALYZE tenants")
        conn.exec_driver_sql("ANALYZE instances")
        conn.exec_driver_sql("ANALYZE deployments")
    engine.dispose()
    return fleet, start


def run_window(
    app, ctl, clock: SimClock, recorder: RecordingTransport, minutes: float, interval: float
) -> dict:
    """Call the beat task once per interval for `minutes` of simulated time."""
    from railsaas.tasks.instances import poll

    cycles = int(round(minutes * 60 / interval))
    ctl.clear_requests()
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    for n in range(cycles):
        if n and n % max(1, cycles // 10) == 0:
            print(
                f"  {n * interval / 60:5.1f} simulated min, "
                f"{sum(recorder.operations.values()):,} requests, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
        with app.app_context():
            totals.update(poll())
        clock.t += interval
        clock.cycle += 1
        ctl.advance(interval)
    wall = time.perf_counter() - started
    log = ctl.requests(limit=0)
    return {
        "cycles": cycles,
        "wall_seconds": round(wall, 1),
        "requests": log["total"],
        "by_operation": log["by_operation"],
        "by_status": log["by_status"],
        "poll_totals": dict(totals),
    }


def staleness(
    fleet: Fleet, recorder: RecordingTransport, window: float, cadence: dict[str, float]
) -> dict[str, float]:
    """The longest any instance of each class went without being asked about, counting
    from its last poll before the window (its first due time minus its cadence)."""
    worst: dict[str, float] = {"deploying": 0.0, "settled": 0.0}
    for service_id, (kind, due) in fleet.services.items():
        last = due - cadence[kind]
        gap = 0.0
        for t in recorder.asked.get(service_id, []):
            gap = max(gap, t - last)
            last = t
        gap = max(gap, window - last)
        worst[kind] = max(worst[kind], gap)
    return worst


def measure(
    app, server, ctl, database_url, ws, size, share, minutes, batch_size, rng, mode: str, pool
) -> dict:
    from railsaas.instances import cadence as poll_cadence
    from railsaas.instances import poll, steps
    from railsaas.railway import pool as railway_pool
    from railsaas.railway import reset_clients as reset_environment_client
    from railsaas.tasks import BEAT_SCHEDULE

    def reset_clients():
        railway_pool.reset_clients()
        reset_environment_client()

    interval = BEAT_SCHEDULE["instances-poll"]["schedule"].total_seconds()
    cadence = {
        "deploying": poll_cadence.FAST_POLL.total_seconds(),
        "settled": poll_cadence.SLOW_POLL.total_seconds(),
    }
    fleet, start = seed(server, ctl, database_url, ws, size, share, cadence, rng, pool)
    clock = SimClock(start)
    recorder = RecordingTransport(clock, {e.token: e.railway_workspace_id for e in pool})
    app.config.update(RAILWAY_BATCH_SIZE=batch_size, RAILWAY_CLIENT_OPTIONS={"transport": recorder})
    reset_clients()
    clocked = (poll, steps)  # each reads the time from its own `now` (cadence.now)
    real_now = [m.now for m in clocked]
    for m in clocked:
        m.now = clock.now  # the poller's clock is the simulated one
    try:
        result = run_window(app, ctl, clock, recorder, minutes, interval)
    finally:
        for m, real in zip(clocked, real_now, strict=True):
            m.now = real
        reset_clients()
    window = minutes * 60
    per_cycle = [recorder.per_cycle.get(k, 0) for k in range(result["cycles"])]
    polls_per_hour = {k: HOUR / c for k, c in cadence.items()}
    deploying, settled = fleet.count("deploying"), fleet.count("settled")
    worst = staleness(fleet, recorder, window, cadence)
    per_hour = result["requests"] * HOUR / window
    return {
        "mode": mode,
        "instances": size,
        "deploying": deploying,
        "settled": settled,
        "batch_size": batch_size,
        "beat_interval_s": interval,
        "cadence_s": cadence,
        "simulated_minutes": minutes,
        "requests": result["requests"],
        "recorded_requests": sum(recorder.operations.values()),
        "by_operation": result["by_operation"],
        "by_status": result["by_status"],
        "per_cycle": {
            "mean": round(statistics.fmean(per_cycle), 2),
            "median": statistics.median(per_cycle),
            "max": max(per_cycle),
        },
        "per_hour": round(per_hour),
        "per_hour_formula_one_per_instance": round(
            deploying * polls_per_hour["deploying"] + settled * polls_per_hour["settled"]
        ),
        "railway_workspaces": len(pool),
        "per_hour_by_workspace": {
            k: round(v * HOUR / window) for k, v in sorted(recorder.per_workspace.items())
        },
        "within_pro_budget": all(
            v * HOUR / window <= PRO_BUDGET_PER_HOUR for v in recorder.per_workspace.values()
        ),
        "max_staleness_s": {k: round(v, 1) for k, v in worst.items()},
        "fresh": worst["deploying"] <= FRESH_DEPLOYING and worst["settled"] <= FRESH_SETTLED,
        "poll_totals": result["poll_totals"],
        "wall_seconds": result["wall_seconds"],
    }


def table(results: list[dict], share: float) -> str:
    lines = [
        f"Mix: {share:.0%} deploying, the rest running. Pro budget: "
        f"{PRO_BUDGET_PER_HOUR:,} requests/hour, {PRO_BUDGET_PER_SECOND}/s.",
        "",
        "| instances | Railway workspaces | mode | batch | simulated | requests "
        "| per cycle (mean / max) | per hour | busiest workspace per hour "
        "| each within 10,000/h | max staleness deploying / settled |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        scaled = "" if r["simulated_minutes"] == 60 else " (scaled)"
        busiest = max(r["per_hour_by_workspace"].values(), default=0)
        lines.append(
            f"| {r['instances']:,} | {r['railway_workspaces']} | {r['mode']} | {r['batch_size']} "
            f"| {r['simulated_minutes']:g} min | {r['requests']:,} "
            f"| {r['per_cycle']['mean']:g} / {r['per_cycle']['max']} "
            f"| {r['per_hour']:,}{scaled} | {busiest:,} "
            f"| {'yes' if r['within_pro_budget'] else 'no'} "
            f"| {r['max_staleness_s']['deploying']:g} s / {r['max_staleness_s']['settled']:g} s |"
        )
    lines.append("")
    for r in results:
        if r["mode"] == "batched":
            c = r["cadence_s"]
            lines.append(
                f"One request per instance, computed for {r['instances']:,}: "
                f"{r['deploying']:,} x 3600/{c['deploying']:g} + {r['settled']:,} x "
                f"3600/{c['settled']:g} = {r['per_hour_formula_one_per_instance']:,}/h."
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="instance counts, comma-separated")
    parser.add_argument(
        "--deploying", type=float, default=0.01, help="share of instances deploying (default 0.01)"
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=60,
        help="simulated window of the batched poller (default 60)",
    )
    parser.add_argument(
        "--baseline-minutes",
        type=float,
        default=5,
        help="simulated window of one request per instance, scaled to the "
        "hour (default 5, one settled cadence; 0 skips it)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=0,
        help="aliases per status request (default: RAILWAY_BATCH_SIZE)",
    )
    parser.add_argument(
        "--railway-workspaces",
        type=int,
        default=1,
        help="Railway workspaces in the pool, the instances spread over them (default 1)",
    )
    parser.add_argument("--database", default="railsaas_bench_poll")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    logging.basicConfig(level=logging.WARNING)

    from devtools.emulators.railway import EmulatorControl, EmulatorServer

    token_key = Fernet.generate_key().decode()
    admin_url, redis_url = harness.servers()
    database_url = harness.fresh_database(admin_url, args.database)
    server = EmulatorServer(
        token=harness.TOKEN,
        workspace_id=harness.WORKSPACE,
        rate_per_hour=UNLIMITED,
        rate_per_second=UNLIMITED,
    ).start()
    ctl = EmulatorControl(server.url)
    harness.app_environment(
        database_url,
        redis_url,
        server.graphql_url,
        RAILWAY_RATE_PER_HOUR=str(UNLIMITED),
        RAILWAY_RATE_PER_SECOND=str(UNLIMITED),
        # Deploying instances are held in flight on purpose.
        DEPLOY_TIMEOUT_SECONDS=str(int(10 * HOUR)),
        RAILWAY_TOKEN_KEY=token_key,
    )
    template = next(t for t in ctl.templates() if t["code"] == harness.TEMPLATE_CODE)
    ws = harness.seed_workspaces(
        database_url, template, math.ceil(max(sizes) / 10), max_instances=100
    )

    pool = seed_pool(database_url, ctl, max(1, args.railway_workspaces), token_key)

    from railsaas.app import create_app

    app = create_app()
    batch = args.batch_size or int(app.config["RAILWAY_BATCH_SIZE"])
    rng = random.Random(args.seed)
    results = []
    try:
        for size in sizes:
            runs = [("batched", batch, args.minutes)]
            if args.baseline_minutes > 0:
                runs.append(("one per instance", 1, args.baseline_minutes))
            for mode, batch_size, minutes in runs:
                print(f"{size:,} instances, {mode}: {minutes:g} simulated minutes ...", flush=True)
                r = measure(
                    app,
                    server,
                    ctl,
                    database_url,
                    ws,
                    size,
                    args.deploying,
                    minutes,
                    batch_size,
                    rng,
                    mode,
                    pool,
                )
                results.append(r)
                print(
                    f"  {r['requests']:,} requests ({r['per_hour']:,}/h), per cycle "
                    f"{r['per_cycle']}, staleness {r['max_staleness_s']}, "
                    f"per Railway workspace {r['per_hour_by_workspace']}/h, "
                    f"wall {r['wall_seconds']} s",
                    flush=True,
                )
    finally:
        server.stop()
    print()
    print(table(results, args.deploying))
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "mix": {"deploying": args.deploying, "settled": 1 - args.deploying},
                    "pro_budget_per_hour": PRO_BUDGET_PER_HOUR,
                    "results": results,
                },
                indent=2,
            )
        )
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
