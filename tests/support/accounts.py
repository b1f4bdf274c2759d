"""Helpers for tests/accounts (test modules import them from here, not from a conftest)."""

from __future__ import annotations

import re


def emailed_link(to: str, kind: str) -> str:
    """The path of the link in the newest stored email of `kind` to `to` (the outbox row the
    mail task will send)."""
    from sqlalchemy import select

    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Email

    with db.scope(SYSTEM) as s:
        email = s.scalars(select(Email).where(Email.to_address == to, Email.kind == kind)
                          .order_by(Email.created_at.desc())).first()
        assert email is not None, f"no {kind} email to {to}"
        m = re.search(r"https?://[^/\s]+(/\S+)", email.text_body)
        assert m, email.text_body
        return m.group(1)
