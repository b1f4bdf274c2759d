"""Backups tests: a local S3 server (moto's, in this process, on a free port), a fresh bucket
per test, and the app's BACKUP_* settings pointing at it for the duration of the test."""

from __future__ import annotations

import base64
import logging
import os
import uuid

import pytest

from tests.support.backups import S3Server


@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer

    access_log = logging.getLogger("werkzeug")  # the server's line per request
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Server(url=f"http://{host}:{port}")
    server.stop()
    access_log.setLevel(level)


@pytest.fixture
def backup_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def backup_config(app, servers, s3_server, backup_key):
    """The app's BACKUP_* settings for a new, empty bucket on the local S3 server; returns
    them as a dict (what Settings.from_config and the environment take)."""
    values = {
        "BACKUP_S3_BUCKET": f"backups-{uuid.uuid4().hex[:12]}",
        "BACKUP_S3_PREFIX": "railsaas/",
        "BACKUP_S3_ENDPOINT_URL": s3_server.url,
        "BACKUP_S3_REGION": "us-east-1",
        "BACKUP_S3_ACCESS_KEY_ID": "test-access-key",
        "BACKUP_S3_SECRET_ACCESS_KEY": "test-secret-access-key",
        "BACKUP_ENCRYPTION_KEY": backup_key,
        "BACKUP_DATABASE_URL": servers.database_url,
        "BACKUP_PG_BIN_DIR": "",
    }
    s3_server.client().create_bucket(Bucket=values["BACKUP_S3_BUCKET"])
    saved = {k: app.config.get(k) for k in values}
    app.config.update(values)
    yield values
    app.config.update(saved)
