"""Encrypted database backups in S3-compatible storage, restore into a new database, the
restore drill (`verify`), and retention.

    python -m railsaas.platform.backups backup             # what the daily beat task runs
    python -m railsaas.platform.backups list
    python -m railsaas.platform.backups restore KEY NEW_DATABASE
    python -m railsaas.platform.backups verify [KEY]       # restore drill into a scratch DB

A backup:
1. opens a REPEATABLE READ transaction, exports its snapshot and counts every table's rows
   in it (the manifest), so `verify` can check a restore against the very rows dumped;
2. runs `pg_dump --format=custom --snapshot=...` on that snapshot: consistent, with owners,
   grants, row-level security policies and functions (a restore must give back a database
   the app and the migrations run on as before). Roles are cluster-level and are not in it:
   `restore` creates them first, as migrations do (dbadmin.ensure_roles);
3. encrypts the stream as it comes (AES-256-GCM in 1 MiB frames, format below) and uploads
   it as a multipart upload: neither the dump nor its ciphertext is ever whole in memory or
   on disk. The key stays in the environment; the object carries only its id;
4. deletes what retention (`to_keep`) no longer keeps.

Encrypted object, format 1:

    header  b"RSBACKUP" | version 0x01 | key id (8 bytes) | nonce prefix (8 random bytes)
    frames  length (4 bytes, big-endian; top bit set on the last frame) | ciphertext + tag

Frame i is sealed with the nonce `prefix | i` (4 bytes) and authenticates the header, its
index and whether it is the last: frames cannot be reordered, dropped or cut off unnoticed,
and each is checked before any of its bytes reach pg_restore. Frame 0 is the manifest (JSON),
the others the dump; the last frame is empty.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import boto3
import psycopg
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql
from sqlalchemy.orm import Session

from railsaas import dbadmin
from railsaas.config import Config
from railsaas.extensions import redis_client
from railsaas.models import JobFailure
from railsaas.observability import logging as logs
from railsaas.observability import metrics

log = logging.getLogger(__name__)

TASK_NAME = "backups.run"  # the beat task (railsaas/tasks/backups.py) and its failure rows
MAGIC = b"RSBACKUP\x01"
FORMAT = "railsaas-backup-1"
FRAME = 1024 * 1024
_LAST = 0x80000000
_NAME = re.compile(r"railsaas-(\d{8}T\d{6}Z)\.dump\.enc$")
_STAMP = "%Y%m%dT%H%M%SZ"
# Parts of 16 MiB, four in flight: at most ~64 MiB buffered, and up to 160 GB per dump
# (S3 allows 10,000 parts).
_TRANSFER = TransferConfig(
    multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024, max_concurrency=4
)


class BackupError(RuntimeError):
    """A backup, restore or verify could not be done; the message says why."""


class WrongKey(BackupError):
    pass


class CorruptBackup(BackupError):
    pass


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    database_url: str = field(repr=False)
    keys: tuple[bytes, ...] = field(repr=False)
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    pg_bin_dir: str = ""
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 12
    # For `restore`'s roles (dbadmin.ensure_roles).
    config: Config | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_config(cls, cfg: Config | Mapping[str, Any]) -> Settings:
        """From a Config or the Flask app's config mapping."""
        values = cfg.as_flask() if isinstance(cfg, Config) else dict(cfg)
        get = values.get
        if not get("BACKUP_S3_BUCKET"):
            raise BackupError("BACKUP_S3_BUCKET is not set: backups have nowhere to go.")
        url = get("BACKUP_DATABASE_URL") or get("DATABASE_URL")
        if not url:
            raise BackupError("Neither BACKUP_DATABASE_URL nor DATABASE_URL is set.")
        full = (
            cfg
            if isinstance(cfg, Config)
            else Config(**{k: values[k] for k in Config.model_fields if k in values})
        )
        return cls(
            bucket=get("BACKUP_S3_BUCKET"),
            prefix=get("BACKUP_S3_PREFIX") or "",
            database_url=url,
            keys=parse_keys(get("BACKUP_ENCRYPTION_KEY") or ""),
            endpoint_url=get("BACKUP_S3_ENDPOINT_URL") or "",
            region=get("BACKUP_S3_REGION") or "",
            access_key_id=get("BACKUP_S3_ACCESS_KEY_ID") or "",
            secret_access_key=get("BACKUP_S3_SECRET_ACCESS_KEY") or "",
            pg_bin_dir=get("BACKUP_PG_BIN_DIR") or "",
            keep_daily=int(get("BACKUP_KEEP_DAILY", 7)),
            keep_weekly=int(get("BACKUP_KEEP_WEEKLY", 4)),
            keep_monthly=int(get("BACKUP_KEEP_MONTHLY", 12)),
            config=full,
        )


_MAKE_KEY = (
    "python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
)


def parse_keys(value: str) -> tuple[bytes, ...]:
    keys = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            key = base64.urlsafe_b64decode(
                part.replace("+", "-").replace("/", "_") + "=" * (-len(part) % 4)
            )
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise BackupError(
                "BACKUP_ENCRYPTION_KEY must be 32 random bytes in base64 "
                f"(comma-separated when several); make one with: {_MAKE_KEY}"
            )
        keys.append(key)
    if not keys:
        raise BackupError(f"BACKUP_ENCRYPTION_KEY is not set; make one with: {_MAKE_KEY}")
    return tuple(keys)


def key_id(key: bytes) -> str:
    """A fingerprint that names the key without revealing it (16 hex digits)."""
    return hashlib.sha256(b"railsaas backup key id\x00" + key).hexdigest()[:16]


# --- encryption -----------------------------------------------------------------------------


class Encryptor:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)
        self.header = MAGIC + bytes.fromhex(key_id(key)) + secrets.token_bytes(8)
        self._index = 0

    def frame(self, data: bytes, last: bool = False) -> bytes:
        if self._index >= 2**31:
            raise BackupError("dump too large for one backup")
        sealed = self._aead.encrypt(
            _nonce(self.header, self._index), data, _aad(self.header, self._index, last)
        )
        self._index += 1
        return (len(sealed) | (_LAST if last else 0)).to_bytes(4, "big") + sealed


def _nonce(header: bytes, index: int) -> bytes:
    return header[-8:] + index.to_bytes(4, "big")


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def _read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def decrypt(read: Callable[[int], bytes], keys: Iterable[bytes]) -> Iterator[bytes]:
    """The plaintext frames of an encrypted backup, each checked before it is yielded."""
    header = _read_exact(read, len(MAGIC) + 16)
    if len(header) < len(MAGIC) + 16 or not header.startswith(MAGIC):
        raise CorruptBackup("This is not a RailSaaS backup (format 1), or it is cut short.")
    wanted = header[len(MAGIC) : len(MAGIC) + 8].hex()
    key = next((k for k in keys if key_id(k) == wanted), None)
    if key is None:
        raise WrongKey(_wrong_key(wanted, keys))
    aead, index = AESGCM(key), 0
    while True:
        prefix = _read_exact(read, 4)
        if len(prefix) < 4:
            raise CorruptBackup("The backup is cut short (no final frame).")
        length = int.from_bytes(prefix, "big")
        last = bool(length & _LAST)
        sealed = _read_exact(read, length & ~_LAST)
        if len(sealed) < length & ~_LAST:
            raise CorruptBackup("The backup is cut short (a frame is incomplete).")
        try:
            plain = aead.decrypt(_nonce(header, index), sealed, _aad(header, index, last))
        except InvalidTag:
            raise CorruptBackup(
                f"Frame {index} of the backup fails authentication: the "
                "object was altered or damaged."
            ) from None
        index += 1
        if plain:
            yield plain
        if last:
            if read(1):
                raise CorruptBackup("The backup has data after its final frame.")
            return


def _wrong_key(wanted: str, keys: Iterable[bytes]) -> str:
    have = ", ".join(key_id(k) for k in keys)
    return (
        f"This backup was encrypted with key {wanted}, but BACKUP_ENCRYPTION_KEY holds "
        f"key(s) {have}. Set the key it was made with (several keys may be given, "
        "comma-separated); nothing was restored."
    )


class _EncryptingReader:
    """A file-like `read()` over pg_dump's output, encrypted frame by frame, for boto3's
    upload_fileobj. At the end it checks pg_dump's exit status and raises if it failed, so
    the multipart upload is aborted rather than a partial dump stored."""

    def __init__(self, first: bytes, source: IO[bytes], done: Callable[[], None], key: bytes):
        self._enc = Encryptor(key)
        self._buf = bytearray(self._enc.header + self._enc.frame(first))
        self._source, self._done, self._eof = source, done, False
        self.size = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buf) < size):
            chunk = _read_exact(self._source.read, FRAME)
            if chunk:
                self._buf += self._enc.frame(chunk)
            if len(chunk) < FRAME:
                self._done()  # raises if pg_dump failed
                self._buf += self._enc.frame(b"", last=True)
                self._eof = True
        n = len(self._buf) if size < 0 else min(size, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self.size += n
        return out


# --- PostgreSQL -----------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A URL for libpq without its password, and the environment that carries it (a
    password on a command line is visible to every process of the machine)."""
    parts = urlsplit(re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url))
    password = unquote(parts.password or "")
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}@{host}" if parts.username else host
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("PG", "LC_")) or k in ("PATH", "HOME", "LANG", "TZ")
    }
    env.pop("PGPASSWORD", None)
    if password:
        env["PGPASSWORD"] = password
    return urlunsplit(("postgresql", netloc, parts.path, parts.query, "")), env


def _binary(settings: Settings, name: str) -> str:
    found = str(Path(settings.pg_bin_dir) / name) if settings.pg_bin_dir else shutil.which(name)
    if not found or not Path(found).exists():
        raise BackupError(
            f"{name} not found (BACKUP_PG_BIN_DIR or PATH): the runtime needs "
            "postgresql-client of the server's major version."
        )
    return found


def _tables(cur) -> list[str]:
    return [
        r[0]
        for r in cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]


def row_counts(cur) -> dict[str, int]:
    return {
        t: cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in _tables(cur)
    }


def _policies(cur) -> int:
    return cur.execute("SELECT count(*) FROM pg_policies WHERE schemaname = 'public'").fetchone()[0]


def _stderr_text(f: IO[bytes]) -> str:
    f.seek(0)
    return f.read().decode(errors="replace").strip()[-2000:]


# --- storage --------------------------------------------------------------------------------


def s3_client(settings: Settings):
    """One client per storage account and process: each call's own client would leave its
    connection pool for the garbage collector (boto3 clients are thread-safe)."""
    return _s3_client(
        settings.endpoint_url, settings.region, settings.access_key_id, settings.secret_access_key
    )


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint_url: str, region: str, access_key_id: str, secret_access_key: str):
    config = BotoConfig(
        retries={"max_attempts": 5, "mode": "standard"},
        # Path-style for endpoints other than AWS (MinIO needs it; R2 and B2 accept it), and
        # checksums only where required: the default CRC headers of recent boto3 are not
        # accepted by every S3-compatible store.
        s3={"addressing_style": "path"} if endpoint_url else None,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=config,
    )


@dataclass(frozen=True)
class StoredBackup:
    key: str
    taken_at: datetime
    size: int


def object_key(settings: Settings, taken_at: datetime) -> str:
    return f"{settings.prefix}railsaas-{taken_at.astimezone(UTC).strftime(_STAMP)}.dump.enc"


def list_backups(settings: Settings, s3=None) -> list[StoredBackup]:
    """The backups under the prefix, oldest first (other objects there are ignored)."""
    s3 = s3 or s3_client(settings)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.bucket, Prefix=settings.prefix
    ):
        for obj in page.get("Contents", []):
            m = _NAME.search(obj["Key"])
            if m and obj["Key"][len(settings.prefix) :].count("/") == 0:
                taken = datetime.strptime(m.group(1), _STAMP).replace(tzinfo=UTC)
                found.append(StoredBackup(obj["Key"], taken, obj["Size"]))
    return sorted(found, key=lambda b: b.taken_at)


# --- retention ------------------------------------------------------------------------------


def to_keep(
    taken: Iterable[datetime], daily: int = 7, weekly: int = 4, monthly: int = 12
) -> set[datetime]:
    """Which backups to keep: the newest of each of the last `daily` days that have a backup,
    of the last `weekly` ISO weeks and of the last `monthly` months (UTC). Periods without a
    backup do not count, so backups that stopped for a while are not all expired by the
    calendar meanwhile (the rule of borg and restic)."""
    newest_first = sorted(set(taken), reverse=True)
    keep: set[datetime] = set()
    for n, period in (
        (daily, lambda t: t.date()),
        (weekly, lambda t: t.isocalendar()[:2]),
        (monthly, lambda t: (t.year, t.month)),
    ):
        seen: list = []
        for t in newest_first:
            p = period(t.astimezone(UTC))
            if p in seen:
                continue
            if len(seen) >= n:
                break
            seen.append(p)
            keep.add(t)
    return keep


def prune(settings: Settings, s3=None) -> list[str]:
    """Delete the backups retention no longer keeps; the keys deleted."""
    s3 = s3 or s3_client(settings)
    stored = list_backups(settings, s3)
    keep = to_keep(
        [b.taken_at for b in stored],
        settings.keep_daily,
        settings.keep_weekly,
        settings.keep_monthly,
    )
    doomed = [b.key for b in stored if b.taken_at not in keep]
    for i in range(0, len(doomed), 1000):  # DeleteObjects takes 1000 keys at most
        answer = s3.delete_objects(
            Bucket=settings.bucket,
            Delete={"Objects": [{"Key": k} for k in doomed[i : i + 1000]], "Quiet": True},
        )
        if answer.get("Errors"):
            raise BackupError(f"could not delete old backups: {answer['Errors'][:3]}")
    return doomed


# --- backup ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    key: str
    size: int
    seconds: float
    tables: int
    rows: int
    pruned: list[str]


def backup(settings: Settings, now: datetime | None = None, s3=None) -> BackupResult:
    """Dump, encrypt and upload one backup, then apply retention."""
    started = time.monotonic()
    taken_at = (now or datetime.now(UTC)).replace(microsecond=0)
    s3 = s3 or s3_client(settings)
    key = object_key(settings, taken_at)
    pg_dump = _binary(settings, "pg_dump")
    conninfo, env = _libpq(settings.database_url)
    with psycopg.connect(_plain(settings.database_url)) as conn, tempfile.TemporaryFile() as errors:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        cur = conn.cursor()
        # An error rather than fewer rows if a row-level security policy would filter them.
        cur.execute("SET row_security = off")
        snapshot = cur.execute("SELECT pg_export_snapshot()").fetchone()[0]
        manifest = {
            "format": FORMAT,
            "taken_at": taken_at.isoformat(),
            "database": dbadmin.database_name(settings.database_url),
            "server_version": cur.execute("SHOW server_version").fetchone()[0],
            "counts": row_counts(cur),
            "policies": _policies(cur),
        }
        proc = subprocess.Popen(  # noqa: S603  (our binary, our arguments)
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-password",
                f"--dbname={conninfo}",
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )

        def finished() -> None:
            if proc.wait() != 0:
                raise BackupError(
                    f"pg_dump failed (exit {proc.returncode}): {_stderr_text(errors)}"
                )

        reader = _EncryptingReader(
            json.dumps(manifest).encode(), proc.stdout, finished, settings.keys[0]
        )
        try:
            s3.upload_fileobj(
                reader,
                settings.bucket,
                key,
                Config=_TRANSFER,
                ExtraArgs={
                    "ContentType": "application/octet-stream",
                    "Metadata": {
                        "format": FORMAT,
                        "key-id": key_id(settings.keys[0]),
                        "taken-at": taken_at.isoformat(),
                    },
                },
            )
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    pruned = prune(settings, s3)
    return BackupResult(
        key,
        reader.size,
        time.monotonic() - started,
        len(manifest["counts"]),
        sum(manifest["counts"].values()),
        pruned,
    )


def run(
    source: Settings | Config | Mapping[str, Any], redis, now: datetime | None = None
) -> BackupResult:
    """A backup (settings, or the config to read them from) with its outcome recorded for
    the alerts (railsaas_backup_last_success / _failure) and logged. Raises on failure: the
    caller makes it a failed job."""
    try:
        settings = source if isinstance(source, Settings) else Settings.from_config(source)
        result = backup(settings, now)
    except Exception as exc:
        metrics.backup_finished(redis, ok=False)
        log.error("database backup failed: %s", exc, exc_info=True)
        raise
    metrics.backup_finished(redis, ok=True)
    log.info(
        "database backup stored",
        extra={
            "key": result.key,
            "bytes": result.size,
            "seconds": round(result.seconds, 1),
            "tables": result.tables,
            "rows": result.rows,
            "pruned": len(result.pruned),
        },
    )
    return result


def record_failure(cfg: Config, exc: BaseException) -> None:
    """A failed backup run outside Celery (the command) as a failed job on /admin/jobs, as
    the worker's task_failure hook does for the beat task."""
    engine = dbadmin.admin_engine(cfg.system_database_url)  # job_failures: system/admin only
    try:
        with Session(engine) as session, session.begin():
            session.add(
                JobFailure(
                    task_name=TASK_NAME,
                    exception_type=type(exc).__name__,
                    message=logs.redactor(str(exc))[:2000],
                    traceback=logs.redactor("".join(traceback.format_exception(exc)))[-20000:],
                )
            )
    finally:
        engine.dispose()


# --- restore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    database: str
    manifest: dict
    seconds: float


def _admin_url(settings: Settings) -> str:
    return settings.database_url


def _database_exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        )


def _plain(url: str) -> str:
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def restore(settings: Settings, key: str, database: str, s3=None) -> Restored:
    """Fetch, decrypt and restore backup `key` into the new database `database` (created
    here; never an existing one). On any failure the new database is dropped again."""
    started = time.monotonic()
    admin = _admin_url(settings)
    live = dbadmin.database_name(admin)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", database):
        raise BackupError("The new database's name must be letters, digits and _ (at most 63).")
    if database == live or _database_exists(admin, database):
        raise BackupError(
            f"Database {database} exists: restore goes into a new database only, never over one."
        )
    s3 = s3 or s3_client(settings)
    try:
        head = s3.head_object(Bucket=settings.bucket, Key=key)
    except ClientError as exc:
        raise BackupError(f"No backup {key} in bucket {settings.bucket}: {exc}") from exc
    wanted = head.get("Metadata", {}).get("key-id", "")
    if wanted and wanted not in {key_id(k) for k in settings.keys}:
        raise WrongKey(_wrong_key(wanted, settings.keys))
    pg_restore = _binary(settings, "pg_restore")
    dbadmin.create_database(admin, database)
    target = dbadmin.with_database(admin, database)
    try:
        engine = dbadmin.admin_engine(target)
        with engine.begin() as conn:  # roles are cluster-level: not in the dump
            dbadmin.ensure_roles(conn, settings.config or Config())
        engine.dispose()
        manifest = _pg_restore(settings, pg_restore, s3, key, target)
    except BaseException:
        drop_database(admin, database)
        raise
    return Restored(database, manifest, time.monotonic() - started)


def _pg_restore(settings: Settings, pg_restore: str, s3, key: str, target: str) -> dict:
    conninfo, env = _libpq(target)
    body = s3.get_object(Bucket=settings.bucket, Key=key)["Body"]
    frames = decrypt(body.read, settings.keys)
    try:
        manifest = json.loads(next(frames))
    except StopIteration:
        raise CorruptBackup("The backup holds no manifest.") from None
    with tempfile.TemporaryFile() as errors:
        # One transaction: a restore that stops half-way leaves nothing behind.
        proc = subprocess.Popen(  # noqa: S603  (our binary, our arguments)
            [
                pg_restore,
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--dbname={conninfo}",
            ],
            stdin=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        try:
            for chunk in frames:
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # pg_restore stopped: its exit status and errors say why
        except BaseException:
            proc.kill()  # before it sees the end of its input and commits
            proc.wait()
            raise
        finally:
            body.close()
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        if proc.wait() != 0:
            raise BackupError(f"pg_restore failed (exit {proc.returncode}): {_stderr_text(errors)}")
    return manifest


# --- the restore drill ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    key: str
    seconds: float
    restore_seconds: float
    tables: int
    rows: int
    mismatches: dict[str, tuple[int | None, int | None]]  # table -> (dumped, restored)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify(settings: Settings, key: str | None = None, s3=None) -> Verification:
    """Restore a backup (the newest by default) into a scratch database, compare its row
    counts per table (and its policies) with those counted in the dump's own snapshot, then
    drop the scratch database."""
    started = time.monotonic()
    s3 = s3 or s3_client(settings)
    if key is None:
        stored = list_backups(settings, s3)
        if not stored:
            raise BackupError(f"No backups under {settings.bucket}/{settings.prefix}.")
        key = stored[-1].key
    admin = _admin_url(settings)
    scratch = f"{dbadmin.database_name(admin)[:40]}_verify_{secrets.token_hex(4)}"
    restored = restore(settings, key, scratch, s3)
    try:
        with psycopg.connect(_plain(dbadmin.with_database(admin, scratch))) as conn:
            cur = conn.cursor()
            cur.execute("SET row_security = off")
            counts, policies = row_counts(cur), _policies(cur)
    finally:
        drop_database(admin, scratch)
    dumped = restored.manifest["counts"]
    mismatches = {
        t: (dumped.get(t), counts.get(t))
        for t in set(dumped) | set(counts)
        if dumped.get(t) != counts.get(t)
    }
    if policies != restored.manifest.get("policies"):
        mismatches["(row-level security policies)"] = (restored.manifest.get("policies"), policies)
    return Verification(
        key,
        time.monotonic() - started,
        restored.seconds,
        len(counts),
        sum(counts.values()),
        mismatches,
    )


# --- command --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m railsaas.platform.backups", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backup", help="dump, encrypt, upload, apply retention")
    sub.add_parser("list", help="the stored backups, oldest first")
    p = sub.add_parser("restore", help="restore a backup into a NEW database")
    p.add_argument("key", help="object key (see `list`), or `latest`")
    p.add_argument("database", help="name of the database to create")
    p = sub.add_parser("verify", help="restore drill: scratch restore, compare, drop")
    p.add_argument("key", nargs="?", help="object key (default: the newest)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = Config()
    try:
        if args.command == "backup":
            try:
                r = run(cfg, redis_client(cfg.REDIS_URL) if cfg.REDIS_URL else None)
            except Exception as exc:
                _record_failure_safely(cfg, exc)
                raise
            print(
                f"stored {r.key}: {r.size} bytes, {r.tables} tables, {r.rows} rows, "
                f"{r.seconds:.1f} s; deleted {len(r.pruned)} old"
            )
            return 0
        settings = Settings.from_config(cfg)
        if args.command == "list":
            for b in list_backups(settings):
                print(f"{b.key}\t{b.taken_at.isoformat()}\t{b.size}")
        elif args.command == "restore":
            key = args.key
            if key == "latest":
                stored = list_backups(settings)
                if not stored:
                    raise BackupError("No backups to restore.")
                key = stored[-1].key
            r = restore(settings, key, args.database)
            print(
                f"restored {key} into {r.database} in {r.seconds:.1f} s "
                f"({sum(r.manifest['counts'].values())} rows dumped)"
            )
        else:
            v = verify(settings, args.key)
            print(
                f"{v.key}: restored in {v.restore_seconds:.1f} s, checked in "
                f"{v.seconds:.1f} s: {v.tables} tables, {v.rows} rows"
            )
            for table, (dumped, got) in sorted(v.mismatches.items()):
                print(f"MISMATCH {table}: {dumped} dumped, {got} restored")
            return 0 if v.ok else 1
    except (BackupError, BotoCoreError, ClientError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _record_failure_safely(cfg: Config, exc: BaseException) -> None:
    try:
        record_failure(cfg, exc)
    except Exception:  # the database may be why it failed: the log line stays
        log.exception("could not record the failed backup as a failed job")


if __name__ == "__main__":
    sys.exit(main())
