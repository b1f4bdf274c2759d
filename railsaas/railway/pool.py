"""The pool of Railway workspaces, and the client of each.

One Railway workspace caps the business twice: its token's rate budget (Pro: 10,000 requests
an hour) bounds how many instances can be kept fresh, and Railway's usage limit, when
reached, stops every workload in it at once. So customer projects are spread over a pool of
Railway workspaces (`models.RailwayWorkspace`), each with its own token, rate budget and
circuit breaker:

- a customer workspace is placed on the least loaded *open* entry at its first deploy
  (`place`, in the deploying request's own transaction) and stays there; each instance
  records the entry its project lives in (`instances.railway_workspace_id`);
- every Railway call for an instance goes through `client_for(<its entry>)`; the budget and
  the breaker of a stored entry live under `railway:ws:<entry id>` in Redis, so one entry's
  spent budget or dead token leaves the others untouched;
- the first entry is the environment's (`token_source = 'environment'`, created by migration
  0009): its token, workspace id, plan and rate overrides are the RAILWAY_* settings, read at
  run time, and its client is `railway_client()` with today's Redis keys (`railway:*`), so a
  single-workspace setup (`make dev`, the tests) behaves exactly as before;
- the tokens of the other entries are stored encrypted with RAILWAY_TOKEN_KEY (Fernet;
  MultiFernet while rotating: the first key encrypts, any decrypts). They are decrypted only
  here, into the client's redacted token holder; never logged, shown or passed to a task
  (tasks pass entry ids).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from railsaas.config import InsecureConfiguration
from railsaas.db import SYSTEM
from railsaas.errors import ServiceError
from railsaas.extensions import db, redis_client
from railsaas.models import RailwayWorkspace
from railsaas.railway.client import RailwayClient, railway_client
from railsaas.railway.client import reset_clients as reset_environment_client
from railsaas.railway.errors import Unauthorized

ENVIRONMENT = "environment"
STORED = "stored"
# How long a process trusts what it read of an entry (its state and token version): a new
# token or a closed entry is seen within this.
ENTRY_TTL_SECONDS = 10.0


class TokenKeyMissing(ServiceError):
    """RAILWAY_TOKEN_KEY is not set (or cannot decrypt a stored token)."""

    status = 503
    code = "railway_token_key"


class NoRailwayCapacity(ServiceError):
    """No Railway workspace of the pool is open for a new customer workspace."""

    status = 503
    code = "no_railway_capacity"


# --- tokens at rest ---------------------------------------------------------------------------


def _cipher(app=None) -> MultiFernet:
    return _cipher_from((app or current_app).config.get("RAILWAY_TOKEN_KEY") or "")


def _cipher_from(raw: str) -> MultiFernet:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise TokenKeyMissing(
            "RAILWAY_TOKEN_KEY is not set: tokens of added Railway workspaces cannot be "
            "stored or read."
        )
    return MultiFernet([Fernet(k) for k in keys])


def encrypt_token(token: str, app=None) -> bytes:
    return _cipher(app).encrypt(token.encode())


def decrypt_token(ciphertext: bytes, app=None) -> str:
    try:
        return _cipher(app).decrypt(bytes(ciphertext)).decode()
    except InvalidToken:
        raise TokenKeyMissing(
            "RAILWAY_TOKEN_KEY cannot decrypt a stored Railway token (a key was removed "
            "before the tokens were re-encrypted?)."
        ) from None


def rotate_tokens(session: Session, app=None) -> int:
    """Re-encrypt every stored token with the first key of RAILWAY_TOKEN_KEY (after adding a
    new key in front); then the old key can go. Returns how many were re-encrypted."""
    cipher = _cipher(app)
    rows = session.scalars(
        select(RailwayWorkspace).where(RailwayWorkspace.token_source == STORED)
    ).all()
    for row in rows:
        row.token_ciphertext = cipher.rotate(bytes(row.token_ciphertext))
    return len(rows)


def check_token_key(app) -> None:
    """At start-up, outside development: refuse to start without RAILWAY_TOKEN_KEY once the
    pool holds a stored token (every Railway call for the workspaces placed there would
    fail). Asked of the database with the system login and a short timeout; a database that
    cannot be reached now is not evidence (the process fails on it soon enough)."""
    cfg = app.config
    url = (cfg.get("database_urls") or {}).get("system")
    if cfg.get("DEBUG") or cfg.get("RAILWAY_TOKEN_KEY") or not url:
        return
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(url, connect_timeout=3, **cfg["SETTINGS"].database_tls(url)) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM railway_workspaces WHERE token_source = 'stored'"
            ).fetchone()[0]
    except psycopg.Error:
        return
    if stored:
        raise InsecureConfiguration(
            f"RAILWAY_TOKEN_KEY is not set, but the pool of Railway workspaces holds {stored} "
            "stored token(s) encrypted with it; set it (the key they were stored with)."
        )


# --- entries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What a process needs of a pool row to talk to its Railway workspace."""

    id: uuid.UUID
    name: str
    source: str
    railway_workspace_id: str | None
    token_version: int
    plan: str
    rate_per_hour: int | None
    rate_per_second: int | None
    state: str
    ciphertext: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def is_environment(self) -> bool:
        return self.source == ENVIRONMENT


def _entry(row: RailwayWorkspace) -> Entry:
    return Entry(
        id=row.id,
        name=row.name,
        source=row.token_source,
        railway_workspace_id=row.railway_workspace_id,
        token_version=row.token_version,
        plan=row.plan,
        rate_per_hour=row.rate_per_hour,
        rate_per_second=row.rate_per_second,
        state=row.state,
        ciphertext=bytes(row.token_ciphertext) if row.token_ciphertext is not None else None,
    )


_cache: dict[uuid.UUID, tuple[float, Entry]] = {}
_cache_lock = threading.Lock()


def entries(session: Session | None = None) -> list[Entry]:
    """Every entry, oldest first (read with the system login unless a session is given).
    The environment's entry is made again if it went missing (migration 0009 makes it)."""
    if session is None:
        with db.scope(SYSTEM) as s:
            return entries(s)
    if environment_usable() and not session.scalar(
        select(RailwayWorkspace.id).where(RailwayWorkspace.token_source == ENVIRONMENT)
    ):
        session.execute(
            insert(RailwayWorkspace)
            .values(name="primary", token_source=ENVIRONMENT, state="open")
            .on_conflict_do_nothing()
        )
    stmt = select(RailwayWorkspace).order_by(RailwayWorkspace.created_at, RailwayWorkspace.id)
    found = [_entry(r) for r in session.scalars(stmt)]
    with _cache_lock:
        now = time.monotonic()
        for e in found:
            _cache[e.id] = (now, e)
    return found


def entry(entry_id: uuid.UUID) -> Entry:
    """One entry, as read within the last ENTRY_TTL_SECONDS."""
    with _cache_lock:
        hit = _cache.get(entry_id)
    if hit is not None and time.monotonic() - hit[0] < ENTRY_TTL_SECONDS:
        return hit[1]
    with db.scope(SYSTEM) as s:
        row = s.get(RailwayWorkspace, entry_id)
        if row is None:
            raise Unauthorized(f"Railway workspace {entry_id} is not in the pool")
        found = _entry(row)
    with _cache_lock:
        _cache[entry_id] = (time.monotonic(), found)
    return found


def is_environment(entry_id: uuid.UUID | None) -> bool:
    """Whether an entry id (None: instances from before the pool) is the environment's."""
    if entry_id is None:
        return True
    try:
        return entry(entry_id).is_environment
    except Unauthorized:
        return False


def forget(entry_id: uuid.UUID | None = None) -> None:
    """Drop what this process read (after an admin changed an entry, and in tests)."""
    with _cache_lock:
        if entry_id is None:
            _cache.clear()
        else:
            _cache.pop(entry_id, None)


# --- clients ----------------------------------------------------------------------------------

_clients: dict[tuple, RailwayClient] = {}
_clients_lock = threading.Lock()


def key_prefix(entry_id: uuid.UUID | None) -> str:
    """Where an entry's rate budget and breaker live in Redis. The environment's entry keeps
    today's keys (`railway:*`)."""
    return "railway" if is_environment(entry_id) else f"railway:ws:{entry_id}"


def client_for(entry_id: uuid.UUID | None, app=None) -> RailwayClient:
    """The client of one pool entry (None: the environment's), with its own shared budget
    and breaker. One per process, entry and token version; thread-safe."""
    app = app or current_app._get_current_object()
    if entry_id is None:
        return railway_client(app)
    e = entry(entry_id)
    if e.is_environment:
        return railway_client(app)
    cfg = app.config
    options = cfg.get("RAILWAY_CLIENT_OPTIONS") or {}
    key = (
        os.getpid(),
        e.id,
        e.token_version,
        hashlib.sha256(e.ciphertext or b"").hexdigest(),
        e.railway_workspace_id,
        e.plan,
        e.rate_per_hour,
        e.rate_per_second,
        cfg.get("RAILWAY_API_URL"),
        cfg.get("RAILWAY_BATCH_SIZE"),
        cfg.get("REDIS_URL"),
        tuple(sorted((k, repr(v)) for k, v in options.items())),
    )
    with _clients_lock:
        client = _clients.get(key)
    if client is not None:
        return client
    try:
        token = decrypt_token(e.ciphertext or b"", app)
    except TokenKeyMissing as exc:
        # To callers this Railway workspace cannot be reached: its breaker stays closed.
        raise Unauthorized(exc.message) from None
    redis = redis_client(cfg["REDIS_URL"]) if cfg.get("REDIS_URL") else None
    built = RailwayClient.from_config(
        cfg,
        redis=redis,
        token=token,
        workspace_id=e.railway_workspace_id or "",
        plan=e.plan,
        rate_per_hour=e.rate_per_hour,
        rate_per_second=e.rate_per_second,
        key_prefix=key_prefix(e.id),
        dead_token_opens_breaker=True,
    )
    del token
    with _clients_lock:
        client = _clients.setdefault(key, built)
    if client is not built:
        built.close()
    return client


def reset_clients() -> None:
    """Close and forget every Railway client, the environment entry's included, and what was
    read of the entries (tests, or after changing config at run time)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
    reset_environment_client()
    forget()


# --- placement --------------------------------------------------------------------------------


def environment_usable(app=None) -> bool:
    """The environment's entry takes new workspaces only when its token is configured."""
    cfg = (app or current_app).config
    return bool(cfg.get("RAILWAY_API_TOKEN"))


def place(session: Session, tenant_id: uuid.UUID) -> uuid.UUID:
    """The entry the workspace's next instance goes to: where it is pinned, or (first deploy,
    or its entry was closed) the least loaded open entry, recorded on the workspace in the
    caller's transaction. Raises NoRailwayCapacity, writing nothing, when none is open."""
    chosen = session.scalar(
        text("SELECT railway_place_workspace(:tenant, :env_ok)"),
        {"tenant": tenant_id, "env_ok": environment_usable()},
    )
    if chosen is None:
        raise NoRailwayCapacity(
            "No Railway capacity is open for new workspaces right now. Try again later."
        )
    return chosen
