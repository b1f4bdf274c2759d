"""Outside development, PostgreSQL and Redis traffic is encrypted: the engines ask libpq for
TLS (`sslmode=require`, or `verify-full` with DATABASE_SSLROOTCERT), and a process refuses to
start on a setting that would allow plaintext unless the operator opted out
(railsaas/config.py `Config.insecure_transport`, docs/deploy.md).

The TLS cases run against a throwaway PostgreSQL cluster with `ssl=on` and a certificate from
a CA made here for the name `tls-db.test` (reached at 127.0.0.1 through libpq's `hostaddr`:
a server on this machine's own address is exempt from the rule); its pg_hba rejects every
non-TLS connection, so a connection that works is one that was encrypted."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from railsaas.config import Config
from railsaas.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRETS = {
    "SECRET_KEY": "k" * 40,
    "JWT_SECRET": "j" * 40,
    "RAILWAY_WEBHOOK_SECRET": "r" * 40,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "s" * 30,
    "APP_DB_PASSWORD": "p" * 24,
}
OPT_OUTS = (
    "DATABASE_ALLOW_PLAINTEXT",
    "REDIS_ALLOW_PLAINTEXT",
    "DATABASE_SSLMODE",
    "DATABASE_SSLROOTCERT",
)


def _config(monkeypatch, **env: str) -> Config:
    for name in OPT_OUTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEBUG", "0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/railsaas")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.example:6380/0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Config()


# -- the start-up rule ------------------------------------------------------------------------


def test_production_defaults_to_tls_and_accepts_tls_urls(monkeypatch):
    cfg = _config(monkeypatch)
    assert cfg.database_tls(cfg.DATABASE_URL) == {"sslmode": "require"}
    assert cfg.insecure_transport() == []


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_a_url_that_allows_plaintext_is_refused_unless_opted_out(monkeypatch, mode):
    url = f"postgresql://u@db.example/railsaas?sslmode={mode}"
    problems = _config(monkeypatch, APP_DATABASE_URL=url).insecure_transport()
    assert len(problems) == 1
    assert problems[0].startswith(f"APP_DATABASE_URL has sslmode={mode}")
    assert "DATABASE_ALLOW_PLAINTEXT=1" in problems[0]
    opted_out = _config(monkeypatch, APP_DATABASE_URL=url, DATABASE_ALLOW_PLAINTEXT="1")
    assert opted_out.insecure_transport() == []
    assert opted_out.database_tls(url) == {}  # the URL's own sslmode then applies


def test_redis_must_be_rediss_unless_opted_out(monkeypatch):
    cfg = _config(monkeypatch, CELERY_BROKER_URL="redis://broker.example:6379/0")
    assert cfg.insecure_transport() == [
        "CELERY_BROKER_URL is redis:// (unencrypted); use rediss:// (TLS), or set "
        "REDIS_ALLOW_PLAINTEXT=1 only if it is reached over a private network"
    ]
    assert (
        _config(
            monkeypatch, REDIS_URL="redis://r:6379/0", REDIS_ALLOW_PLAINTEXT="1"
        ).insecure_transport()
        == []
    )


def test_a_ca_bundle_means_verify_full_and_must_exist(monkeypatch, tmp_path):
    missing = _config(monkeypatch, DATABASE_SSLROOTCERT=str(tmp_path / "nope.pem"))
    assert "DATABASE_SSLROOTCERT" in missing.insecure_transport()[0]
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = _config(monkeypatch, DATABASE_SSLROOTCERT=str(bundle))
    assert cfg.database_tls(cfg.DATABASE_URL) == {
        "sslmode": "verify-full",
        "sslrootcert": str(bundle),
    }
    assert cfg.insecure_transport() == []
    assert (
        "not a libpq sslmode" in _config(monkeypatch, DATABASE_SSLMODE="on").insecure_transport()[0]
    )


def test_servers_on_this_machine_are_exempt(monkeypatch):
    cfg = _config(
        monkeypatch,
        DATABASE_URL="postgresql://u@127.0.0.1:5432/railsaas",
        REDIS_URL="redis://localhost:6379/0",
    )
    assert cfg.database_tls(cfg.DATABASE_URL) == {}
    assert cfg.insecure_transport() == []
    assert cfg.database_tls("postgresql://u@db.example/railsaas") == {"sslmode": "require"}


def test_development_keeps_the_urls_as_they_are(monkeypatch):
    cfg = _config(monkeypatch, DEBUG="1", REDIS_URL="redis://cache.example:6379/0")
    assert cfg.database_tls(cfg.DATABASE_URL) == {}
    cfg.check_safe_to_start()  # no exception


def _start(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OPT_OUTS}
    clean.update(
        {
            "DEBUG": "0",
            "DATABASE_URL": "postgresql://nobody@db.invalid:1/none",
            "APP_DATABASE_URL": "",
            "REDIS_URL": "rediss://redis.invalid:1/0",
            "CELERY_BROKER_URL": "",
            "SENTRY_DSN": "",
            **SECRETS,
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-c", "import railsaas.tasks.worker"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_worker_and_beat_refuse_plaintext_at_start_and_start_when_opted_out():
    refused = _start(
        DATABASE_URL="postgresql://nobody@db.invalid:1/none?sslmode=disable",
        REDIS_URL="redis://redis.invalid:1/0",
    )
    assert refused.returncode != 0
    assert "DATABASE_URL has sslmode=disable" in refused.stderr
    assert "REDIS_URL is redis://" in refused.stderr
    opted_out = _start(
        DATABASE_URL="postgresql://nobody@db.invalid:1/none?sslmode=disable",
        REDIS_URL="redis://redis.invalid:1/0",
        DATABASE_ALLOW_PLAINTEXT="1",
        REDIS_ALLOW_PLAINTEXT="1",
    )
    assert opted_out.returncode == 0, opted_out.stderr[-3000:]


# -- a real PostgreSQL with TLS on ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.crt",
        "-subj",
        f"/CN={name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )


def _as_postgres(*args: str) -> subprocess.CompletedProcess:
    user = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    return subprocess.run([*user, *args], check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tls_postgres():
    """(port, CA bundle, another CA's bundle) of a PostgreSQL that accepts TLS only."""
    if not (PG_BIN / "initdb").exists() or not shutil.which("openssl"):
        pytest.skip("needs PostgreSQL 15's server binaries and openssl")
    work = Path(tempfile.mkdtemp(prefix="railsaas-tls-pg-"))
    data, certs = work / "data", work / "certs"
    certs.mkdir()
    _make_ca(certs, "ca")
    _make_ca(certs, "other-ca")
    (certs / "san.ext").write_text("subjectAltName=DNS:tls-db.test\n")
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=tls-db.test",
        cwd=certs,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "server.crt",
        "-extfile",
        "san.ext",
        cwd=certs,
    )
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    for name in ("server.crt", "server.key"):
        shutil.copy(certs / name, data / name)
        if os.geteuid() == 0:
            shutil.chown(data / name, "postgres", "postgres")
        os.chmod(data / name, 0o600)
    (data / "pg_hba.conf").write_text(
        "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"
    )
    port = _free_port()
    _as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-t",
        "60",
        "-l",
        str(work / "pg.log"),
        "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -c ssl=on -c unix_socket_directories={work}",
        "start",
    )
    try:
        yield port, certs / "ca.crt", certs / "other-ca.crt"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(work, ignore_errors=True)


def _connect(host: str, port: int) -> tuple[bool, str]:
    """(whether the session is encrypted, its TLS version) through the app's own engine."""
    engine = make_engine(
        f"postgresql://postgres@{host}:{port}/postgres?hostaddr=127.0.0.1", pool_size=1
    )
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).one()
            return row.ssl, row.version
    finally:
        engine.dispose()


def test_production_default_connects_with_tls(monkeypatch, tls_postgres):
    port, _, _ = tls_postgres
    _config(monkeypatch)
    encrypted, version = _connect("tls-db.test", port)
    assert encrypted
    assert version.startswith("TLS")


def test_verify_full_with_the_right_ca_connects(monkeypatch, tls_postgres):
    port, ca, _ = tls_postgres
    _config(monkeypatch, DATABASE_SSLROOTCERT=str(ca))
    assert _connect("tls-db.test", port)[0]


def test_verify_full_with_a_wrong_ca_or_host_fails_clearly(monkeypatch, tls_postgres):
    port, ca, other_ca = tls_postgres
    _config(monkeypatch, DATABASE_SSLROOTCERT=str(other_ca))
    with pytest.raises(OperationalError, match="certificate verify failed"):
        _connect("tls-db.test", port)
    # The right CA, but a name the certificate was not issued for.
    monkeypatch.setenv("DATABASE_SSLROOTCERT", str(ca))
    with pytest.raises(OperationalError, match="does not match host name"):
        _connect("other-db.test", port)


def test_the_plaintext_opt_out_really_sends_plaintext(monkeypatch, tls_postgres):
    # This server rejects non-TLS sessions: the opt-out with sslmode=disable reaches it in
    # plaintext, which shows the default above is not the server's doing alone.
    port, _, _ = tls_postgres
    _config(monkeypatch, DATABASE_ALLOW_PLAINTEXT="1", DATABASE_SSLMODE="disable")
    with pytest.raises(OperationalError, match="no encryption"):
        _connect("tls-db.test", port)
