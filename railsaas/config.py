"""Settings from environment variables, with safe development defaults.

Every setting is one field of `Config` (a pydantic-settings class): its type, its default
and its meaning, and `secret=True` for the values that are redacted from logs and shown as
`(secret)` in the README. The README's table is generated from the same class
(`python -m railsaas.config` prints it), so the two cannot drift apart, and
tests/foundation/test_settings.py fails when code reads a setting not declared here.

Parsing stays forgiving: an empty number means its default, DEBUG is on only for "1", and
the JSON-valued settings (a dict) take a JSON object, empty meaning none.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from cryptography.fernet import Fernet
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def setting(default: Any, meaning: str, *, secret: bool = False) -> Any:
    """A declared setting: its default and what it means (the README's table)."""
    extra = {"secret": True} if secret else None
    if isinstance(default, dict):
        return Field(
            default_factory=lambda: dict(default), description=meaning, json_schema_extra=extra
        )
    return Field(default, description=meaning, json_schema_extra=extra, repr=not secret)


def _is_secret(info) -> bool:
    return bool(isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("secret"))


# A dict from the environment is parsed by our validator (empty: none), not pydantic-settings'.
JsonObject = Annotated[dict[str, Any], NoDecode]


class Config(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    DATABASE_URL: str = setting(
        "",
        "PostgreSQL URL with rights to create roles and run "
        "migrations (owner or superuser). Unset in `make dev`: an "
        "embedded PostgreSQL under `.local/`.",
    )
    APP_DATABASE_URL: str = setting(
        "",
        "URL the web app and workers connect with: the "
        "non-superuser app role. Default: DATABASE_URL with user "
        "`APP_DB_USER` / `APP_DB_PASSWORD`.",
    )
    DB_OWNER_ROLE: str = setting(
        "railsaas_owner", "Role that owns the tables; migrations run as it."
    )
    APP_DB_USER: str = setting(
        "railsaas_app", "The app role (NOSUPERUSER NOBYPASSRLS, owns nothing)."
    )
    APP_DB_PASSWORD: str = setting("railsaas_app", "Password of the app role.", secret=True)
    DB_POOL_SIZE: int = setting(10, "SQLAlchemy connection pool size per process.")
    DB_RECONFIGURE: bool = setting(
        True,
        "Whether building an app (re)connects the process's "
        "database engine. 0 only for a second app in one process "
        "(tests) that must keep the first one's engine.",
    )
    REDIS_URL: str = setting(
        "",
        "Redis for Celery, rate limits and throttles, locks and the "
        "Railway budget. Unset in `make dev`: an embedded Redis under "
        "`.local/`.",
    )
    CACHE_REDIS_URL: str = setting(
        "",
        "Redis for caches (the template catalog); empty means "
        "REDIS_URL. Its keys can be lost at any time (an LRU "
        "instance will do).",
    )
    CELERY_BROKER_URL: str = setting(
        "", "Celery's broker; empty means REDIS_URL. Split it from the cache at scale."
    )
    CELERY_VISIBILITY_TIMEOUT: int = setting(
        600,
        "Seconds after which the broker gives a task a worker took but never "
        "acknowledged (the worker died) to another worker. Above the longest task run; below "
        "DEPLOY_TIMEOUT_SECONDS, so a deploy whose worker died still completes. Retry "
        "countdowns are kept under half of it.",
    )
    CELERY: JsonObject = setting(
        {},
        "Further Celery settings (a JSON object of Celery's "
        "lower-case names), applied after the app's own.",
    )
    SECRET_KEY: str = setting(
        "dev-secret-key-change-me",
        "Signs sessions, CSRF tokens and email links. Must be set in production.",
        secret=True,
    )
    JWT_SECRET: str = setting(
        "dev-jwt-secret-change-me-0123456789",
        "HS256 key for API access tokens (at least 32 bytes).",
        secret=True,
    )
    JWT_ACCESS_TTL_SECONDS: int = setting(900, "Lifetime of an API access token.")
    JWT_REFRESH_TTL_SECONDS: int = setting(2592000, "Lifetime of an API refresh token.")
    TRUSTED_PROXIES: int = setting(
        0,
        "How many reverse proxies sit in front of the app (1 on "
        "Railway): client IPs are read from that many "
        "X-Forwarded-For hops.",
    )
    API_RATE_LIMIT_PER_TOKEN: int = setting(
        600,
        "API requests one credential (API token, or "
        "a user's session tokens) may make per rate "
        "window.",
    )
    API_RATE_LIMIT_PER_IP: int = setting(
        1200, "API requests one client IP may make per rate window, signed in or not."
    )
    API_RATE_WINDOW_SECONDS: int = setting(60, "Length of the API's fixed rate-limit window.")
    BASE_URL: str = setting("http://localhost:5000", "Public URL of the app, used in emails.")
    DEBUG: bool = setting(
        False,
        "1 for development: insecure cookies allowed, no HSTS, dev "
        "pages, default secrets accepted.",
    )
    AUDIT_GUARD: str = setting(
        "",
        "What a state-changing request that recorded no audit row "
        "gets: strict (a 500), warn (a logged error and a metric) or "
        "off. Empty: strict in tests, warn otherwise.",
    )
    BCRYPT_ROUNDS: int = setting(12, "bcrypt cost factor (at least 12 outside tests).")
    LOGIN_MAX_ATTEMPTS: int = setting(5, "Failed logins per account (and 4x per IP) before a lock.")
    LOGIN_LOCK_SECONDS: int = setting(900, "How long a login lock lasts.")
    TWO_FACTOR_MAX_ATTEMPTS: int = setting(
        5,
        "Wrong two-factor codes (or recovery codes) per account within LOGIN_LOCK_SECONDS "
        "before codes are refused for the rest of that window.",
    )
    TWO_FACTOR_PENDING_SECONDS: int = setting(
        300,
        "Seconds a sign-in that passed the password may wait for its second factor before "
        "it must start again.",
    )
    TWO_FACTOR_REMEMBER_DAYS: int = setting(
        30,
        "Days a browser remembered after a second factor skips the code (never for platform "
        "admins). 0 turns the option off.",
    )
    SIGNUPS_PER_IP_PER_HOUR: int = setting(
        10, "Sign-ups one client IP may make in an hour (pages and API)."
    )
    FORGOT_PER_IP_PER_HOUR: int = setting(
        20, "Password-reset requests one client IP may make in an hour (pages and API)."
    )
    VERIFY_RESEND_PER_IP_PER_HOUR: int = setting(
        20, "Requests to resend a verification link one client IP may make in an hour."
    )
    LINK_MAX_AGE_VERIFY_EMAIL: int = setting(
        172800, "Seconds an emailed link to confirm an address stays valid."
    )
    LINK_MAX_AGE_CHANGE_EMAIL: int = setting(
        172800, "Seconds a link confirming a new email address stays valid."
    )
    LINK_MAX_AGE_RESET_PASSWORD: int = setting(3600, "Seconds a password-reset link stays valid.")
    INVITATION_MAX_AGE: int = setting(604800, "Seconds an invitation link stays valid.")
    INVITATIONS_PER_DAY: int = setting(
        100, "Invitation emails one workspace may send a day, resends included."
    )
    SMTP_URL: str = setting(
        "smtp://localhost:1025",
        "Outgoing mail server (smtp://user:pass@host:port, smtps:// for TLS).",
    )
    MAIL_FROM: str = setting("RailSaaS <no-reply@railsaas.local>", "Sender of every email.")
    SUPPORT_EMAIL: str = setting(
        "support@railsaas.local",
        "Where customers write for help: named on the public docs' support page (/docs/support).",
    )
    MAIL_CAPTURE_DIR: str = setting(
        "",
        "Where the development SMTP sink writes mail; enables the `/dev/mail` page when DEBUG=1.",
    )
    RAILWAY_API_URL: str = setting(
        "https://backboard.railway.com/graphql/v2",
        "Railway's GraphQL endpoint (the emulator's in `make dev`).",
    )
    RAILWAY_API_TOKEN: str = setting(
        "", "Railway workspace token: the platform's master token.", secret=True
    )
    RAILWAY_WORKSPACE_ID: str = setting(
        "",
        "Railway workspace of the pool's first entry (the one these settings describe); more "
        "are added on the admin's Railway page.",
    )
    RAILWAY_TOKEN_KEY: str = setting(
        "",
        "Fernet key(s) that encrypt the tokens of the Railway workspaces added on the admin "
        "page (not RAILWAY_API_TOKEN's, which stays in the environment). Several, "
        "comma-separated, while rotating: the first encrypts, any decrypts (make one with "
        "`Fernet.generate_key()` of the cryptography package). "
        "Needed (outside development the app refuses to start without it) once one is stored.",
        secret=True,
    )
    RAILWAY_PLAN: str = setting(
        "pro", "Railway plan whose rate limits pace the client: hobby or pro."
    )
    RAILWAY_RATE_PER_HOUR: str = setting("", "Override the plan's requests per hour.")
    RAILWAY_RATE_PER_SECOND: str = setting("", "Override the plan's requests per second.")
    RAILWAY_BATCH_SIZE: int = setting(
        100,
        "Services or deployments whose status one GraphQL "
        "request asks for (aliases): how the poller fits "
        "Railway's hourly budget.",
    )
    RAILWAY_CLIENT_OPTIONS: JsonObject = setting(
        {},
        "Tuning of the Railway client (a JSON object of RailwayClient's arguments, e.g. "
        '`{"read_timeout": 30, "max_attempts": 3}`); tests shorten timeouts with it.',
    )
    RAILWAY_WEBHOOK_SECRET: str = setting(
        "dev-railway-webhook", "Path secret of `/webhooks/railway/<secret>`.", secret=True
    )
    STRIPE_SECRET_KEY: str = setting("sk_test_emulator", "Stripe secret key.", secret=True)
    STRIPE_PUBLISHABLE_KEY: str = setting("pk_test_emulator", "Stripe publishable key.")
    STRIPE_WEBHOOK_SECRET: str = setting(
        "whsec_emulator", "Signing secret of the Stripe webhook endpoint.", secret=True
    )
    STRIPE_API_BASE: str = setting(
        "", "Stripe API base URL; empty means Stripe itself (the emulator's URL in `make dev`)."
    )
    USAGE_MARKUP_PERCENT: int = setting(30, "Markup on Railway's unit prices when billing usage.")
    DUNNING_GRACE_DAYS: int = setting(7, "Days after a failed payment before instances suspend.")
    PLAN_LIMIT_GRACE_DAYS: int = setting(
        3,
        "Days a workspace may stay over its plan's "
        "limits (after a downgrade) before its newest "
        "instances beyond them are stopped.",
    )
    DUNNING_DELETE_DAYS: int = setting(
        30, "Days after a failed payment before instances are deleted."
    )
    DEPLOY_RESEND_AFTER_SECONDS: int = setting(
        600,
        "A template deploy whose answer was lost is sent again only if its project still "
        "has no service after this (below DEPLOY_TIMEOUT_SECONDS).",
    )
    LOG_REFRESH_SECONDS: float = setting(
        3.0,
        "How often the one shared fetch of a deployment's logs asks Railway for new lines, "
        "however many browsers follow them.",
    )
    DEPLOY_TIMEOUT_SECONDS: int = setting(900, "A deploy still not running after this is failed.")
    UPTIME_INTERVAL_SECONDS: int = setting(
        60, "How often each running instance's public domain is checked (uptime history)."
    )
    UPTIME_TIMEOUT_SECONDS: float = setting(
        5.0, "An uptime check with no answer after this counts as down (timeout)."
    )
    UPTIME_CONCURRENCY: int = setting(20, "Uptime checks a worker runs at once.")
    UPTIME_MAX_PER_RUN: int = setting(
        200,
        "Most uptime checks one run (every minute) makes; "
        "the rest wait for the next run, so many instances "
        "never stampede. Keep it under concurrency x 60 s / "
        "timeout.",
    )
    UPTIME_RAW_HOURS: int = setting(
        48, "Raw uptime checks are kept this long, then only their hourly roll-ups."
    )
    UPTIME_ROLLUP_DAYS: int = setting(30, "Hourly uptime roll-ups are kept this long.")
    UPTIME_ALLOW_PRIVATE: bool = setting(
        False,
        "Development only: let uptime checks reach "
        "private and loopback addresses (the emulator's "
        "domains). Off, a domain resolving to one is "
        "refused and counts as down.",
    )
    UPTIME_CONNECT_TO: str = setting(
        "",
        "Development only: host:port every uptime check "
        "connects to over plain HTTP, with the instance's domain "
        "as Host (the Railway emulator answers for its service "
        "domains). Needs UPTIME_ALLOW_PRIVATE for a local one.",
    )
    COST_MEDIAN_MIN_INSTANCES: int = setting(
        5,
        "A template's real median monthly cost shows "
        "in the catalog once this many instances have "
        "usage in the last 30 days.",
    )
    SENTRY_DSN: str = setting(
        "", "Sentry project DSN; empty disables error reporting.", secret=True
    )
    SENTRY_ENVIRONMENT: str = setting(
        "", "Sentry environment name; empty: production, or development when DEBUG=1."
    )
    SENTRY_TRACES_SAMPLE_RATE: float = setting(
        0.0, "Share of requests and tasks traced for Sentry performance (0 to 1)."
    )
    METRICS_TOKEN: str = setting(
        "",
        "Bearer token that `/metrics` requires; empty: only "
        "platform admins and direct (not proxied) localhost "
        "scrapers.",
        secret=True,
    )
    PROMETHEUS_MULTIPROC_DIR: str = setting(
        "",
        "Empty directory shared by the processes of one machine (gunicorn workers, Celery "
        "children) so `/metrics` merges their samples; read by prometheus-client at start. "
        "Unset: each process counts alone.",
    )
    WORKER_METRICS_PORT: int = setting(
        0,
        "Port on which a Celery worker serves its own "
        "`/metrics` (same token rule), for workers on another "
        "machine than the web. 0: none.",
    )
    REPORTING_DATABASE_URL: str = setting(
        "",
        "A read replica for the admin's business "
        "metrics (the admin login's credentials; row-level "
        "security applies). Empty: the main database.",
        secret=True,
    )
    EMAIL_UNSENT_BODY_DAYS: int = setting(
        7,
        "Days an email that could not be sent keeps its body (for retries and support); a "
        "sent email's body is blanked at the next hourly sweep. Bodies hold sign-in, reset "
        "and verification links.",
    )
    BACKUP_S3_BUCKET: str = setting(
        "",
        "Bucket the encrypted database backups go to (AWS S3, Cloudflare R2, Backblaze "
        "B2, MinIO). Empty: no backups (the daily job fails outside DEBUG=1).",
    )
    BACKUP_S3_PREFIX: str = setting("backups/", "Key prefix of the backups in the bucket.")
    BACKUP_S3_ENDPOINT_URL: str = setting(
        "",
        "S3 API endpoint; empty: AWS. R2: https://<account>.r2.cloudflarestorage.com; B2: "
        "https://s3.<region>.backblazeb2.com.",
    )
    BACKUP_S3_REGION: str = setting("", "Region of the bucket (R2: auto).")
    BACKUP_S3_ACCESS_KEY_ID: str = setting(
        "", "Access key for the bucket; empty: boto3's own chain (AWS_* variables, instance role)."
    )
    BACKUP_S3_SECRET_ACCESS_KEY: str = setting("", "Secret of that access key.", secret=True)
    BACKUP_ENCRYPTION_KEY: str = setting(
        "",
        "AES-256 key(s) of the backups: 32 random bytes, base64. Several, comma-separated, "
        "while rotating: the first encrypts, any decrypts. Never stored with the backups; lose "
        "it and they cannot be read.",
        secret=True,
    )
    BACKUP_DATABASE_URL: str = setting(
        "",
        "Database the backup dumps and restores go through: a superuser or BYPASSRLS role "
        "(the tables FORCE row-level security). Empty: DATABASE_URL.",
        secret=True,
    )
    BACKUP_PG_BIN_DIR: str = setting(
        "",
        "Directory of pg_dump and pg_restore (of the server's major version); empty: found "
        "on PATH.",
    )
    BACKUP_KEEP_DAILY: int = setting(7, "Backups kept: the newest of each of this many days.")
    BACKUP_KEEP_WEEKLY: int = setting(4, "... and of each of this many ISO weeks.")
    BACKUP_KEEP_MONTHLY: int = setting(12, "... and of each of this many months.")
    SLOW_QUERY_MS: int = setting(
        500,
        "Database statements slower than this (milliseconds) "
        "are logged with their normalised SQL and counted; 0 turns "
        "it off.",
    )
    DATABASE_SSLMODE: str = setting(
        "",
        "libpq `sslmode` of every PostgreSQL connection (it overrides the URLs'). Empty: "
        "`verify-full` when DATABASE_SSLROOTCERT is set, else `require` outside development "
        "(DEBUG=0) for a server not on this machine (loopback and Unix sockets are exempt), "
        "else the URL's own.",
    )
    DATABASE_SSLROOTCERT: str = setting(
        "",
        "CA bundle (PEM file) that the PostgreSQL server's certificate must chain to; with "
        "it the default sslmode is `verify-full`.",
    )
    DATABASE_ALLOW_PLAINTEXT: bool = setting(
        False,
        "1 lets PostgreSQL connections go unencrypted outside development (a private "
        "network only): no sslmode is forced, and `sslmode=disable`/`allow`/`prefer` is "
        "accepted.",
    )
    REDIS_ALLOW_PLAINTEXT: bool = setting(
        False,
        "1 accepts `redis://` (unencrypted) for REDIS_URL and CELERY_BROKER_URL outside "
        "development (a private network only); otherwise they must be `rediss://` (or name a "
        "server on this machine).",
    )
    LOG_LEVEL: str = setting("INFO", "Root log level.")
    LOG_FORMAT: str = setting("json", "json (one JSON object per line) or text.")
    ADMIN_DATABASE_URL: str = setting(
        "",
        "URL of the platform admin area's login (/admin and the admin API, for platform "
        "admins). Default: DATABASE_URL with user `ADMIN_DB_USER` / `ADMIN_DB_PASSWORD`.",
        secret=True,
    )
    ADMIN_DB_USER: str = setting(
        "railsaas_admin",
        "The admin login (NOSUPERUSER NOBYPASSRLS "
        "NOINHERIT, owns nothing): every workspace, but not "
        "system-only tables.",
    )
    ADMIN_DB_PASSWORD: str = setting("railsaas_admin", "Password of the admin login.", secret=True)
    SYSTEM_DATABASE_URL: str = setting(
        "",
        "URL of the system login (Celery worker and beat, Stripe webhooks, outbox "
        "bookkeeping). Default: DATABASE_URL with user `SYSTEM_DB_USER` / "
        "`SYSTEM_DB_PASSWORD`.",
        secret=True,
    )
    SYSTEM_DB_USER: str = setting(
        "railsaas_system",
        "The system login (NOSUPERUSER "
        "NOBYPASSRLS NOINHERIT, owns nothing): the only one that "
        "sees every row.",
    )
    SYSTEM_DB_PASSWORD: str = setting(
        "railsaas_system", "Password of the system login.", secret=True
    )

    # -- forgiving parsing ---------------------------------------------------------------

    @field_validator("*", mode="before")
    @classmethod
    def _empty_number_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[info.field_name]
        if field.annotation in (int, float) and isinstance(value, str) and not value.strip():
            return field.default
        return value

    @field_validator("DEBUG", mode="before")
    @classmethod
    def _debug_only_for_one(cls, value: Any) -> Any:
        # Exactly "1": a stray "true" or "yes" must not switch production's checks off.
        return value.strip() == "1" if isinstance(value, str) else value

    @field_validator("DB_RECONFIGURE", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return value.strip() != "0" if isinstance(value, str) else value

    @field_validator("CELERY", "RAILWAY_CLIENT_OPTIONS", mode="before")
    @classmethod
    def _json_object(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        parsed = json.loads(value)
        if not isinstance(parsed, dict):
            raise ValueError(f"{info.field_name} must be a JSON object")
        return parsed

    # -- derived values and checks -------------------------------------------------------

    def _login_url(self, kind: str) -> str:
        """A login's URL (kind: APP, ADMIN or SYSTEM): its explicit *_DATABASE_URL, or
        DATABASE_URL with its user and password."""
        explicit = getattr(self, f"{kind}_DATABASE_URL")
        if explicit:
            return explicit
        if not self.DATABASE_URL:
            raise RuntimeError("DATABASE_URL is not set")
        return _with_user(
            self.DATABASE_URL,
            getattr(self, f"{kind}_DB_USER"),
            getattr(self, f"{kind}_DB_PASSWORD"),
        )

    @property
    def app_database_url(self) -> str:
        """The web login's URL (the customer-facing app role)."""
        return self._login_url("APP")

    @property
    def admin_database_url(self) -> str:
        """The admin login's URL (the platform admin area)."""
        return self._login_url("ADMIN")

    @property
    def system_database_url(self) -> str:
        """The system login's URL (worker, beat, webhooks' bookkeeping)."""
        return self._login_url("SYSTEM")

    def secret_values(self) -> list[str]:
        """Configured secret values, longest first, for log redaction."""
        values = [str(getattr(self, name) or "") for name in secret_names()]
        return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)

    def insecure_secrets(self) -> list[str]:
        """What is wrong with the secrets, one line per variable (empty: nothing)."""
        problems = []
        for name, min_len in REQUIRED_SECRETS.items():
            value = str(getattr(self, name) or "")
            if not value:
                why = "is not set"
            elif value == default_of(name):
                why = "is the development default from the source code"
            elif len(value) < min_len:
                why = f"is {len(value)} characters long (at least {min_len} needed)"
            else:
                continue
            how = _HOW_TO_MAKE.get(name, f"make one with: {_RANDOM}")
            problems.append(f"{name} {why}; {how}")
        return problems

    def database_tls(self, url: str = "") -> dict[str, str]:
        """libpq TLS parameters for a PostgreSQL connection to `url` (engines pass them as
        connect arguments, which take precedence over the URL's query)."""
        mode = self.DATABASE_SSLMODE
        if not mode and self.DATABASE_SSLROOTCERT:
            mode = "verify-full"
        elif not mode and self._tls_required(url, self.DATABASE_ALLOW_PLAINTEXT):
            mode = "require"
        params = {"sslmode": mode} if mode else {}
        if self.DATABASE_SSLROOTCERT:
            params["sslrootcert"] = self.DATABASE_SSLROOTCERT
        return params

    def _tls_required(self, url: str, allow_plaintext: bool) -> bool:
        # A server on this machine (loopback, Unix socket) is never reached over a network:
        # `make dev`'s and the tests' servers, which migrate before DEBUG is settled.
        return not (self.DEBUG or allow_plaintext or _is_local(url))

    def insecure_transport(self) -> list[str]:
        """What would let PostgreSQL or Redis traffic cross a network unencrypted outside
        development, one line per setting (empty: nothing)."""
        problems = []
        mode = self.DATABASE_SSLMODE
        if mode and mode not in SSLMODES:
            problems.append(
                f"DATABASE_SSLMODE={mode} is not a libpq sslmode; use require, "
                "verify-ca or verify-full"
            )
        cert = self.DATABASE_SSLROOTCERT
        if cert and cert != "system" and not os.path.isfile(cert):
            problems.append(
                f"DATABASE_SSLROOTCERT={cert} is not a file; give the path of the "
                "PEM bundle of the CA that signed the database server's certificate"
            )
        how = "set DATABASE_ALLOW_PLAINTEXT=1 " + _PRIVATE_ONLY
        for name in _DATABASE_URLS:
            url = getattr(self, name)
            if not url or not self._tls_required(url, self.DATABASE_ALLOW_PLAINTEXT):
                continue
            if mode in PLAINTEXT_SSLMODES:
                problems.append(
                    f"DATABASE_SSLMODE={mode} allows unencrypted connections to "
                    f"{name}'s server; use require or verify-full, or {how}"
                )
            url_mode = _query_value(url, "sslmode")
            if url_mode in PLAINTEXT_SSLMODES:
                problems.append(
                    f"{name} has sslmode={url_mode}, which allows unencrypted "
                    f"connections; remove it (TLS is required by default), "
                    f"or {how}"
                )
        for name in _REDIS_URLS:
            url = getattr(self, name)
            if urlsplit(url).scheme == "redis" and self._tls_required(
                url, self.REDIS_ALLOW_PLAINTEXT
            ):
                problems.append(
                    f"{name} is redis:// (unencrypted); use rediss:// (TLS), "
                    f"or set REDIS_ALLOW_PLAINTEXT=1 {_PRIVATE_ONLY}"
                )
        return problems

    def check_safe_to_start(self) -> None:
        """Refuse to start outside development (DEBUG=0) with an insecure secret or a database
        or Redis connection that may go unencrypted. Every entry point builds the app through
        create_app, so web, worker and beat all stop."""
        if self.RAILWAY_API_TOKEN and not self.RAILWAY_WORKSPACE_ID:
            # Without it projects land in the token owner's default workspace and every
            # project lookup pages through all the token can see. Refused in development too.
            raise InsecureConfiguration(
                "RAILWAY_WORKSPACE_ID must be set whenever RAILWAY_API_TOKEN is set."
            )
        if self.RAILWAY_TOKEN_KEY and not token_keys_valid(self.RAILWAY_TOKEN_KEY):
            # A key that cannot decrypt would only fail later, at the first Railway call.
            raise InsecureConfiguration(
                "RAILWAY_TOKEN_KEY must be one or more comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each)."
            )
        if self.DEBUG:
            return
        problems = self.insecure_secrets() + self.insecure_transport()
        if self.UPTIME_ALLOW_PRIVATE or self.UPTIME_CONNECT_TO:
            problems.append(
                "UPTIME_ALLOW_PRIVATE / UPTIME_CONNECT_TO are for development: "
                "they let uptime checks reach private addresses; unset them"
            )
        if problems:
            raise InsecureConfiguration(
                "Refusing to start with DEBUG=0 (production) and insecure settings:\n  - "
                + "\n  - ".join(problems)
                + "\nSet them in the environment, or DEBUG=1 for local development only."
            )

    def as_flask(self) -> dict:
        return {name: getattr(self, name) for name in type(self).model_fields}


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


def token_keys_valid(value: str) -> bool:
    """Whether RAILWAY_TOKEN_KEY is a comma-separated list of Fernet keys."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    try:
        for key in keys:
            Fernet(key)
    except (ValueError, TypeError):
        return False
    return bool(keys)


class InsecureConfiguration(RuntimeError):
    """The process must not start: a secret is missing, a known default, or too short."""


def setting_names() -> list[str]:
    return list(Config.model_fields)


def secret_names() -> list[str]:
    return [name for name, info in Config.model_fields.items() if _is_secret(info)]


def default_of(name: str) -> Any:
    info = Config.model_fields[name]
    return info.get_default(call_default_factory=True)


def _with_user(url: str, user: str, password: str) -> str:
    """Swap the credentials of a database URL, keeping host, port, database and query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# libpq's sslmodes; the first three let a connection go unencrypted (disable never tries TLS,
# allow and prefer fall back to plaintext when TLS fails, so a man in the middle can force it).
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
PLAINTEXT_SSLMODES = SSLMODES[:3]
_DATABASE_URLS = (
    "DATABASE_URL",
    "APP_DATABASE_URL",
    "ADMIN_DATABASE_URL",
    "SYSTEM_DATABASE_URL",
    "REPORTING_DATABASE_URL",
)
_REDIS_URLS = ("REDIS_URL", "CELERY_BROKER_URL")
_PRIVATE_ONLY = "only if it is reached over a private network"


def _is_local(url: str) -> bool:
    """Whether a database or Redis URL names a server on this machine."""
    if not url:
        return False
    parts = urlsplit(url)
    host = parts.hostname or _query_value(url, "host")
    return (
        not host
        or host.startswith("/")
        or host == "localhost"
        or host == "::1"
        or host.startswith("127.")
    )


def _query_value(url: str, key: str) -> str:
    values = parse_qs(urlsplit(url).query).get(key) if url else None
    return values[-1] if values else ""


def sqlalchemy_url(url: str) -> str:
    """postgres:// and postgresql:// URLs -> the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _shown(value: Any) -> str:
    """A default as it is written in the environment."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return json.dumps(value) if value else ""
    return str(value)


def settings_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, info in Config.model_fields.items():
        default = _shown(default_of(name))
        shown = "(secret)" if _is_secret(info) and default else (default or "(empty)")
        rows.append(f"| `{name}` | `{shown}` | {info.description} |")
    return "\n".join(rows)


def update_readme(path: str = "README.md") -> None:
    """Rewrite the README's settings table (between its settings:start/end markers)."""
    with open(path) as f:
        text = f.read()
    table = f"<!-- settings:start -->\n{settings_table()}\n<!-- settings:end -->"
    text = re.sub(
        r"<!-- settings:start -->.*?<!-- settings:end -->", lambda _: table, text, flags=re.S
    )
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--update-readme"]:
        update_readme()
    else:
        print(settings_table())
