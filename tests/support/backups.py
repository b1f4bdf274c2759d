"""Helpers for tests/backups: the local S3 server, and reading databases whole."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import psycopg
from botocore.config import Config
from psycopg import sql


@dataclass(frozen=True)
class S3Server:
    url: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test-access-key",
            aws_secret_access_key="test-secret-access-key",
            config=Config(s3={"addressing_style": "path"}),
        )


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def every_row(database_url: str) -> dict[str, list[str]]:
    """Every table of the public schema -> its rows as text, sorted (read as the
    administrator, so row-level security hides nothing)."""
    with psycopg.connect(_plain(database_url)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            t: [
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT x::text FROM {} x ORDER BY 1").format(sql.Identifier(t))
                )
            ]
            for t in tables
        }


def schema_facts(database_url: str) -> dict:
    """What a restore must bring back besides rows: owners, row-level security flags,
    policies, grants and functions. (An ACL equal to the owner's default is compared as
    that default: pg_dump rightly leaves it out.)"""
    with psycopg.connect(_plain(database_url)) as conn:

        def q(query: str) -> list[tuple]:
            return sorted(conn.execute(query).fetchall())

        return {
            "tables": q(
                "SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, "
                "c.relforcerowsecurity, coalesce(c.relacl, acldefault((CASE c.relkind "
                "WHEN 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner))::text "
                "FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v')"
            ),
            "policies": q(
                "SELECT tablename, policyname, cmd, roles::text, qual, with_check "
                "FROM pg_policies WHERE schemaname = 'public'"
            ),
            "functions": q(
                "SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef, "
                "coalesce(p.proacl, acldefault('f'::\"char\", p.proowner))::text "
                "FROM pg_proc p JOIN pg_namespace n "
                "ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            ),
        }


def database_exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(_plain(admin_url)) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
