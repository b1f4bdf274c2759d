"""Settings are declared once (railsaas/config.py): every name the code reads from the app's
config is a declared setting or one of Flask's own, and the environment is parsed as
forgivingly as it always was."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from railsaas.config import Config, default_of, secret_names, settings_table

RAILSAAS = Path(__file__).resolve().parents[2] / "railsaas"

# Reads of the app's config (app.config, current_app.config, `cfg = app.config`, and the
# Railway client's `_cfg(config, ...)`), by literal name or, wrongly, by a computed one.
_READ = re.compile(r"""\b(?:config|cfg)(?:\[|\.get\(|\.setdefault\()\s*(f?)["']([^"']+)["']""")
_CFG_HELPER = re.compile(r"""\b_cfg\(\s*\w+\s*,\s*(f?)["']([^"']+)["']""")
_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]+")

# Keys of Flask and its extensions that create_app sets or they read themselves, and the
# Config object create_app keeps for the code that needs its methods (log redaction).
NOT_SETTINGS = set(Flask.default_config) | {
    "WTF_CSRF_ENABLED",
    "WTF_CSRF_TIME_LIMIT",
    "REMEMBER_COOKIE_HTTPONLY",
    "REMEMBER_COOKIE_SAMESITE",
    "REMEMBER_COOKIE_SECURE",
    "JSON_SORT_KEYS",
    "SETTINGS",
}


def config_reads(source: str) -> tuple[set[str], list[str]]:
    """(setting names read, computed reads) in one module's source. Lower-case keys are
    other dicts called `config` (a template's serialized config), not settings."""
    names, computed = set(), []
    for pattern in (_READ, _CFG_HELPER):
        for m in pattern.finditer(source):
            is_f, key = m.groups()
            if is_f:
                computed.append(m.group(0))
            elif _SETTING_NAME.fullmatch(key):
                names.add(key)
    return names, computed


def test_the_scan_sees_each_way_of_reading_a_setting():
    source = """
x = current_app.config["ALPHA"]
y = app.config.get("BETA", 3)
z = cfg.get('GAMMA') or ""
w = _cfg(config, "DELTA", None)
app.config.setdefault("EPSILON", 1)
v = current_app.config.get(f"LINK_{purpose}")
ignored = template.serialized_config.get("services"), config.get("services")
"""
    names, computed = config_reads(source)
    assert names == {"ALPHA", "BETA", "GAMMA", "DELTA", "EPSILON"}
    assert computed == ['config.get(f"LINK_{purpose}"']


def test_the_code_reads_only_declared_settings_and_by_their_literal_names():
    declared = set(Config.model_fields) | NOT_SETTINGS
    undeclared, computed = {}, []
    for path in RAILSAAS.rglob("*.py"):
        names, dynamic = config_reads(path.read_text())
        where = str(path.relative_to(RAILSAAS.parent))
        for name in names - declared:
            undeclared.setdefault(name, []).append(where)
        computed += [f"{where}: {d}" for d in dynamic]
    assert undeclared == {}, "declare these in railsaas/config.py (name, default, meaning)"
    assert computed == [], "read settings by their literal names, so this scan sees them"


def test_the_settings_the_code_used_to_read_undeclared_have_their_old_defaults():
    assert default_of("AUDIT_GUARD") == ""  # strict in tests, warn otherwise
    assert default_of("INVITATIONS_PER_DAY") == 100
    assert default_of("INVITATION_MAX_AGE") == 7 * 86400
    assert default_of("LINK_MAX_AGE_VERIFY_EMAIL") == 2 * 86400
    assert default_of("LINK_MAX_AGE_CHANGE_EMAIL") == 2 * 86400
    assert default_of("LINK_MAX_AGE_RESET_PASSWORD") == 3600
    assert default_of("DB_RECONFIGURE") is True
    assert default_of("RAILWAY_CLIENT_OPTIONS") == {}


@pytest.fixture
def env(monkeypatch):
    """Set environment variables for one Config() (none of the session's leak in)."""
    for name in Config.model_fields:
        monkeypatch.delenv(name, raising=False)
    return lambda **values: [monkeypatch.setenv(k, v) for k, v in values.items()]


def test_an_empty_number_means_its_default(env):
    env(
        DB_POOL_SIZE="",
        SENTRY_TRACES_SAMPLE_RATE=" ",
        WORKER_METRICS_PORT="",
        LOGIN_MAX_ATTEMPTS="7",
    )
    cfg = Config()
    assert cfg.DB_POOL_SIZE == 10
    assert cfg.SENTRY_TRACES_SAMPLE_RATE == 0.0
    assert cfg.WORKER_METRICS_PORT == 0
    assert cfg.LOGIN_MAX_ATTEMPTS == 7


@pytest.mark.parametrize(
    ("raw", "debug"), [("1", True), ("0", False), ("", False), ("true", False), ("yes", False)]
)
def test_debug_is_on_only_for_1(env, raw, debug):
    env(DEBUG=raw)
    assert Config().DEBUG is debug


def test_json_settings_take_an_object_and_empty_means_none(env):
    env(RAILWAY_CLIENT_OPTIONS='{"read_timeout": 2.5, "max_attempts": 2}', CELERY="")
    cfg = Config()
    assert cfg.RAILWAY_CLIENT_OPTIONS == {"read_timeout": 2.5, "max_attempts": 2}
    assert cfg.CELERY == {}
    env(RAILWAY_CLIENT_OPTIONS="[1, 2]")
    with pytest.raises(ValueError, match="RAILWAY_CLIENT_OPTIONS must be a JSON object"):
        Config()


def test_secrets_are_marked_once_and_feed_redaction_and_the_readme(env):
    secrets = set(secret_names())
    assert {
        "SECRET_KEY",
        "JWT_SECRET",
        "APP_DB_PASSWORD",
        "RAILWAY_API_TOKEN",
        "STRIPE_SECRET_KEY",
        "SENTRY_DSN",
        "METRICS_TOKEN",
    } <= secrets
    assert "BASE_URL" not in secrets
    env(RAILWAY_API_TOKEN="railway-token-abcdef", SENTRY_DSN="https://k@sentry.example/1")
    cfg = Config()
    assert "railway-token-abcdef" in cfg.secret_values()
    assert "https://k@sentry.example/1" in cfg.secret_values()
    assert "railway-token-abcdef" not in repr(cfg)
    table = settings_table()
    assert "| `SECRET_KEY` | `(secret)` |" in table
    assert "| `RAILWAY_API_TOKEN` | `(empty)` |" in table  # no default to hide
    assert "| `DEBUG` | `0` |" in table
