"""The CI/CD pipeline's tests: the workflows (actionlint and their structure) and the scripts
the deploy job runs, each against a real local stand-in (a fake `railway` executable on PATH,
small HTTP servers). Nothing here needs PostgreSQL, Redis or the app, except
test_production_build.py, which builds and runs the app as Railway would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.helpers import LocalServer, serve


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1; set its `handler` to choose the answers."""
    with serve() as server:
        yield server
