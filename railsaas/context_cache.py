"""The signed-in browser's request context (their user row, their role in the workspace the
session names, that workspace's row), kept in the cache Redis so a page read costs no
database round trip while none of it has changed.

A snapshot is stored under `ctx:<user id>:<workspace id>` with the version tokens
(railsaas.versions) of the user and the workspace read *before* the rows it was made from.
Those tokens change after every committed change to the user's row, the workspace's row or
its memberships, so a snapshot whose tokens are still the current ones holds what the
database would answer now; one that is behind is ignored (and replaced by the next full
load). The tokens and the snapshot come back in one MGET, with the usage token the page's
cached fragments need (kept for the rest of the request: versions.remember).

What it holds is signed with the app's secret key (an HMAC checked before anything is
believed), and leaves out what is not needed to serve a page and should not sit in a cache:
the password hash and the second factor (read from the database when a request asks for
them: they are left unloaded, not empty). The plan and other relationships load on first use.

Used for GET and HEAD of browser pages outside the admin area; writes and the admin area
always read the database.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from hashlib import sha256
from typing import Any

import redis
from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from railsaas import versions
from railsaas.extensions import cache_redis
from railsaas.models import Tenant, User
from railsaas.observability import metrics

TTL_SECONDS = 900
# Never cached: credentials (read when a request needs them).
_LEFT_OUT = {User: frozenset({"password_hash"}), Tenant: frozenset()}


@dataclass(frozen=True)
class Snapshot:
    user: User
    tenant: Tenant
    role: str


def _key(user_id: uuid.UUID, tenant_id: uuid.UUID) -> str:
    return f"ctx:{user_id}:{tenant_id}"


def lookup(
    session: Session, user_id: uuid.UUID, session_version: int, tenant_id: uuid.UUID
) -> tuple[Snapshot | None, tuple[str, str] | None]:
    """(the snapshot attached to `session`, or None; the user's and workspace's current
    tokens, None when Redis cannot say). One round trip."""
    keys = (versions.user_key(user_id), versions.workspace_key(tenant_id), versions.USAGE)
    try:
        *tokens, raw = cache_redis().mget((*keys, _key(user_id, tenant_id)))
    except redis.RedisError:
        return None, None
    if any(t is None for t in tokens):
        tokens = versions.read(*keys)  # made now (a first visit, or evicted): a miss
        if tokens is None:
            return None, None
    else:
        versions.remember(dict(zip(keys, tokens, strict=True)))
    current = (tokens[0], tokens[1])
    doc = _verified(raw)
    hit = (
        doc is not None
        and tuple(doc["tokens"]) == current
        and doc["user"]["session_version"] == session_version
    )
    metrics.cache_lookup("request_context", hit=hit)
    if not hit:
        return None, current
    user = _attach(session, User, doc["user"])
    tenant = _attach(session, Tenant, doc["tenant"])
    return Snapshot(user, tenant, doc["role"]), current


def store(tokens: tuple[str, str], user: User, tenant: Tenant, role: str) -> None:
    """Keep the context loaded from the database, under the tokens read before it was."""
    body = json.dumps(
        {
            "tokens": list(tokens),
            "user": _columns(user),
            "tenant": _columns(tenant),
            "role": role,
        },
        separators=(",", ":"),
    )
    with contextlib.suppress(redis.RedisError):
        cache_redis().set(_key(user.id, tenant.id), _signer().sign(body), ex=TTL_SECONDS)


# --- the stored form ----------------------------------------------------------------------


def _signer() -> Signer:
    # itsdangerous, as the app's other signed values (links, invitations): <body>.<signature>
    return Signer(
        current_app.config["SECRET_KEY"], salt="railsaas.context_cache", digest_method=sha256
    )


def _verified(raw: str | None) -> dict | None:
    if not raw:
        return None
    try:
        return json.loads(_signer().unsign(raw))
    except BadSignature:
        return None


def _columns(obj) -> dict[str, Any]:
    left_out = _LEFT_OUT[type(obj)]
    return {
        attr.key: _encode(getattr(obj, attr.key))
        for attr in inspect(type(obj)).column_attrs
        if attr.key not in left_out
    }


def _encode(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


_COLUMNS: dict[type, dict[str, Any]] = {}


def _decoders(model: type) -> dict[str, Any]:
    """Per column of `model`, what turns its JSON form back into its Python value (None: the
    JSON value is the value)."""
    if model not in _COLUMNS:
        table = {}
        for attr in inspect(model).column_attrs:
            python_type = attr.columns[0].type.python_type
            table[attr.key] = {
                uuid.UUID: uuid.UUID,
                datetime: datetime.fromisoformat,
                date: date.fromisoformat,
            }.get(python_type)
        _COLUMNS[model] = table
    return _COLUMNS[model]


def _attach(session: Session, model: type, values: dict[str, Any]):
    """The row as a persistent object of `session` (as if just loaded; what the snapshot
    left out is expired, so it loads from the database when read). The session's own copy
    when it already holds one."""
    decoders = _decoders(model)
    # Only the columns the model has now (a snapshot may predate a migration: what it lacks
    # loads from the database, what the model no longer has is dropped).
    state = {}
    for key, value in values.items():
        if key in decoders:
            decode = decoders[key]
            state[key] = decode(value) if decode is not None and value is not None else value
    mapper = inspect(model)
    existing = session.identity_map.get(mapper.identity_key_from_primary_key((state["id"],)))
    if existing is not None:
        return existing
    obj = mapper.class_manager.new_instance()  # an empty instance, no __init__
    obj.__dict__.update(state)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj
