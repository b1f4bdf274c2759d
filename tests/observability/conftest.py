"""Fixtures for the observability tests: read what our log handler writes, sign in admins."""

from __future__ import annotations

import pytest

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import User
from tests.support.logs import capture_logs


@pytest.fixture
def log_output(app):
    """Everything our root handler writes during the test (JSON lines, as configured)."""
    with capture_logs() as captured:
        yield captured


def make_admin(user) -> None:
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
    user.role = "admin"


@pytest.fixture
def admin_user(factory):
    user, _tenant = factory.workspace(name="Admin Person")
    make_admin(user)
    return user
