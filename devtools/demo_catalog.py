"""The demo catalog: real Railway marketplace templates (codes and names as on
railway.com/deploy/<code>) with serializedConfig-shaped services and variables. The seed
puts them in our catalog and the Railway emulator serves them as its marketplace.

Variables follow the shape the CLI reads: `defaultValue`, `description`, `isOptional`.
- a customer fills in a variable that has no defaultValue and is not optional
  (`needs_input` in railsaas.railway.types.TemplateVariable);
- `${{secret(N)}}` / `${{secret(N, "alphabet")}}` are generated at deploy time;
- `${{Service.VAR}}` and `${{RAILWAY_PUBLIC_DOMAIN}}` are references Railway renders.
The images, ports and variable names are those the public templates use; the exact configs
on Railway differ in detail (health checks, regions), which nothing here depends on.
"""

from __future__ import annotations

import uuid
from typing import Any

_NS = uuid.UUID("6f1c1e64-6a3f-4b7e-9a41-5a0d9e2c7b11")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _var(default: str | None = None, description: str = "", optional: bool = False) -> dict:
    spec: dict[str, Any] = {"description": description, "isOptional": optional}
    if default is not None:
        spec["defaultValue"] = default
    return spec


def _service(
    code: str,
    name: str,
    image: str,
    *,
    icon: str,
    port: int | None = None,
    volume: str | None = None,
    variables: dict | None = None,
    start: str | None = None,
    healthcheck: str | None = None,
) -> tuple[str, dict]:
    key = _id(code, name)
    svc: dict[str, Any] = {
        "name": name,
        "icon": icon,
        "source": {"image": image},
        "build": {},
        "deploy": {
            "startCommand": start,
            "healthcheckPath": healthcheck,
            "restartPolicyType": "ON_FAILURE",
            "restartPolicyMaxRetries": 10,
        },
        "networking": {"serviceDomains": {}, "tcpProxies": {}},
        "variables": variables or {},
    }
    if port:
        svc["networking"]["serviceDomains"] = {_id(code, name, "domain"): {"port": port}}
    if volume:
        svc["volumeMounts"] = {_id(code, name, "volume"): {"mountPath": volume}}
    return key, svc


ICON = "https://devicons.railway.com/i/{}.svg"


def _postgres(code: str, name: str = "Postgres") -> tuple[str, dict]:
    return _service(
        code,
        name,
        "ghcr.io/railwayapp-templates/postgres-ssl:16",
        icon=ICON.format("postgresql"),
        volume="/var/lib/postgresql/data",
        variables={
            "POSTGRES_USER": _var("postgres", "Superuser name"),
            "POSTGRES_PASSWORD": _var("${{secret(32)}}", "Superuser password"),
            "POSTGRES_DB": _var("railway", "Default database"),
            "PGDATA": _var("/var/lib/postgresql/data/pgdata", "Data directory"),
            "PGHOST": _var("${{RAILWAY_PRIVATE_DOMAIN}}", "Private host"),
            "PGPORT": _var("5432", "Port"),
            "PGUSER": _var("${{POSTGRES_USER}}", "User"),
            "PGPASSWORD": _var("${{POSTGRES_PASSWORD}}", "Password"),
            "PGDATABASE": _var("${{POSTGRES_DB}}", "Database"),
            "DATABASE_URL": _var(
                "postgresql://${{PGUSER}}:${{POSTGRES_PASSWORD}}@"
                "${{RAILWAY_PRIVATE_DOMAIN}}:5432/${{PGDATABASE}}",
                "Connection URL on the private network",
            ),
        },
    )


def _mysql(code: str, name: str = "MySQL") -> tuple[str, dict]:
    return _service(
        code,
        name,
        "mysql:8.4",
        icon=ICON.format("mysql"),
        volume="/var/lib/mysql",
        variables={
            "MYSQL_ROOT_PASSWORD": _var("${{secret(32)}}", "Root password"),
            "MYSQL_DATABASE": _var("railway", "Default database"),
            "MYSQLHOST": _var("${{RAILWAY_PRIVATE_DOMAIN}}", "Private host"),
            "MYSQLPORT": _var("3306", "Port"),
            "MYSQLUSER": _var("root", "User"),
            "MYSQLPASSWORD": _var("${{MYSQL_ROOT_PASSWORD}}", "Password"),
            "MYSQLDATABASE": _var("${{MYSQL_DATABASE}}", "Database"),
            "MYSQL_URL": _var(
                "mysql://${{MYSQLUSER}}:${{MYSQL_ROOT_PASSWORD}}@"
                "${{RAILWAY_PRIVATE_DOMAIN}}:3306/${{MYSQL_DATABASE}}",
                "Connection URL on the private network",
            ),
        },
    )


def _redis(code: str, name: str = "Redis") -> tuple[str, dict]:
    return _service(
        code,
        name,
        "redis:7.4",
        icon=ICON.format("redis"),
        volume="/data",
        start='/bin/sh -c "redis-server --requirepass $REDIS_PASSWORD"',
        variables={
            "REDIS_PASSWORD": _var("${{secret(32)}}", "Password"),
            "REDISHOST": _var("${{RAILWAY_PRIVATE_DOMAIN}}", "Private host"),
            "REDISPORT": _var("6379", "Port"),
            "REDIS_URL": _var(
                "redis://default:${{REDIS_PASSWORD}}@${{RAILWAY_PRIVATE_DOMAIN}}:6379",
                "Connection URL on the private network",
            ),
        },
    )


def _template(
    code: str,
    name: str,
    description: str,
    category: str,
    icon: str,
    services: list[tuple[str, dict]],
    tags: list[str],
    languages: list[str] | None = None,
    projects: int = 1000,
) -> dict:
    return {
        "id": _id("template", code),
        "code": code,
        "name": name,
        "description": description,
        "category": category,
        "image": icon,
        "status": "PUBLISHED",
        "isApproved": True,
        "isVerified": True,
        "isV2Template": True,
        "tags": tags,
        "languages": languages or [],
        "health": 95.0,
        "projects": projects,
        "activeProjects": projects // 2,
        "recentProjects": projects // 20,
        "workspaceId": None,
        "readme": f"# {name}\n\n{description}\n\nDeploys: "
        + ", ".join(s["name"] for _, s in services)
        + ".",
        "serializedConfig": {"services": dict(services)},
    }


def seed_templates() -> list[dict]:
    """Fresh copies (callers may mutate them)."""
    return [
        _template(
            "ghost",
            "Ghost",
            "Professional publishing platform: blog, newsletter and memberships.",
            "CMS",
            ICON.format("ghost"),
            [
                _service(
                    "ghost",
                    "Ghost",
                    "ghost:5-alpine",
                    icon=ICON.format("ghost"),
                    port=2368,
                    volume="/var/lib/ghost/content",
                    healthcheck="/",
                    variables={
                        "url": _var("https://${{RAILWAY_PUBLIC_DOMAIN}}", "Public URL of the blog"),
                        "database__client": _var("mysql", "Database driver"),
                        "database__connection__host": _var("${{MySQL.MYSQLHOST}}"),
                        "database__connection__user": _var("${{MySQL.MYSQLUSER}}"),
                        "database__connection__password": _var("${{MySQL.MYSQLPASSWORD}}"),
                        "database__connection__database": _var("${{MySQL.MYSQLDATABASE}}"),
                        "mail__from": _var(None, "Sender address of Ghost's emails", optional=True),
                        "mail__transport": _var("SMTP", "Mail transport", optional=True),
                    },
                ),
                _mysql("ghost"),
            ],
            ["blog", "cms", "newsletter"],
            ["JavaScript"],
            4200,
        ),
        _template(
            "n8n",
            "n8n",
            "Workflow automation with 400+ integrations.",
            "Automation",
            ICON.format("n8n"),
            [
                _service(
                    "n8n",
                    "n8n",
                    "n8nio/n8n:1",
                    icon=ICON.format("n8n"),
                    port=5678,
                    volume="/home/node/.n8n",
                    healthcheck="/healthz",
                    variables={
                        "N8N_ENCRYPTION_KEY": _var(
                            "${{secret(32)}}", "Encrypts stored credentials"
                        ),
                        "GENERIC_TIMEZONE": _var("UTC", "Timezone for schedules"),
                        "WEBHOOK_URL": _var("https://${{RAILWAY_PUBLIC_DOMAIN}}"),
                        "DB_TYPE": _var("postgresdb"),
                        "DB_POSTGRESDB_HOST": _var("${{Postgres.PGHOST}}"),
                        "DB_POSTGRESDB_USER": _var("${{Postgres.PGUSER}}"),
                        "DB_POSTGRESDB_PASSWORD": _var("${{Postgres.PGPASSWORD}}"),
                        "DB_POSTGRESDB_DATABASE": _var("${{Postgres.PGDATABASE}}"),
                    },
                ),
                _postgres("n8n"),
            ],
            ["automation", "workflows", "no-code"],
            ["TypeScript"],
            9800,
        ),
        _template(
            "postgres",
            "PostgreSQL",
            "The world's most advanced open source database.",
            "Databases",
            ICON.format("postgresql"),
            [_postgres("postgres")],
            ["database", "sql"],
            ["SQL"],
            250000,
        ),
        _template(
            "redis",
            "Redis",
            "In-memory data store: cache, queue and pub/sub.",
            "Databases",
            ICON.format("redis"),
            [_redis("redis")],
            ["database", "cache"],
            ["C"],
            120000,
        ),
        _template(
            "mysql",
            "MySQL",
            "The popular open source relational database.",
            "Databases",
            ICON.format("mysql"),
            [_mysql("mysql")],
            ["database", "sql"],
            ["SQL"],
            60000,
        ),
        _template(
            "mongodb",
            "MongoDB",
            "Document database for JSON-shaped data.",
            "Databases",
            ICON.format("mongodb"),
            [
                _service(
                    "mongodb",
                    "MongoDB",
                    "mongo:7",
                    icon=ICON.format("mongodb"),
                    volume="/data/db",
                    variables={
                        "MONGO_INITDB_ROOT_USERNAME": _var("mongo", "Root user"),
                        "MONGO_INITDB_ROOT_PASSWORD": _var("${{secret(32)}}", "Root password"),
                        "MONGO_URL": _var(
                            "mongodb://${{MONGO_INITDB_ROOT_USERNAME}}:"
                            "${{MONGO_INITDB_ROOT_PASSWORD}}@"
                            "${{RAILWAY_PRIVATE_DOMAIN}}:27017"
                        ),
                    },
                ),
            ],
            ["database", "nosql"],
            ["JavaScript"],
            40000,
        ),
        _template(
            "umami",
            "Umami",
            "Simple, privacy-focused web analytics.",
            "Analytics",
            ICON.format("umami"),
            [
                _service(
                    "umami",
                    "Umami",
                    "ghcr.io/umami-software/umami:postgresql-latest",
                    icon=ICON.format("umami"),
                    port=3000,
                    healthcheck="/api/heartbeat",
                    variables={
                        "DATABASE_URL": _var("${{Postgres.DATABASE_URL}}"),
                        "APP_SECRET": _var("${{secret(64)}}", "Signs sessions"),
                        "DISABLE_TELEMETRY": _var("1", optional=True),
                    },
                ),
                _postgres("umami"),
            ],
            ["analytics", "privacy"],
            ["TypeScript"],
            7600,
        ),
        _template(
            "uptime-kuma",
            "Uptime Kuma",
            "Self-hosted monitoring: HTTP, TCP, DNS, with status pages and alerts.",
            "Observability",
            ICON.format("uptimekuma"),
            [
                _service(
                    "uptime-kuma",
                    "Uptime Kuma",
                    "louislam/uptime-kuma:1",
                    icon=ICON.format("uptimekuma"),
                    port=3001,
                    volume="/app/data",
                    variables={"PORT": _var("3001", "Port the app listens on")},
                ),
            ],
            ["monitoring", "status-page"],
            ["JavaScript"],
            8800,
        ),
        _template(
            "plausible",
            "Plausible Analytics",
            "Lightweight, cookie-free web analytics.",
            "Analytics",
            ICON.format("plausible"),
            [
                _service(
                    "plausible",
                    "Plausible",
                    "ghcr.io/plausible/community-edition:v2",
                    icon=ICON.format("plausible"),
                    port=8000,
                    variables={
                        "BASE_URL": _var("https://${{RAILWAY_PUBLIC_DOMAIN}}"),
                        "SECRET_KEY_BASE": _var("${{secret(64)}}"),
                        "TOTP_VAULT_KEY": _var("${{secret(32)}}"),
                        "DATABASE_URL": _var("${{Postgres.DATABASE_URL}}"),
                        "CLICKHOUSE_DATABASE_URL": _var(
                            "http://${{ClickHouse.RAILWAY_PRIVATE_DOMAIN}}:8123/plausible"
                        ),
                        "DISABLE_REGISTRATION": _var("invite_only", optional=True),
                    },
                ),
                _postgres("plausible"),
                _service(
                    "plausible",
                    "ClickHouse",
                    "clickhouse/clickhouse-server:24.3",
                    icon=ICON.format("clickhouse"),
                    volume="/var/lib/clickhouse",
                    variables={},
                ),
            ],
            ["analytics", "privacy"],
            ["Elixir"],
            3100,
        ),
        _template(
            "minio",
            "MinIO",
            "S3-compatible object storage.",
            "Storage",
            ICON.format("minio"),
            [
                _service(
                    "minio",
                    "MinIO",
                    "minio/minio:latest",
                    icon=ICON.format("minio"),
                    port=9001,
                    volume="/data",
                    start="minio server /data --console-address :9001",
                    variables={
                        "MINIO_ROOT_USER": _var(
                            None, "Administrator user name (at least 3 characters)"
                        ),
                        "MINIO_ROOT_PASSWORD": _var("${{secret(40)}}", "Administrator password"),
                    },
                ),
            ],
            ["storage", "s3"],
            ["Go"],
            5200,
        ),
        _template(
            "metabase",
            "Metabase",
            "Business intelligence and dashboards for everyone.",
            "Analytics",
            ICON.format("metabase"),
            [
                _service(
                    "metabase",
                    "Metabase",
                    "metabase/metabase:latest",
                    icon=ICON.format("metabase"),
                    port=3000,
                    healthcheck="/api/health",
                    variables={
                        "MB_DB_TYPE": _var("postgres"),
                        "MB_DB_CONNECTION_URI": _var(
                            "postgres://${{Postgres.PGUSER}}:"
                            "${{Postgres.PGPASSWORD}}@${{Postgres.PGHOST}}:5432/"
                            "${{Postgres.PGDATABASE}}"
                        ),
                        "MB_SITE_URL": _var("https://${{RAILWAY_PUBLIC_DOMAIN}}"),
                        "MB_JETTY_PORT": _var("3000"),
                    },
                ),
                _postgres("metabase"),
            ],
            ["bi", "dashboards"],
            ["Clojure"],
            4500,
        ),
        _template(
            "directus",
            "Directus",
            "Headless CMS and instant API for any SQL database.",
            "CMS",
            ICON.format("directus"),
            [
                _service(
                    "directus",
                    "Directus",
                    "directus/directus:11",
                    icon=ICON.format("directus"),
                    port=8055,
                    volume="/directus/uploads",
                    healthcheck="/server/health",
                    variables={
                        "ADMIN_EMAIL": _var(None, "E-mail of the first administrator"),
                        "ADMIN_PASSWORD": _var(
                            "${{secret(24)}}", "Password of the first administrator"
                        ),
                        "KEY": _var("${{secret(32)}}"),
                        "SECRET": _var("${{secret(64)}}"),
                        "PUBLIC_URL": _var("https://${{RAILWAY_PUBLIC_DOMAIN}}"),
                        "DB_CLIENT": _var("pg"),
                        "DB_CONNECTION_STRING": _var("${{Postgres.DATABASE_URL}}"),
                        "REDIS": _var("${{Redis.REDIS_URL}}"),
                    },
                ),
                _postgres("directus"),
                _redis("directus"),
            ],
            ["cms", "headless", "api"],
            ["TypeScript"],
            3900,
        ),
        _template(
            "strapi",
            "Strapi",
            "Open-source headless CMS built with Node.js.",
            "CMS",
            ICON.format("strapi"),
            [
                _service(
                    "strapi",
                    "Strapi",
                    "ghcr.io/railwayapp-templates/strapi:5",
                    icon=ICON.format("strapi"),
                    port=1337,
                    healthcheck="/_health",
                    variables={
                        "APP_KEYS": _var("${{secret(32)}},${{secret(32)}}"),
                        "ADMIN_JWT_SECRET": _var("${{secret(32)}}"),
                        "JWT_SECRET": _var("${{secret(32)}}"),
                        "API_TOKEN_SALT": _var("${{secret(32)}}"),
                        "TRANSFER_TOKEN_SALT": _var("${{secret(32)}}"),
                        "DATABASE_URL": _var("${{Postgres.DATABASE_URL}}"),
                        "STRAPI_TELEMETRY_DISABLED": _var("true", optional=True),
                    },
                ),
                _postgres("strapi"),
            ],
            ["cms", "headless"],
            ["TypeScript"],
            6100,
        ),
        _template(
            "wordpress",
            "WordPress",
            "The blogging and website platform behind 40% of the web.",
            "CMS",
            ICON.format("wordpress"),
            [
                _service(
                    "wordpress",
                    "WordPress",
                    "wordpress:6-apache",
                    icon=ICON.format("wordpress"),
                    port=80,
                    volume="/var/www/html",
                    variables={
                        "WORDPRESS_DB_HOST": _var("${{MySQL.MYSQLHOST}}:3306"),
                        "WORDPRESS_DB_USER": _var("${{MySQL.MYSQLUSER}}"),
                        "WORDPRESS_DB_PASSWORD": _var("${{MySQL.MYSQLPASSWORD}}"),
                        "WORDPRESS_DB_NAME": _var("${{MySQL.MYSQLDATABASE}}"),
                        "WORDPRESS_TABLE_PREFIX": _var("wp_", optional=True),
                    },
                ),
                _mysql("wordpress"),
            ],
            ["blog", "cms"],
            ["PHP"],
            11000,
        ),
    ]
