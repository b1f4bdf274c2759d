"""Fixtures for the observability tests: read what our log handler writes, sign in admins."""

from __future__ import annotations

import io
import json

import pytest

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import User


class LogCapture:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@pytest.fixture
def log_output(app):
    """Everything our root handler writes during the test (JSON lines, as configured)."""
    from railsaas.observability.logging import installed_handler

    handler = installed_handler()
    assert handler is not None, "create_app installs the railsaas log handler"
    stream = io.StringIO()
    previous = handler._explicit
    handler.stream = stream
    try:
        yield LogCapture(stream)
    finally:
        handler.stream = previous


def make_admin(user) -> None:
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
    user.role = "admin"


@pytest.fixture
def admin_user(factory):
    user, _tenant = factory.workspace(name="Admin Person")
    make_admin(user)
    return user
