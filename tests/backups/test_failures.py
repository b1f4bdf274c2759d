"""A backup that fails is seen three ways: a failed job on /admin/jobs (job_failures), the
failure timestamp the alerts read (Redis), and an error log line; and nothing half-made is
left in the bucket. Through the beat task on a real Celery worker, and through the command."""

from __future__ import annotations

import logging
import stat
import time

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import JobFailure
from railsaas.observability.metrics import BACKUP_FAILURE_KEY, BACKUP_SUCCESS_KEY
from railsaas.platform import backups
from railsaas.tasks import backups as backup_tasks
from tests.support import wait_until


def failures() -> list[JobFailure]:
    with db.scope(SYSTEM) as s:
        return list(s.scalars(select(JobFailure).where(JobFailure.task_name == backups.TASK_NAME)))


def errors_logged(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "railsaas.platform.backups"
        and r.levelno >= logging.ERROR
        and "backup failed" in r.getMessage()
    ]


def test_a_missing_bucket_is_a_failed_job_a_timestamp_and_a_log_line(
    app, celery_worker, backup_config, redis_conn, caplog
):
    redis_conn.delete(BACKUP_FAILURE_KEY, BACKUP_SUCCESS_KEY)
    app.config["BACKUP_S3_BUCKET"] = "no-such-bucket-here"
    before = time.time()
    with app.app_context():
        backup_tasks.run.delay()

    rows = wait_until(failures, timeout=60, message="the backup's failed-job row")
    assert "NoSuchBucket" in (rows[0].message or "") + (rows[0].traceback or "")
    assert float(redis_conn.get(BACKUP_FAILURE_KEY)) >= before
    assert redis_conn.get(BACKUP_SUCCESS_KEY) is None
    assert wait_until(lambda: errors_logged(caplog), timeout=10, message="the error log line")
    key = backup_config["BACKUP_ENCRYPTION_KEY"]
    assert key not in (rows[0].message or "") + (rows[0].traceback or "")
    assert key not in caplog.text


def test_a_successful_backup_leaves_the_success_timestamp(
    app, celery_worker, backup_config, redis_conn, s3_server
):
    redis_conn.delete(BACKUP_FAILURE_KEY, BACKUP_SUCCESS_KEY)
    before = time.time()
    with app.app_context():
        backup_tasks.run.delay()
    stamp = wait_until(
        lambda: redis_conn.get(BACKUP_SUCCESS_KEY), timeout=60, message="the success timestamp"
    )
    assert float(stamp) >= before
    assert redis_conn.get(BACKUP_FAILURE_KEY) is None
    listed = s3_server.client().list_objects_v2(Bucket=backup_config["BACKUP_S3_BUCKET"])
    assert len(listed["Contents"]) == 1
    assert failures() == []


def test_pg_dump_failing_half_way_stores_nothing_and_is_a_failed_job(
    monkeypatch, tmp_path, committed, backup_config, redis_conn, s3_server, caplog
):
    """The command (what an operator or a cron process runs) records the failure itself."""
    fake = tmp_path / "pg_dump"
    fake.write_text(
        "#!/bin/sh\nprintf 'PGDMP half a dump'\n"
        "echo 'pg_dump: error: connection lost' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    for name, value in backup_config.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BACKUP_PG_BIN_DIR", str(tmp_path))
    redis_conn.delete(BACKUP_FAILURE_KEY, BACKUP_SUCCESS_KEY)
    before = time.time()

    assert backups.main(["backup"]) == 1

    rows = failures()
    assert len(rows) == 1
    assert rows[0].exception_type == "BackupError"
    assert "pg_dump failed (exit 1): pg_dump: error: connection lost" in rows[0].message
    assert float(redis_conn.get(BACKUP_FAILURE_KEY)) >= before
    assert errors_logged(caplog)
    listed = s3_server.client().list_objects_v2(Bucket=backup_config["BACKUP_S3_BUCKET"])
    assert "Contents" not in listed  # the upload was aborted, not completed with half a dump


def test_unconfigured_backups_fail_in_production_and_are_skipped_in_development(
    app, dbconn, redis_conn, monkeypatch
):
    redis_conn.delete(BACKUP_FAILURE_KEY, BACKUP_SUCCESS_KEY)
    monkeypatch.setitem(app.config, "BACKUP_S3_BUCKET", "")
    monkeypatch.setitem(app.config, "DEBUG", True)
    assert backup_tasks.run.apply().get() == "not configured"
    assert redis_conn.get(BACKUP_FAILURE_KEY) is None

    monkeypatch.setitem(app.config, "DEBUG", False)
    result = backup_tasks.run.apply()
    assert isinstance(result.result, backups.BackupError)
    assert "BACKUP_S3_BUCKET is not set" in str(result.result)
    assert redis_conn.get(BACKUP_FAILURE_KEY) is not None
    assert [f.exception_type for f in failures()] == ["BackupError"]
