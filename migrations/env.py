"""Alembic environment: connect with DATABASE_URL, make sure the roles exist, then run every
migration as the owner role so it owns what it creates."""

from alembic import context

from railsaas import dbadmin
from railsaas.config import Config
from railsaas.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    cfg = Config()
    url = config.attributes.get("database_url") or cfg.DATABASE_URL
    if not url:
        raise SystemExit("DATABASE_URL is not set")
    engine = dbadmin.admin_engine(url)
    with engine.connect() as connection:
        dbadmin.ensure_roles(connection, cfg)
        dbadmin.become_owner(connection, cfg)
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
