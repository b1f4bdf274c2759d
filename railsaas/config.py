"""Settings from environment variables, with safe development defaults.

Every setting is listed once here (name, default, meaning); the README's table is
generated from the same list (`python -m railsaas.config` prints it), so the two
cannot drift apart.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "", "PostgreSQL URL with rights to create roles and run migrations "
            "(owner or superuser). Unset in `make dev`: an embedded PostgreSQL under `.local/`."),
    Setting("APP_DATABASE_URL", "", "URL the web app and workers connect with: the non-superuser "
            "app role. Default: DATABASE_URL with user `APP_DB_USER` / `APP_DB_PASSWORD`."),
    Setting("DB_OWNER_ROLE", "railsaas_owner", "Role that owns the tables; migrations run as it."),
    Setting("APP_DB_USER", "railsaas_app", "The app role (NOSUPERUSER NOBYPASSRLS, owns nothing)."),
    Setting("APP_DB_PASSWORD", "railsaas_app", "Password of the app role.", secret=True),
    Setting("DB_POOL_SIZE", "10", "SQLAlchemy connection pool size per process."),
    Setting("REDIS_URL", "", "Redis for Celery, caches, rate limits and the Railway budget. "
            "Unset in `make dev`: an embedded Redis under `.local/`."),
    Setting("CELERY_BROKER_URL", "", "Celery's broker; empty means REDIS_URL. Split it from "
            "the cache at scale."),
    Setting("CELERY_VISIBILITY_TIMEOUT", "600", "Seconds after which the broker gives a task "
            "a worker took but never acknowledged (the worker died) to another worker. Above "
            "the longest task run; below DEPLOY_TIMEOUT_SECONDS, so a deploy whose worker died "
            "still completes. Retry countdowns are kept under half of it."),
    Setting("SECRET_KEY", "dev-secret-key-change-me", "Signs sessions, CSRF tokens and email "
            "links. Must be set in production.", secret=True),
    Setting("JWT_SECRET", "dev-jwt-secret-change-me-0123456789", "HS256 key for API access "
            "tokens (at least 32 bytes).", secret=True),
    Setting("JWT_ACCESS_TTL_SECONDS", "900", "Lifetime of an API access token."),
    Setting("JWT_REFRESH_TTL_SECONDS", "2592000", "Lifetime of an API refresh token."),
    Setting("TRUSTED_PROXIES", "0", "How many reverse proxies sit in front of the app (1 on "
            "Railway): client IPs are read from that many X-Forwarded-For hops."),
    Setting("API_RATE_LIMIT_PER_TOKEN", "600", "API requests one credential (API token, or a "
            "user's session tokens) may make per rate window."),
    Setting("API_RATE_LIMIT_PER_IP", "1200", "API requests one client IP may make per rate "
            "window, signed in or not."),
    Setting("API_RATE_WINDOW_SECONDS", "60", "Length of the API's fixed rate-limit window."),
    Setting("BASE_URL", "http://localhost:5000", "Public URL of the app, used in emails."),
    Setting("DEBUG", "0", "1 for development: insecure cookies allowed, no HSTS, dev pages."),
    Setting("BCRYPT_ROUNDS", "12", "bcrypt cost factor (at least 12 outside tests)."),
    Setting("LOGIN_MAX_ATTEMPTS", "5", "Failed logins per account (and 4x per IP) before a lock."),
    Setting("LOGIN_LOCK_SECONDS", "900", "How long a login lock lasts."),
    Setting("SMTP_URL", "smtp://localhost:1025", "Outgoing mail server "
            "(smtp://user:pass@host:port, smtps:// for TLS)."),
    Setting("MAIL_FROM", "RailSaaS <no-reply@railsaas.local>", "Sender of every email."),
    Setting("MAIL_CAPTURE_DIR", "", "Where the development SMTP sink writes mail; enables the "
            "`/dev/mail` page when DEBUG=1."),
    Setting("RAILWAY_API_URL", "https://backboard.railway.com/graphql/v2",
            "Railway's GraphQL endpoint (the emulator's in `make dev`)."),
    Setting("RAILWAY_API_TOKEN", "", "Railway workspace token: the platform's master token.",
            secret=True),
    Setting("RAILWAY_WORKSPACE_ID", "", "Railway workspace that holds every customer project."),
    Setting("RAILWAY_PLAN", "pro", "Railway plan whose rate limits pace the client: hobby or pro."),
    Setting("RAILWAY_RATE_PER_HOUR", "", "Override the plan's requests per hour."),
    Setting("RAILWAY_RATE_PER_SECOND", "", "Override the plan's requests per second."),
    Setting("RAILWAY_BATCH_SIZE", "100", "Services or deployments whose status one GraphQL "
            "request asks for (aliases): how the poller fits Railway's hourly budget."),
    Setting("RAILWAY_WEBHOOK_SECRET", "dev-railway-webhook", "Path secret of "
            "`/webhooks/railway/<secret>`.", secret=True),
    Setting("STRIPE_SECRET_KEY", "sk_test_emulator", "Stripe secret key.", secret=True),
    Setting("STRIPE_PUBLISHABLE_KEY", "pk_test_emulator", "Stripe publishable key."),
    Setting("STRIPE_WEBHOOK_SECRET", "whsec_emulator", "Signing secret of the Stripe webhook "
            "endpoint.", secret=True),
    Setting("STRIPE_API_BASE", "", "Stripe API base URL; empty means Stripe itself "
            "(the emulator's URL in `make dev`)."),
    Setting("USAGE_MARKUP_PERCENT", "30", "Markup on Railway's unit prices when billing usage."),
    Setting("DUNNING_GRACE_DAYS", "7", "Days after a failed payment before instances suspend."),
    Setting("DUNNING_DELETE_DAYS", "30", "Days after a failed payment before instances are "
            "deleted."),
    Setting("DEPLOY_TIMEOUT_SECONDS", "900", "A deploy still not running after this is failed."),
    Setting("SENTRY_DSN", "", "Sentry project DSN; empty disables error reporting.", secret=True),
    Setting("SENTRY_ENVIRONMENT", "", "Sentry environment name; empty: production, or "
            "development when DEBUG=1."),
    Setting("SENTRY_TRACES_SAMPLE_RATE", "0", "Share of requests and tasks traced for Sentry "
            "performance (0 to 1)."),
    Setting("METRICS_TOKEN", "", "Bearer token that `/metrics` requires; empty: only "
            "platform admins and direct (not proxied) localhost scrapers.", secret=True),
    Setting("PROMETHEUS_MULTIPROC_DIR", "", "Empty directory shared by the processes of one "
            "machine (gunicorn workers, Celery children) so `/metrics` merges their samples; "
            "read by prometheus-client at start. Unset: each process counts alone."),
    Setting("WORKER_METRICS_PORT", "", "Port on which a Celery worker serves its own "
            "`/metrics` (same token rule), for workers on another machine than the web."),
    Setting("REPORTING_DATABASE_URL", "", "A read replica for the admin's business metrics "
            "(the admin login's credentials; row-level security applies). Empty: the main "
            "database.", secret=True),
    Setting("LOG_LEVEL", "INFO", "Root log level."),
    Setting("LOG_FORMAT", "json", "json (one JSON object per line) or text."),
    Setting("ADMIN_DATABASE_URL", "", "URL of the platform admin area's login (/admin and the "
            "admin API, for platform admins). Default: DATABASE_URL with user `ADMIN_DB_USER` / "
            "`ADMIN_DB_PASSWORD`.", secret=True),
    Setting("ADMIN_DB_USER", "railsaas_admin", "The admin login (NOSUPERUSER NOBYPASSRLS "
            "NOINHERIT, owns nothing): every workspace, but not system-only tables."),
    Setting("ADMIN_DB_PASSWORD", "railsaas_admin", "Password of the admin login.", secret=True),
    Setting("SYSTEM_DATABASE_URL", "", "URL of the system login (Celery worker and beat, Stripe "
            "webhooks, outbox bookkeeping). Default: DATABASE_URL with user `SYSTEM_DB_USER` / "
            "`SYSTEM_DB_PASSWORD`.", secret=True),
    Setting("SYSTEM_DB_USER", "railsaas_system", "The system login (NOSUPERUSER NOBYPASSRLS "
            "NOINHERIT, owns nothing): the only one that sees every row."),
    Setting("SYSTEM_DB_PASSWORD", "railsaas_system", "Password of the system login.",
            secret=True),
)


# Outside development (DEBUG=0) each of these must be set, differ from its default here, and
# be at least this long: with a default anyone could forge a session cookie or an admin JWT,
# call the Railway webhook, or sign a Stripe event.
REQUIRED_SECRETS = {
    "SECRET_KEY": 32,
    "JWT_SECRET": 32,
    "RAILWAY_WEBHOOK_SECRET": 32,
    "STRIPE_WEBHOOK_SECRET": 16,
    "APP_DB_PASSWORD": 16,
    "ADMIN_DB_PASSWORD": 16,
    "SYSTEM_DB_PASSWORD": 16,
}
_HOW_TO_MAKE = {
    "STRIPE_WEBHOOK_SECRET": "copy the endpoint's signing secret (whsec_...) from Stripe's "
                             "dashboard, Developers > Webhooks",
}
_RANDOM = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class InsecureConfiguration(RuntimeError):
    """The process must not start: a secret is missing, a known default, or too short."""


def _env(name: str) -> str:
    for s in SETTINGS:
        if s.name == name:
            return os.environ.get(name, s.default)
    raise KeyError(name)


def _with_user(url: str, user: str, password: str) -> str:
    """Swap the credentials of a database URL, keeping host, port, database and query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """postgres:// and postgresql:// URLs -> the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass
class Config:
    DATABASE_URL: str = field(default_factory=lambda: _env("DATABASE_URL"))
    APP_DATABASE_URL: str = field(default_factory=lambda: _env("APP_DATABASE_URL"))
    DB_OWNER_ROLE: str = field(default_factory=lambda: _env("DB_OWNER_ROLE"))
    APP_DB_USER: str = field(default_factory=lambda: _env("APP_DB_USER"))
    APP_DB_PASSWORD: str = field(default_factory=lambda: _env("APP_DB_PASSWORD"))
    DB_POOL_SIZE: int = field(default_factory=lambda: int(_env("DB_POOL_SIZE")))
    REDIS_URL: str = field(default_factory=lambda: _env("REDIS_URL"))
    CELERY_BROKER_URL: str = field(default_factory=lambda: _env("CELERY_BROKER_URL"))
    CELERY_VISIBILITY_TIMEOUT: int = field(
        default_factory=lambda: int(_env("CELERY_VISIBILITY_TIMEOUT")))
    SECRET_KEY: str = field(default_factory=lambda: _env("SECRET_KEY"))
    JWT_SECRET: str = field(default_factory=lambda: _env("JWT_SECRET"))
    JWT_ACCESS_TTL_SECONDS: int = field(default_factory=lambda: int(_env("JWT_ACCESS_TTL_SECONDS")))
    JWT_REFRESH_TTL_SECONDS: int = field(
        default_factory=lambda: int(_env("JWT_REFRESH_TTL_SECONDS")))
    TRUSTED_PROXIES: int = field(default_factory=lambda: int(_env("TRUSTED_PROXIES")))
    API_RATE_LIMIT_PER_TOKEN: int = field(
        default_factory=lambda: int(_env("API_RATE_LIMIT_PER_TOKEN")))
    API_RATE_LIMIT_PER_IP: int = field(default_factory=lambda: int(_env("API_RATE_LIMIT_PER_IP")))
    API_RATE_WINDOW_SECONDS: int = field(
        default_factory=lambda: int(_env("API_RATE_WINDOW_SECONDS")))
    BASE_URL: str = field(default_factory=lambda: _env("BASE_URL"))
    DEBUG: bool = field(default_factory=lambda: _env("DEBUG") == "1")
    BCRYPT_ROUNDS: int = field(default_factory=lambda: int(_env("BCRYPT_ROUNDS")))
    LOGIN_MAX_ATTEMPTS: int = field(default_factory=lambda: int(_env("LOGIN_MAX_ATTEMPTS")))
    LOGIN_LOCK_SECONDS: int = field(default_factory=lambda: int(_env("LOGIN_LOCK_SECONDS")))
    SMTP_URL: str = field(default_factory=lambda: _env("SMTP_URL"))
    MAIL_FROM: str = field(default_factory=lambda: _env("MAIL_FROM"))
    MAIL_CAPTURE_DIR: str = field(default_factory=lambda: _env("MAIL_CAPTURE_DIR"))
    RAILWAY_API_URL: str = field(default_factory=lambda: _env("RAILWAY_API_URL"))
    RAILWAY_API_TOKEN: str = field(default_factory=lambda: _env("RAILWAY_API_TOKEN"), repr=False)
    RAILWAY_WORKSPACE_ID: str = field(default_factory=lambda: _env("RAILWAY_WORKSPACE_ID"))
    RAILWAY_PLAN: str = field(default_factory=lambda: _env("RAILWAY_PLAN"))
    RAILWAY_RATE_PER_HOUR: str = field(default_factory=lambda: _env("RAILWAY_RATE_PER_HOUR"))
    RAILWAY_RATE_PER_SECOND: str = field(default_factory=lambda: _env("RAILWAY_RATE_PER_SECOND"))
    RAILWAY_BATCH_SIZE: int = field(default_factory=lambda: int(_env("RAILWAY_BATCH_SIZE")))
    RAILWAY_WEBHOOK_SECRET: str = field(
        default_factory=lambda: _env("RAILWAY_WEBHOOK_SECRET"), repr=False)
    STRIPE_SECRET_KEY: str = field(default_factory=lambda: _env("STRIPE_SECRET_KEY"), repr=False)
    STRIPE_PUBLISHABLE_KEY: str = field(default_factory=lambda: _env("STRIPE_PUBLISHABLE_KEY"))
    STRIPE_WEBHOOK_SECRET: str = field(
        default_factory=lambda: _env("STRIPE_WEBHOOK_SECRET"), repr=False)
    STRIPE_API_BASE: str = field(default_factory=lambda: _env("STRIPE_API_BASE"))
    USAGE_MARKUP_PERCENT: int = field(default_factory=lambda: int(_env("USAGE_MARKUP_PERCENT")))
    DUNNING_GRACE_DAYS: int = field(default_factory=lambda: int(_env("DUNNING_GRACE_DAYS")))
    DUNNING_DELETE_DAYS: int = field(default_factory=lambda: int(_env("DUNNING_DELETE_DAYS")))
    DEPLOY_TIMEOUT_SECONDS: int = field(default_factory=lambda: int(_env("DEPLOY_TIMEOUT_SECONDS")))
    SENTRY_DSN: str = field(default_factory=lambda: _env("SENTRY_DSN"), repr=False)
    SENTRY_ENVIRONMENT: str = field(default_factory=lambda: _env("SENTRY_ENVIRONMENT"))
    SENTRY_TRACES_SAMPLE_RATE: float = field(
        default_factory=lambda: float(_env("SENTRY_TRACES_SAMPLE_RATE") or 0))
    METRICS_TOKEN: str = field(default_factory=lambda: _env("METRICS_TOKEN"), repr=False)
    WORKER_METRICS_PORT: int = field(
        default_factory=lambda: int(_env("WORKER_METRICS_PORT") or 0))
    REPORTING_DATABASE_URL: str = field(
        default_factory=lambda: _env("REPORTING_DATABASE_URL"), repr=False)
    LOG_LEVEL: str = field(default_factory=lambda: _env("LOG_LEVEL"))
    LOG_FORMAT: str = field(default_factory=lambda: _env("LOG_FORMAT"))
    ADMIN_DATABASE_URL: str = field(default_factory=lambda: _env("ADMIN_DATABASE_URL"),
                                    repr=False)
    ADMIN_DB_USER: str = field(default_factory=lambda: _env("ADMIN_DB_USER"))
    ADMIN_DB_PASSWORD: str = field(default_factory=lambda: _env("ADMIN_DB_PASSWORD"), repr=False)
    SYSTEM_DATABASE_URL: str = field(default_factory=lambda: _env("SYSTEM_DATABASE_URL"),
                                     repr=False)
    SYSTEM_DB_USER: str = field(default_factory=lambda: _env("SYSTEM_DB_USER"))
    SYSTEM_DB_PASSWORD: str = field(default_factory=lambda: _env("SYSTEM_DB_PASSWORD"),
                                    repr=False)
    TESTING: bool = False

    @property
    def app_database_url(self) -> str:
        """The app role's URL: explicit, or DATABASE_URL with the app role's credentials."""
        if self.APP_DATABASE_URL:
            return self.APP_DATABASE_URL
        if not self.DATABASE_URL:
            raise RuntimeError("DATABASE_URL is not set")
        return _with_user(self.DATABASE_URL, self.APP_DB_USER, self.APP_DB_PASSWORD)

    @property
    def admin_database_url(self) -> str:
        """The admin login's URL: explicit, or DATABASE_URL with its credentials."""
        if self.ADMIN_DATABASE_URL:
            return self.ADMIN_DATABASE_URL
        if not self.DATABASE_URL:
            raise RuntimeError("DATABASE_URL is not set")
        return _with_user(self.DATABASE_URL, self.ADMIN_DB_USER, self.ADMIN_DB_PASSWORD)

    @property
    def system_database_url(self) -> str:
        """The system login's URL: explicit, or DATABASE_URL with its credentials."""
        if self.SYSTEM_DATABASE_URL:
            return self.SYSTEM_DATABASE_URL
        if not self.DATABASE_URL:
            raise RuntimeError("DATABASE_URL is not set")
        return _with_user(self.DATABASE_URL, self.SYSTEM_DB_USER, self.SYSTEM_DB_PASSWORD)

    def secret_values(self) -> list[str]:
        """Configured secret values, longest first, for log redaction."""
        values = [str(getattr(self, s.name, "") or "") for s in SETTINGS if s.secret]
        return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)

    def insecure_secrets(self) -> list[str]:
        """What is wrong with the secrets, one line per variable (empty: nothing)."""
        problems = []
        for name, min_len in REQUIRED_SECRETS.items():
            value = str(getattr(self, name) or "")
            default = next(s.default for s in SETTINGS if s.name == name)
            if not value:
                why = "is not set"
            elif value == default:
                why = "is the development default from the source code"
            elif len(value) < min_len:
                why = f"is {len(value)} characters long (at least {min_len} needed)"
            else:
                continue
            how = _HOW_TO_MAKE.get(name, f"make one with: {_RANDOM}")
            problems.append(f"{name} {why}; {how}")
        return problems

    def check_safe_to_start(self) -> None:
        """Refuse to start outside development (DEBUG=0) with an insecure secret. Every
        entry point builds the app through create_app, so web, worker and beat all stop."""
        if self.DEBUG:
            return
        problems = self.insecure_secrets()
        if problems:
            raise InsecureConfiguration(
                "Refusing to start with DEBUG=0 (production) and insecure settings:\n  - "
                + "\n  - ".join(problems)
                + "\nSet them in the environment, or DEBUG=1 for local development only.")

    def as_flask(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def settings_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(secret)" if s.secret and s.default else (s.default or "(empty)")
        rows.append(f"| `{s.name}` | `{default}` | {s.meaning} |")
    return "\n".join(rows)


def update_readme(path: str = "README.md") -> None:
    """Rewrite the README's settings table (between its settings:start/end markers)."""
    with open(path) as f:
        text = f.read()
    table = f"<!-- settings:start -->\n{settings_table()}\n<!-- settings:end -->"
    text = re.sub(r"<!-- settings:start -->.*?<!-- settings:end -->", lambda _: table, text,
                  flags=re.S)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--update-readme"]:
        update_readme()
    else:
        print(settings_table())
