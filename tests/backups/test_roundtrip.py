"""Backup -> restore against the real PostgreSQL and a local S3 server: every row, owner,
grant and row-level security policy comes back; the key never reaches the bucket; a wrong
key or a damaged object is refused clearly and restores nothing."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

from railsaas import dbadmin
from railsaas.platform import backups
from tests.support.backups import database_exists, drop_database, every_row, schema_facts


@pytest.fixture
def settings(backup_config, app):
    return backups.Settings.from_config(app.config)


@pytest.fixture
def world(committed_factory):
    """Rows in many tables, committed (pg_dump reads what is committed)."""
    f = committed_factory
    plan = f.plan()
    users = []
    for _ in range(3):
        user, tenant = f.workspace(name="Zoë O'Brien \u2603")
        tenant_template = f.template(setup_config={"variables": [{"name": "X", "v": [1, 2]}]})
        f.instance(tenant, tenant_template, config={"nested": {"a": None}})
        users.append(user)
    return {"plan": plan, "users": users}


@pytest.fixture
def new_database(servers):
    name = f"restored_{uuid.uuid4().hex[:10]}"
    yield name
    drop_database(servers.admin_url, name)


def test_a_restored_backup_equals_the_database(servers, settings, world, new_database):
    result = backups.backup(settings)
    assert result.key.startswith("railsaas/railsaas-")
    assert result.key.endswith(".dump.enc")
    assert result.rows >= 9

    restored = backups.restore(settings, result.key, new_database)
    target = dbadmin.with_database(servers.admin_url, new_database)
    source_rows, restored_rows = every_row(servers.database_url), every_row(target)
    assert restored_rows == source_rows
    assert len(source_rows["users"]) == 3
    assert restored.manifest["counts"] == {t: len(r) for t, r in source_rows.items()}
    assert schema_facts(target) == schema_facts(servers.database_url)


def test_the_logins_see_the_restored_database_through_their_policies(
    app, servers, settings, world, new_database
):
    backups.restore(settings, backups.backup(settings).key, new_database)
    url = dbadmin.with_database(servers.admin_url, new_database)
    parts = urlsplit(url)

    def connect(kind: str) -> psycopg.Connection:
        prefix = {"web": "APP", "system": "SYSTEM"}[kind]
        return psycopg.connect(
            host=parts.hostname,
            port=parts.port,
            dbname=new_database,
            user=app.config[f"{prefix}_DB_USER"],
            password=app.config[f"{prefix}_DB_PASSWORD"],
        )

    with connect("web") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0  # no context
        # The restored policies are the per-login ones: no setting widens the web login.
        conn.execute("SELECT set_config('app.role', 'system', true)")
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_log")
    with connect("system") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 3


def test_the_key_never_reaches_the_bucket(s3_server, settings, backup_config, world):
    key_text = backup_config["BACKUP_ENCRYPTION_KEY"]
    raw_key = base64.b64decode(key_text)
    result = backups.backup(settings)
    s3 = s3_server.client()
    obj = s3.get_object(Bucket=settings.bucket, Key=result.key)
    body = obj["Body"].read()
    assert raw_key not in body
    assert key_text.encode() not in body
    assert base64.urlsafe_b64encode(raw_key) not in body
    # Encrypted: not even the rows' text is readable.
    assert world["users"][0].email.encode() not in body
    assert b"PGDMP" not in body
    assert set(obj["Metadata"]) == {"format", "key-id", "taken-at"}
    assert obj["Metadata"]["key-id"] == backups.key_id(raw_key)
    assert not any(key_text in v or raw_key.hex() in v for v in obj["Metadata"].values())
    listed = s3.list_objects_v2(Bucket=settings.bucket)["Contents"]
    assert [o["Key"] for o in listed] == [result.key]


def test_a_wrong_key_is_named_and_restores_nothing(servers, settings, world, new_database):
    result = backups.backup(settings)
    other = os.urandom(32)
    wrong = dataclasses.replace(settings, keys=(other,))
    with pytest.raises(backups.WrongKey) as err:
        backups.restore(wrong, result.key, new_database)
    message = str(err.value)
    assert backups.key_id(settings.keys[0]) in message
    assert backups.key_id(other) in message
    assert "nothing was restored" in message
    assert not database_exists(servers.admin_url, new_database)


def test_a_wrong_key_is_caught_from_the_object_itself_without_metadata(
    s3_server, servers, settings, world, new_database
):
    result = backups.backup(settings)
    s3 = s3_server.client()
    bare = result.key.replace(".dump.enc", ".copy")
    s3.copy_object(
        Bucket=settings.bucket,
        Key=bare,
        MetadataDirective="REPLACE",
        Metadata={},
        CopySource={"Bucket": settings.bucket, "Key": result.key},
    )
    wrong = dataclasses.replace(settings, keys=(os.urandom(32),))
    with pytest.raises(backups.WrongKey):
        backups.restore(wrong, bare, new_database)
    assert not database_exists(servers.admin_url, new_database)


@pytest.mark.parametrize("damage", ["flip a byte", "cut short"])
def test_a_damaged_backup_is_refused_and_restores_nothing(
    s3_server, servers, settings, world, new_database, damage
):
    result = backups.backup(settings)
    s3 = s3_server.client()
    body = bytearray(s3.get_object(Bucket=settings.bucket, Key=result.key)["Body"].read())
    if damage == "flip a byte":
        body[len(body) - 100] ^= 0x01  # inside the dump, after the restore has begun
    else:
        body = body[:-30]
    s3.put_object(
        Bucket=settings.bucket,
        Key=result.key,
        Body=bytes(body),
        Metadata={"key-id": backups.key_id(settings.keys[0])},
    )
    with pytest.raises(backups.CorruptBackup):
        backups.restore(settings, result.key, new_database)
    assert not database_exists(servers.admin_url, new_database)


def test_restore_never_goes_over_an_existing_database(servers, settings, world):
    result = backups.backup(settings)
    live = dbadmin.database_name(servers.database_url)
    before = every_row(servers.database_url)
    with pytest.raises(backups.BackupError, match="new database only"):
        backups.restore(settings, result.key, live)
    assert every_row(servers.database_url) == before


def test_the_restore_drill_compares_counts_and_drops_its_scratch_database(servers, settings, world):
    backups.backup(settings)
    report = backups.verify(settings)
    assert report.ok, report.mismatches
    assert report.tables == len(every_row(servers.database_url))
    assert report.rows >= 9
    assert 0 < report.restore_seconds <= report.seconds
    with psycopg.connect(servers.admin_url) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", ("%_verify_%",)
        ).fetchall()
    assert left == []


def test_the_command_lists_and_verifies(monkeypatch, capsys, backup_config, settings, world):
    for name, value in backup_config.items():
        monkeypatch.setenv(name, value)
    assert backups.main(["backup"]) == 0
    assert backups.main(["list"]) == 0
    out = capsys.readouterr().out
    key = backups.list_backups(settings)[0].key
    assert key in out
    assert backups.main(["verify"]) == 0
    assert "restored in" in capsys.readouterr().out
