"""Generate the benchmark data set: 1,000 workspaces, 50,000 instances, 10 million
usage_metrics rows (plus users, memberships, plans, templates, subscriptions, deployments).

    .venv/bin/python -m bench.dataset [--workspaces 1000] [--instances-per 50]
                                      [--usage-rows 10000000] [--database railsaas_bench]

BENCH_DATABASE_URL names a server and a role that may create databases and roles (default:
the machine's PostgreSQL, postgresql://postgres@127.0.0.1:5432/postgres). The database is
dropped, recreated and migrated, then filled set-based in SQL (INSERT ... SELECT over
generate_series), as the system role so row-level security admits the rows.
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import text

from railsaas import dbadmin

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
METRICS = [
    ("CPU_USAGE", "vCPU-min"),
    ("MEMORY_USAGE_GB", "GB-min"),
    ("NETWORK_TX_GB", "GB"),
    ("DISK_USAGE_GB", "GB-min"),
]


def bench_url(database: str) -> str:
    return dbadmin.with_database(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL), database)


def build(database: str, workspaces: int, instances_per: int, usage_rows: int) -> str:
    admin = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    dbadmin.create_database(admin, database, drop_first=True)
    url = dbadmin.with_database(admin, database)
    os.environ["DATABASE_URL"] = url
    dbadmin.migrate(url)
    instances = workspaces * instances_per
    hours = max(1, usage_rows // (instances * len(METRICS)))
    engine = dbadmin.admin_engine(url)
    steps = [
        (
            "plans",
            """
            INSERT INTO plans (name, slug, price_cents, max_instances, allowed_tiers,
                               spend_cap_default_cents)
            VALUES ('Starter', 'starter', 900, 2, '{starter}', 2000),
                   ('Pro', 'pro', 2900, 10, '{starter,standard}', 10000),
                   ('Business', 'business', 9900, 100, '{starter,standard,pro}', 50000)""",
        ),
        (
            "templates",
            """
            INSERT INTO templates (railway_template_id, code, name, category, price_tier,
                                   resources, monthly_estimate_cents)
            SELECT 'bench-' || g, 'bench-' || g, 'Template ' || g,
                   (ARRAY['cms','automation','database','analytics'])[1 + g % 4],
                   (ARRAY['starter','standard','pro'])[1 + g % 3],
                   '{"cpu": 1, "memory_mb": 512}', 500 + g * 100
            FROM generate_series(1, 12) g""",
        ),
        (
            "tenants",
            """
            INSERT INTO tenants (name, slug, plan_id, created_at)
            SELECT 'Workspace ' || g, 'ws-' || g,
                   (SELECT id FROM plans ORDER BY price_cents OFFSET (g % 3) LIMIT 1),
                   now() - (g % 365) * interval '1 day'
            FROM generate_series(1, :workspaces) g""",
        ),
        (
            "users",
            """
            INSERT INTO users (email, password_hash, name, email_verified, created_at)
            SELECT 'user' || g || '@bench.test', 'x', 'User ' || g, true, t.created_at
            FROM generate_series(1, :workspaces) g JOIN tenants t ON t.slug = 'ws-' || g""",
        ),
        (
            "memberships",
            """
            INSERT INTO memberships (tenant_id, user_id, role)
            SELECT t.id, u.id, 'owner' FROM tenants t
            JOIN users u ON u.email = 'user' || substr(t.slug, 4) || '@bench.test'""",
        ),
        (
            "subscriptions",
            """
            INSERT INTO subscriptions (tenant_id, plan_id, plan_name, status,
                                       stripe_subscription_id, current_period_start,
                                       current_period_end, created_at)
            SELECT t.id, t.plan_id, p.name,
                   CASE WHEN random() < 0.9 THEN 'active' ELSE 'canceled' END,
                   'sub_bench_' || t.slug, date_trunc('month', now()),
                   date_trunc('month', now()) + interval '1 month', t.created_at
            FROM tenants t JOIN plans p ON p.id = t.plan_id""",
        ),
        (
            "instances",
            """
            INSERT INTO instances (tenant_id, user_id, template_id, name, status,
                                   railway_project_id, railway_service_id, domain, config,
                                   created_at, next_poll_at)
            SELECT m.tenant_id, m.user_id,
                   (SELECT id FROM templates ORDER BY code OFFSET (i % 12) LIMIT 1),
                   'app-' || i, CASE WHEN i % 50 = 0 THEN 'deploying'
                                     WHEN i % 17 = 0 THEN 'stopped' ELSE 'running' END,
                   'prj-' || m.tenant_id || '-' || i, 'svc-' || m.tenant_id || '-' || i,
                   'app-' || i || '-' || substr(m.tenant_id::text, 1, 8) || '.up.railway.app',
                   '{}', now() - (i % 90) * interval '1 day', now() + (i % 300) * interval '1 s'
            FROM memberships m CROSS JOIN generate_series(1, :per) i""",
        ),
        (
            "deployments",
            """
            INSERT INTO deployments (tenant_id, instance_id, railway_deployment_id, kind, status,
                                     started_at, finished_at, created_at)
            SELECT i.tenant_id, i.id, 'dep-' || i.id || '-' || k,
                   CASE WHEN k = 1 THEN 'deploy' ELSE 'redeploy' END, 'SUCCESS',
                   i.created_at + k * interval '1 hour',
                   i.created_at + k * interval '1 hour' + interval '90 s',
                   i.created_at + k * interval '1 hour'
            FROM instances i CROSS JOIN generate_series(1, 2) k""",
        ),
        (
            "usage_metrics",
            """
            INSERT INTO usage_metrics (tenant_id, instance_id, metric_type, value, unit,
                                       recorded_at)
            SELECT i.tenant_id, i.id, m.metric_type, round((random() * 10)::numeric, 4),
                   m.unit, date_trunc('hour', now()) - h * interval '1 hour'
            FROM instances i
            CROSS JOIN generate_series(1, :hours) h
            CROSS JOIN (VALUES """
            + ", ".join(f"('{t}', '{u}')" for t, u in METRICS)
            + """)
                 AS m(metric_type, unit)""",
        ),
    ]
    params = {"workspaces": workspaces, "per": instances_per, "hours": hours}
    with engine.connect() as conn:
        conn.exec_driver_sql("SET app.role = 'system'")  # session-wide: RLS admits the rows
        for name, sql in steps:
            started = time.perf_counter()
            conn.execute(text(sql), params)
            conn.commit()
            count = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar()
            print(
                f"{name:<14} {count:>10,} rows  {time.perf_counter() - started:7.1f} s", flush=True
            )
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="railsaas_bench")
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--instances-per", type=int, default=50)
    parser.add_argument("--usage-rows", type=int, default=10_000_000)
    args = parser.parse_args()
    build(args.database, args.workspaces, args.instances_per, args.usage_rows)


if __name__ == "__main__":
    main()
