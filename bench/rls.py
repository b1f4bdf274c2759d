"""Row-level security overhead: the app's hot queries as the web login under RLS, against the
same queries as a superuser (RLS never applies to one), with pgbench on the same data.

    .venv/bin/python -m bench.rls [--database railsaas_bench] [--seconds 10] [--rounds 3]
                                  [--clients 4] [--policy-filter] [--explain]

Run bench.dataset first. Both sides run the identical script (set_config included), so the
only difference is the policies. Target: at most 10% slower under RLS.

--policy-filter: the RLS side leaves out the query's own `tenant_id = :tid` and lets the
policy carry it (the superuser side keeps it: it has no policy). --explain: print the
planner's row estimate of each query's scan instead of timing it, per side.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import text

from bench.dataset import bench_url
from railsaas import dbadmin
from railsaas.config import Config, _with_user

# Each query gets the workspace's id as :tid (from bench_tenants) and filters by it, as the
# application does; RLS is the net under that filter.
QUERIES = {
    "instance list (50 newest)": """
        SELECT id, name, status, domain, created_at FROM instances
        WHERE tenant_id = :tid ORDER BY created_at DESC LIMIT 50;""",
    "status counts": """
        SELECT status, count(*) FROM instances WHERE tenant_id = :tid GROUP BY status;""",
    "usage this period by instance": """
        SELECT instance_id, metric_type, sum(value) FROM usage_metrics
        WHERE tenant_id = :tid AND recorded_at >= now() - interval '30 days'
        GROUP BY instance_id, metric_type;""",
    "recent deployments": """
        SELECT d.id, d.status, d.created_at, i.name FROM deployments d
        JOIN instances i ON i.id = d.instance_id
        WHERE d.tenant_id = :tid ORDER BY d.created_at DESC LIMIT 20;""",
}

# The same queries with the tenant filter left to the web login's policy.
POLICY_FILTERED = {
    name: query.replace("WHERE tenant_id = :tid AND ", "WHERE ")
    .replace("WHERE d.tenant_id = :tid ", "")
    .replace("WHERE tenant_id = :tid ", "")
    for name, query in QUERIES.items()
}

SCRIPT = """\\set n random(1, {workspaces})
BEGIN;
SELECT id AS tid FROM bench_tenants WHERE n = :n \\gset
SELECT set_config('app.tenant_id', :tid, true), set_config('app.user_id', '', true);
{query}
END;
"""


def prepare(url: str) -> int:
    """A lookup table n -> tenant id that both roles may read (no RLS on it)."""
    engine = dbadmin.admin_engine(url)
    cfg = Config()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_tenants")
        conn.exec_driver_sql(
            "CREATE TABLE bench_tenants AS SELECT row_number() OVER (ORDER BY slug) AS n, "
            "id FROM tenants"
        )
        conn.exec_driver_sql("CREATE UNIQUE INDEX ON bench_tenants (n)")
        conn.exec_driver_sql(f'GRANT SELECT ON bench_tenants TO "{cfg.APP_DB_USER}"')
        count = conn.execute(text("SELECT count(*) FROM bench_tenants")).scalar()
    engine.dispose()
    return count


def pgbench(
    url: str, script: Path, seconds: int, clients: int, retries: int = 2
) -> tuple[float, float]:
    cmd = [
        "pgbench",
        "-n",
        "-M",
        "prepared",
        "-T",
        str(seconds),
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-f",
        str(script),
        url,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True)
    while run.returncode != 0 and retries:
        # On a shared server another process may terminate the login's connections (a test
        # of the database going away): that round is lost, not the run.
        print(f"  pgbench failed ({run.stderr.strip().splitlines()[-1:]}); again", flush=True)
        retries -= 1
        run = subprocess.run(cmd, capture_output=True, text=True)
    run.check_returncode()
    out = run.stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return tps, latency


def explain(url: str, app_url: str, policy_filter: bool) -> None:
    """The planner's estimated rows at the top scan node of each query, per side."""
    su_engine, app_engine = dbadmin.admin_engine(url), dbadmin.admin_engine(app_url)
    with su_engine.connect() as conn:
        tid = conn.execute(text("SELECT id FROM bench_tenants WHERE n = 1")).scalar()
    print(f"{'query':<32} {'superuser rows':>15} {'web+RLS rows':>13}")
    for name, query in QUERIES.items():
        rls_query = POLICY_FILTERED[name] if policy_filter else query
        estimates = []
        for engine, q in ((su_engine, query), (app_engine, rls_query)):
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "SELECT set_config('app.tenant_id', :t, true), "
                        "set_config('app.user_id', '', true)"
                    ),
                    {"t": str(tid)},
                )
                plan = conn.execute(
                    text("EXPLAIN (FORMAT JSON) " + q.strip().rstrip(";")), {"tid": tid}
                ).scalar()
            estimates.append(_scan_rows(plan[0]["Plan"]))
        print(f"{name:<32} {estimates[0]:>15} {estimates[1]:>13}", flush=True)
    su_engine.dispose()
    app_engine.dispose()


def _scan_rows(node: dict) -> int:
    """Estimated rows of the first scan of the query's main table (depth-first)."""
    if "Scan" in node["Node Type"] and node.get("Relation Name") not in (None, "bench_tenants"):
        return node["Plan Rows"]
    for child in node.get("Plans", []):
        if child.get("Parent Relationship") == "InitPlan":
            continue
        rows = _scan_rows(child)
        if rows is not None:
            return rows
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="railsaas_bench")
    parser.add_argument("--seconds", type=int, default=10, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--policy-filter",
        action="store_true",
        help="the RLS side leaves the tenant filter to the policy",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print row estimates instead of timing"
    )
    args = parser.parse_args()

    url = bench_url(args.database)
    workspaces = prepare(url)
    cfg = Config()
    app_url = _with_user(url, cfg.APP_DB_USER, cfg.APP_DB_PASSWORD)
    if args.explain:
        explain(url, app_url, args.policy_filter)
        return
    print(
        f"{'query':<32} {'superuser tps':>14} {'app+RLS tps':>12} {'slower':>8} "
        f"{'lat su ms':>10} {'lat RLS ms':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, query in QUERIES.items():
            script = Path(tmp) / "q.sql"
            script.write_text(SCRIPT.format(workspaces=workspaces, query=query.strip()))
            rls_script = Path(tmp) / "q_rls.sql"
            rls_query = POLICY_FILTERED[name] if args.policy_filter else query
            rls_script.write_text(SCRIPT.format(workspaces=workspaces, query=rls_query.strip()))
            # Warm both sides' caches, then alternate rounds so drift in the machine's load
            # falls on both alike; the median round of each side is reported.
            pgbench(url, script, 2, args.clients)
            pgbench(app_url, rls_script, 2, args.clients)
            su, app = [], []
            for _ in range(args.rounds):
                su.append(pgbench(url, script, args.seconds, args.clients))
                app.append(pgbench(app_url, rls_script, args.seconds, args.clients))
            (su_tps, su_lat), (app_tps, app_lat) = _median(su), _median(app)
            slower = (su_tps / app_tps - 1) * 100
            print(
                f"{name:<32} {su_tps:>14.0f} {app_tps:>12.0f} {slower:>7.1f}% "
                f"{su_lat:>10.2f} {app_lat:>11.2f}",
                flush=True,
            )


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return sorted(runs)[len(runs) // 2]


if __name__ == "__main__":
    main()
