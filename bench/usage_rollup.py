"""Time the usage roll-up against a plain GROUP BY over the same rows.

    .venv/bin/python -m bench.usage_rollup --rows 10000000

Uses BENCH_DATABASE_URL (a server where it may create a database) or an embedded
PostgreSQL under .local/bench-pg. Rows are hourly samples of five metrics for `--instances`
instances. Prints: the plain GROUP BY, the first (full) roll-up, an incremental run over
`--new` fresh rows, and a rerun with nothing new.
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--new", type=int, default=10_000)
    args = parser.parse_args()

    from railsaas import dbadmin, embedded

    admin_url = os.environ.get("BENCH_DATABASE_URL") or embedded.start_postgres(
        embedded.local_dir() / "bench-pg")
    dbadmin.create_database(admin_url, "railsaas_bench", drop_first=True)
    url = dbadmin.with_database(admin_url, "railsaas_bench")
    os.environ.update({"DATABASE_URL": url, "APP_DATABASE_URL": "", "REDIS_URL": ""})
    dbadmin.migrate(url)

    from railsaas import create_app
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.services import usage

    app = create_app()
    hours = max(1, args.rows // (args.instances * 5))
    with app.app_context(), db.scope(SYSTEM) as s:
        s.execute(text("""
            INSERT INTO tenants (name, slug) SELECT 't' || g, 't-' || g
            FROM generate_series(1, :n) g"""), {"n": args.tenants})
        s.execute(text("""
            INSERT INTO templates (railway_template_id, name, category, price_tier, resources)
            VALUES ('bench', 'Bench', 'cms', 'starter', '{}')"""))
        s.execute(text("""
            INSERT INTO instances (tenant_id, template_id, name, status)
            SELECT (SELECT id FROM tenants ORDER BY slug OFFSET (g % :t) LIMIT 1),
                   (SELECT id FROM templates), 'i-' || g, 'running'
            FROM generate_series(1, :n) g"""), {"n": args.instances, "t": args.tenants})
    print(f"inserting {args.instances * hours * 5:,} usage rows ...", flush=True)
    started = time.perf_counter()
    with app.app_context(), db.scope(SYSTEM) as s:
        s.execute(text("""
            INSERT INTO usage_metrics (tenant_id, instance_id, metric_type, value, unit,
                                       recorded_at)
            SELECT i.tenant_id, i.id, m.metric, (random() * 60)::numeric(18, 6), 'x',
                   timestamptz '2026-01-01' + h * interval '1 hour'
            FROM instances i
            CROSS JOIN generate_series(0, :hours - 1) h
            CROSS JOIN unnest(ARRAY['CPU_USAGE', 'MEMORY_USAGE_GB', 'DISK_USAGE_GB',
                                    'BACKUP_USAGE_GB', 'NETWORK_TX_GB']) m(metric)"""),
                  {"hours": hours})
    print(f"  {time.perf_counter() - started:.1f}s", flush=True)
    engine = dbadmin.admin_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()

    def timed(label, fn):
        started = time.perf_counter()
        out = fn()
        print(f"{label:<34} {time.perf_counter() - started:8.2f}s  {out}", flush=True)

    plain = text("""SELECT count(*) FROM (
        SELECT tenant_id, (recorded_at AT TIME ZONE 'UTC')::date, instance_id, metric_type,
               sum(value) FROM usage_metrics GROUP BY 1, 2, 3, 4) g""")
    with app.app_context(), db.scope(SYSTEM) as s:
        timed("plain GROUP BY (app role)", lambda: s.execute(plain).scalar())
    with app.app_context(), db.scope(SYSTEM) as s:
        timed("roll-up, first run", lambda: usage.rollup(s))
    with app.app_context(), db.scope(SYSTEM) as s:
        s.execute(text("""
            INSERT INTO usage_metrics (tenant_id, instance_id, metric_type, value, unit,
                                       recorded_at)
            SELECT i.tenant_id, i.id, 'CPU_USAGE', 1, 'x',
                   timestamptz '2027-01-01' + g * interval '1 hour'
            FROM (SELECT * FROM instances LIMIT 100) i
            CROSS JOIN generate_series(1, :per) g"""), {"per": max(1, args.new // 100)})
    with app.app_context(), db.scope(SYSTEM) as s:
        timed(f"roll-up, {args.new:,} new rows", lambda: usage.rollup(s))
    with app.app_context(), db.scope(SYSTEM) as s:
        timed("roll-up, nothing new", lambda: usage.rollup(s))


if __name__ == "__main__":
    main()
