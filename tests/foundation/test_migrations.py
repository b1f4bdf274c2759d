"""Migrations: upgrade and downgrade both work on a fresh database, and the models agree
with what the migrations build."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from railsaas import dbadmin
from railsaas.models import Base


@pytest.fixture
def fresh_database(servers):
    name = "railsaas_migrations_check"
    dbadmin.create_database(servers.admin_url, name, drop_first=True)
    url = dbadmin.with_database(servers.admin_url, name)
    yield url
    engine = dbadmin.admin_engine(servers.admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def _tables(url: str) -> set[str]:
    engine = dbadmin.admin_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_head_to_base_to_head_on_a_fresh_database(fresh_database):
    dbadmin.migrate(fresh_database)
    assert _tables(fresh_database) == set(Base.metadata.tables)
    dbadmin.downgrade(fresh_database, "base")
    assert _tables(fresh_database) == set()
    dbadmin.migrate(fresh_database)
    assert _tables(fresh_database) == set(Base.metadata.tables)


def test_models_match_the_migrated_schema(servers):
    engine = dbadmin.admin_engine(servers.database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == [], "models and migrations disagree: write a migration"
