"""Accounts tests: sign-in throttles and email throttles live in the shared test Redis, so
each test starts with none of them set."""

from __future__ import annotations

import pytest

from tests.support import CsrfClient
from tests.support.accounts import emailed_link  # noqa: F401
from tests.support.redis import AUTH


@pytest.fixture(autouse=True)
def _clear_auth_counters(redis_conn):
    redis_conn.forget(AUTH)
    yield
    redis_conn.forget(AUTH)


@pytest.fixture
def browser(app, client):
    return CsrfClient(app, client, refetch=True)


@pytest.fixture
def new_browser(app, dbconn):
    return lambda **kw: CsrfClient(app, app.test_client(**kw), refetch=True)
