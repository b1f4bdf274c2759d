"""Writing rows that belong to no workspace (tenant_id NULL) from an ordinary request.

The policies let the web login insert such rows into audit_log, emails and outbox (a failed
login for an unknown email, a reset link for a person) while only the admin and system
logins read them. But INSERT ... RETURNING, which the ORM uses to fetch generated ids and
defaults, must read the new row back, and the web login's SELECT policy refuses: "new row
violates row-level security policy". So these rows are inserted with a plain INSERT and no
RETURNING, in the caller's own transaction and login: a UUID key is made here, an identity
key read back with currval() (this connection's last value of the sequence).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, func, insert, inspect, select
from sqlalchemy.orm import Session

from railsaas.models import Base


def insert_row(session: Session, row: Base) -> None:
    """Insert `row` (a new, unsaved model object) without reading it back, and set its
    primary key. The object stays outside the session: the web login could not load it."""
    session.flush()  # pending changes first, in order
    mapper = inspect(row).mapper
    table = mapper.local_table
    (pk,) = table.primary_key.columns
    pk_attr = mapper.get_property_by_column(pk).key
    if isinstance(pk.type, Uuid) and getattr(row, pk_attr) is None:
        setattr(row, pk_attr, uuid.uuid4())
    values = {}
    for attr in mapper.column_attrs:
        (column,) = attr.columns
        value = getattr(row, attr.key)
        if value is not None:
            values[column.name] = value
    # inline(): no implicit RETURNING of the generated key either
    session.execute(insert(table).values(**values).inline())
    if getattr(row, pk_attr) is None:  # an identity column
        sequence = func.pg_get_serial_sequence(table.name, pk.name)
        setattr(row, pk_attr, session.scalar(select(func.currval(sequence))))
