"""Time the usage roll-up against a plain GROUP BY over the same usage_metrics rows.

    .venv/bin/python -m bench.usage_rollup [--build] [--database railsaas_bench]
                                           [--usage-rows 10000000] [--repeat 3]

`--build` first makes the data set with bench.dataset; without it the existing one is used.
Both look on the same server as bench.dataset (BENCH_DATABASE_URL, default the machine's
PostgreSQL), so the data set built there is the one timed here.
Prints a plain GROUP BY over the same rows with the same grouping (counted, and materialised
into a temporary table), as the app role under RLS like the roll-up; the roll-up from
scratch; an incremental run over `--new` fresh rows; and a rerun with nothing new. Best of
`--repeat` for the first three.
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import text

# The same grouping as the roll-up (workspace, UTC day, instance, measurement). Counted, the
# planner may skip computing the sums; materialised, it must compute and store them, as the
# roll-up does.
GROUP_BY = """
    SELECT tenant_id, (recorded_at AT TIME ZONE 'UTC')::date AS day, instance_id, metric_type,
           sum(value) AS quantity
    FROM usage_metrics GROUP BY 1, 2, 3, 4"""
PLAIN_COUNTED = text(f"SELECT count(*) FROM ({GROUP_BY}) g")  # noqa: S608 (constant text)
PLAIN_STORED = text(f"CREATE TEMP TABLE plain_group_by ON COMMIT DROP AS {GROUP_BY}")  # noqa: S608


def reset(s) -> None:
    s.execute(text("DELETE FROM usage_rollups"))
    s.execute(text("UPDATE usage_rollup_marks SET last_seq = 0"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--database", default="railsaas_bench")
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--instances-per", type=int, default=50)
    parser.add_argument("--usage-rows", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from bench import dataset
    from railsaas import dbadmin

    if args.build:
        url = dataset.build(args.database, args.workspaces, args.instances_per, args.usage_rows)
    else:
        url = dataset.bench_url(args.database)
        dbadmin.migrate(url)
    os.environ.update({"DATABASE_URL": url, "APP_DATABASE_URL": "", "REDIS_URL": ""})

    from railsaas.app import create_app
    from railsaas.billing import usage
    from railsaas.db import SYSTEM
    from railsaas.extensions import db

    app = create_app()

    def best(label: str, prepare, run) -> None:
        times, out = [], None
        for _ in range(args.repeat):
            with app.app_context(), db.scope(SYSTEM) as s:
                prepare(s)
            with app.app_context(), db.scope(SYSTEM) as s:
                started = time.perf_counter()
                out = run(s)
                times.append(time.perf_counter() - started)
        print(
            f"{label:<40} {min(times):8.2f} s  (runs: "
            f"{', '.join(f'{t:.2f}' for t in times)})  {out}",
            flush=True,
        )

    rows = 0
    with app.app_context(), db.scope(SYSTEM) as s:
        rows = s.execute(text("SELECT count(*) FROM usage_metrics")).scalar()
    print(f"usage_metrics: {rows:,} rows", flush=True)
    nothing = lambda s: None  # noqa: E731
    best("plain GROUP BY, counted", nothing, lambda s: s.execute(PLAIN_COUNTED).scalar())
    best("plain GROUP BY, materialised", nothing, lambda s: s.execute(PLAIN_STORED).rowcount)
    best("roll-up from scratch", reset, usage.rollup)
    with app.app_context(), db.scope(SYSTEM) as s:
        s.execute(
            text("""
            INSERT INTO usage_metrics (tenant_id, instance_id, metric_type, value, unit,
                                       recorded_at)
            SELECT i.tenant_id, i.id, 'CPU_USAGE', 1, 'vCPU-min',
                   (SELECT max(recorded_at) FROM usage_metrics) + g * interval '1 hour'
            FROM (SELECT * FROM instances ORDER BY id LIMIT 100) i
            CROSS JOIN generate_series(1, :per) g
            ON CONFLICT DO NOTHING"""),
            {"per": max(1, args.new // 100)},
        )
    with app.app_context(), db.scope(SYSTEM) as s:
        started = time.perf_counter()
        out = usage.rollup(s)
        print(f"{'roll-up, new rows only':<40} {time.perf_counter() - started:8.2f} s  {out}")
    with app.app_context(), db.scope(SYSTEM) as s:
        started = time.perf_counter()
        out = usage.rollup(s)
        print(f"{'roll-up, nothing new':<40} {time.perf_counter() - started:8.2f} s  {out}")


if __name__ == "__main__":
    main()
