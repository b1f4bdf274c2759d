"""Outside development (DEBUG=0) nothing starts on a default, missing or short secret: not
the web app (`import wsgi`, which gunicorn does), not the worker or beat (both load
railsaas.tasks.worker). Each entry point runs in a process of its own, as in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from railsaas.config import REQUIRED_SECRETS

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "SECRET_KEY": "k" * 40,
    "JWT_SECRET": "j" * 40,
    "RAILWAY_WEBHOOK_SECRET": "r" * 40,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "s" * 30,
    "APP_DB_PASSWORD": "p" * 24,
    # One login per kind of work (docs/security.md), each with its own password.
    "ADMIN_DB_PASSWORD": "a" * 24,
    "SYSTEM_DB_PASSWORD": "y" * 24,
}
ENTRY_POINTS = {
    "web": "import wsgi",
    "worker and beat": "import railsaas.tasks.worker",
}


def _start(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED_SECRETS}
    clean.update(
        {
            "DEBUG": "0",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SENTRY_DSN": "",
            # plaintext is the subject of tests/foundation/test_transport_security.py
            "DATABASE_ALLOW_PLAINTEXT": "1",
            "REDIS_ALLOW_PLAINTEXT": "1",
        }
    )
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_guard_covers_the_secrets_that_forge_sessions_tokens_and_webhooks():
    assert set(REQUIRED_SECRETS) == set(GOOD)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_with_every_secret_unset_nothing_starts_and_each_variable_is_named(entry):
    result = _start(ENTRY_POINTS[entry])
    assert result.returncode != 0
    for name in REQUIRED_SECRETS:
        assert f"{name} is the development default" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr  # how to make a good one


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("name", sorted(REQUIRED_SECRETS))
def test_one_bad_secret_is_enough_to_refuse(entry, name):
    for bad, why in (("", "is not set"), ("short", "is 5 characters long")):
        result = _start(ENTRY_POINTS[entry], **{**GOOD, name: bad})
        assert result.returncode != 0, (name, bad)
        assert f"{name} {why}" in result.stderr
        others = set(GOOD) - {name}
        assert not [o for o in others if f"  - {o} " in result.stderr]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_with_good_secrets_each_entry_point_starts(entry):
    result = _start(ENTRY_POINTS[entry], **GOOD)
    assert result.returncode == 0, result.stderr[-3000:]


def test_development_starts_on_the_defaults():
    result = _start(ENTRY_POINTS["web"], DEBUG="1")
    assert result.returncode == 0, result.stderr[-3000:]
