"""Structured logging: one JSON object per line (or readable text), a request id on every
line, and no configured secret ever written out.

    log = logging.getLogger(__name__)
    log.info("instance deployed", extra={"action": "create_instance",
             "template_id": t.id, "railway_service_id": sid, "duration_ms": 1234,
             "status": "success"})

Every JSON line carries the seed's fields (timestamp, level, service, user_id, action,
template_id, railway_service_id, duration_ms, status; null when unknown) plus request_id,
tenant_id, logger and message; any other `extra` is added as is. `service` is the area the
logger belongs to (`railsaas.instances.lifecycle` -> "instances") unless given in `extra`.

Where the fields come from: in a web request, the request id (the `X-Request-ID` header, or a
new one), g.user and g.workspace; in a Celery task, the id of the request that queued it (or
the task id) and the task's tenant; anywhere, `bind(...)` adds fields for a block of code.

One line per action: `with timed(log, "instance.deploy", template_id=...) as act:` binds the
action and the fields for the block and writes one closing line with `duration_ms` and
`status` (succeeded, failed, or what the block or its `outcome` names: deferred, retrying,
...). Lifecycle steps, Stripe events and Celery task runs write theirs (docs/observability.md).

Redaction is a handler filter, so it sees every record that reaches our handler (ours,
Celery's, SQLAlchemy's, libraries'): the message, its arguments, the extras and the
formatted traceback are all scrubbed of every value `Config.secret_values()` lists.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import g, has_app_context, has_request_context, request
from sqlalchemy import inspect

REDACTED = "[REDACTED]"
SEED_FIELDS = ("user_id", "action", "template_id", "railway_service_id", "duration_ms", "status")
REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is kept only if it looks like one: no spaces, quotes or control
# characters that would let a client forge log structure, and not absurdly long.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{8,128}$")

# URL parts named like these (a reset link's <token>) are masked in logged paths: they are
# per-user secrets no configuration lists.
_SENSITIVE_ARG = re.compile(r"token|secret|password|signature|key", re.IGNORECASE)

# Attributes every LogRecord has; anything else on a record came from `extra`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# Fields bound by the web request or the running task (see bind()).
_bound: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "railsaas_log_fields", default=None
)


# --- request ids and bound fields -------------------------------------------------------------


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """The incoming id if it is safe to echo and log, else None."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return None


def safe_path() -> str:
    """The request's path with secret-looking URL variables masked."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if _SENSITIVE_ARG.search(name) and isinstance(value, str) and value:
            path = path.replace(value, REDACTED)
    return path


def bound_fields() -> dict[str, Any]:
    return dict(_bound.get() or {})


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add fields to every log line written inside the block (nested blocks add more)."""
    token = _bound.set({**(_bound.get() or {}), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def set_fields(**fields: Any) -> contextvars.Token:
    """Bind fields until `reset_fields(token)`; for hooks that open and close in two places
    (before/after request, task prerun/postrun)."""
    return _bound.set({**(_bound.get() or {}), **fields})


def reset_fields(token: contextvars.Token) -> None:
    with contextlib.suppress(ValueError):  # a token from another context: nothing to undo
        _bound.reset(token)


def current_request_id() -> str | None:
    return (_bound.get() or {}).get("request_id")


# --- one line per action ----------------------------------------------------------------------

FAILED = "failed"


class Action:
    """What `timed` yields: the code inside may `bind` more fields (they go on every line
    written in the block and on the closing one), set `status` (else "succeeded", or
    "failed" on an exception) and `extra` (closing line only), or `close` it early."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self.logger, self.name = logger, name
        self.status: str | None = None
        self.extra: dict[str, Any] = {}
        self.written = False
        self.started = time.perf_counter()

    def bind(self, **fields: Any) -> None:
        # The block's token (taken before) restores the state from before the block.
        _bound.set({**(_bound.get() or {}), **fields})

    def close(
        self,
        status: str,
        *,
        duration_ms: float | None = None,
        level: int | None = None,
        **extra: Any,
    ) -> None:
        """Write the action's line now (once); the end of the block then writes nothing."""
        if self.written:
            return
        self.written = True
        if duration_ms is None:
            duration_ms = round((time.perf_counter() - self.started) * 1000, 1)
        if level is None:
            level = logging.WARNING if status == FAILED else logging.INFO
        self.logger.log(
            level,
            "%s %s",
            self.name,
            status,
            extra={
                **self.extra,
                **extra,
                "action": self.name,
                "duration_ms": duration_ms,
                "status": status,
            },
        )


_action: contextvars.ContextVar[Action | None] = contextvars.ContextVar(
    "railsaas_log_action", default=None
)


def current_action() -> Action | None:
    """The innermost `timed` block running here, if any."""
    return _action.get()


@contextlib.contextmanager
def timed(
    logger: logging.Logger,
    name: str,
    *,
    outcome: Callable[[BaseException], str | None] | None = None,
    **fields: Any,
) -> Iterator[Action]:
    """One line when the block ends: `name` as the `action`, its `status` and `duration_ms`,
    with `fields` (template_id, railway_service_id, ...) bound on every line inside.

    outcome: names the status of an exception that is not a failure ("deferred",
    "retrying"); None (or no function) means "failed". The exception still propagates."""
    act = Action(logger, name)
    token = _bound.set({**(_bound.get() or {}), "action": name, **fields})
    action_token = _action.set(act)
    try:
        yield act
    except BaseException as exc:
        if act.status is None:
            act.status = (outcome(exc) if outcome is not None else None) or FAILED
        act.extra.setdefault("error", type(exc).__name__)
        raise
    finally:
        try:
            act.close(act.status or "succeeded")
        finally:
            _action.reset(action_token)
            _bound.reset(token)


# --- redaction --------------------------------------------------------------------------------


class Redactor:
    """Replaces every known secret value in text. Values are matched literally, as given and
    URL-encoded (a password inside a database URL), longest first."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        for value in secrets:
            if value and len(value) >= 6:  # shorter values would redact ordinary words
                self._secrets.add(value)
                self._secrets.add(quote(value, safe=""))
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def value(self, obj: Any, _depth: int = 0) -> Any:
        """Redact strings inside plain data (dicts, lists, tuples), leaving other types."""
        if _depth > 12:
            return obj
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {k: self.value(v, _depth + 1) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj)(self.value(v, _depth + 1) for v in obj)
        return obj


# The process's redactor: filled from the config by configure(); other code may add values
# that become secret at run time (register_secret).
redactor = Redactor()


def register_secret(*values: str) -> None:
    """Treat these values as secrets in every later log line and error report."""
    redactor.add(*values)


def redact(text: str) -> str:
    return redactor(text)


class RedactingFilter(logging.Filter):
    """Scrubs secrets from the whole record before any formatter sees it."""

    def __init__(self, redactor_: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor_ or redactor

    def filter(self, record: logging.LogRecord) -> bool:
        r = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = r(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = r(record.exc_text)
        if record.stack_info:
            record.stack_info = r(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS:
                setattr(
                    record,
                    key,
                    r.value(value) if isinstance(value, str | dict | list | tuple) else value,
                )
        return True


# --- context ----------------------------------------------------------------------------------


def _service_of(logger_name: str) -> str:
    """railsaas.instances.lifecycle -> instances; railsaas.railway.client -> railway;
    celery.app.trace -> celery."""
    parts = logger_name.split(".")
    if parts[0] == "railsaas" and len(parts) > 1:
        if parts[1] in ("tasks", "blueprints") and len(parts) > 2:
            return parts[2]
        return parts[1]
    return parts[0] or "root"


class ContextFilter(logging.Filter):
    """Adds the request's or task's fields (request id, user, workspace, ...) to a record,
    without overwriting what the call site passed in `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = dict(_bound.get() or {})
        fields.update(_flask_fields(fields))
        for key, value in fields.items():
            if value is not None and getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _flask_fields(already: dict[str, Any]) -> dict[str, Any]:
    if not (has_request_context() and has_app_context()):
        return {}
    out: dict[str, Any] = {}
    if not already.get("request_id") and g.get("request_id"):
        out["request_id"] = g.request_id
    user = g.get("user")
    if user is not None and not already.get("user_id"):
        out["user_id"] = row_id(user)
    workspace = g.get("workspace")
    if workspace is not None and not already.get("tenant_id"):
        out["tenant_id"] = row_id(getattr(workspace, "tenant", None))
    return out


def row_id(obj: Any) -> Any:
    """The primary key of an ORM row without loading anything. After a failed transaction
    (the database dropped the connection mid-request) its attributes are expired, and
    reading `obj.id` would query again and raise inside the error handler's own log line."""
    try:
        state = inspect(obj, raiseerr=False)
        if state is not None and state.identity:
            return state.identity[0]
        return getattr(obj, "id", None)
    except Exception:
        return None


# --- formatters -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the seed's fields always present (null when unknown)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "service": getattr(record, "service", None) or _service_of(record.name),
            "message": message,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "tenant_id": getattr(record, "tenant_id", None),
        }
        for key in SEED_FIELDS:
            out[key] = getattr(record, key, None)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in out:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps({k: _jsonable(v) for k, v in out.items()}, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For people at a terminal: time, level, service, request id, message, then key=value."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        service = getattr(record, "service", None) or _service_of(record.name)
        rid = getattr(record, "request_id", None)
        head = f"{ts} {record.levelname:<7} {service}"
        if rid:
            head += f" [{str(rid)[:12]}]"
        extras = {
            k: v
            for k, v in vars(record).items()
            if k not in _RECORD_ATTRS and k not in ("service", "request_id") and v is not None
        }
        line = f"{head} {record.getMessage()}"
        if extras:
            line += " " + " ".join(f"{k}={_jsonable(v)}" for k, v in sorted(extras.items()))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


# --- setup ------------------------------------------------------------------------------------


class RailsaasHandler(logging.StreamHandler):
    """Our handler (configuring twice replaces it rather than adding a second). Without an
    explicit stream it writes to whatever sys.stderr is at the time of each line, so a test
    runner swapping and closing stderr never leaves it writing to a closed file."""

    def __init__(self, stream=None) -> None:
        super().__init__(stream)  # (it substitutes sys.stderr for None: undo that)
        self._explicit = stream

    @property
    def stream(self):
        return self._explicit if self._explicit is not None else sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        self._explicit = value


class PeriodicChatterFilter(logging.Filter):
    """Drop the INFO lines Celery writes for every run of a job beat fires every few seconds
    (sent, received, succeeded): a line a second that buries everything else. Failures and
    retries of those jobs still log; their runs are counted in the Prometheus task metrics."""

    LOGGERS = {"celery.beat", "celery.worker.strategy", "celery.app.trace"}

    # Filled by the Celery app (railsaas.tasks) from its beat schedule: logging knows no tasks.
    task_names: frozenset[str] = frozenset()

    @classmethod
    def quiet(cls, task_names: Iterable[str]) -> None:
        cls.task_names = frozenset(task_names)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.name not in self.LOGGERS:
            return True
        args = record.args
        if isinstance(args, dict):
            name = args.get("name")
        elif isinstance(args, tuple) and len(args) >= 2:  # beat: "Sending due task %s (%s)"
            name = args[1]
        else:
            return True
        return name not in self.task_names


def configure(
    *, level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = (), stream=None
) -> logging.Handler:
    """Install our handler on the root logger (replacing one installed before) with the
    context and redaction filters. Safe to call again (tests build several apps)."""
    redactor.add(*secrets)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, RailsaasHandler)]:
        root.removeHandler(old)
    handler = RailsaasHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt.lower() == "json" else TextFormatter())
    # First: it reads the record's args, which the redacting filter renders into the message.
    handler.addFilter(PeriodicChatterFilter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that chatter at INFO (httpx: a line per request); warnings still come through.
    for name in ("urllib3", "httpx", "kombu", "amqp", "pgserver", "stripe"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler


def installed_handler() -> logging.Handler | None:
    for h in logging.getLogger().handlers:
        if isinstance(h, RailsaasHandler):
            return h
    return None


def init_app(app) -> None:
    """Logging for the web app and (through the same create_app) the Celery worker: our
    handler on the root logger, a request id per request, one access line per request."""
    cfg = app.config["SETTINGS"]
    configure(
        level=app.config["LOG_LEVEL"], fmt=app.config["LOG_FORMAT"], secrets=cfg.secret_values()
    )
    access = logging.getLogger("railsaas.access")

    @app.before_request
    def _request_id() -> None:
        g.request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        g.request_started = time.perf_counter()
        g._log_token = set_fields(request_id=g.request_id)

    # First of all before_request hooks: every later one (user loading included) logs with it.
    funcs = app.before_request_funcs.setdefault(None, [])
    funcs.insert(0, funcs.pop(funcs.index(_request_id)))

    @app.after_request
    def _request_id_header(response):
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        if started is not None and request.endpoint != "static":
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            level = logging.WARNING if response.status_code >= 500 else logging.INFO
            if request.endpoint in ("ops.healthz", "ops.readyz", "ops.metrics"):
                level = logging.DEBUG  # probes every few seconds would drown the rest
            path = safe_path()
            access.log(
                level,
                "%s %s %s",
                request.method,
                path,
                response.status_code,
                extra={
                    "service": "web",
                    "method": request.method,
                    "path": path,
                    "endpoint": request.endpoint,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
        return response

    @app.teardown_request
    def _unbind(exc: BaseException | None) -> None:
        token = g.pop("_log_token", None)
        if token is not None:
            reset_fields(token)
