"""Version tokens: how a poll can answer 304 and a cached figure can know it is stale without
asking the database.

Three kinds of token live in the cache Redis (CACHE_REDIS_URL):

    ver:ws:<tenant id>   changes after a committed change to the workspace's row, its
                         instances, deployments, memberships, subscriptions or activity log
    ver:user:<user id>   changes after a committed change to the user's row (suspension,
                         sign-out everywhere, profile)
    ver:usage            changes after a usage roll-up folds new rows in

They are bumped from the ORM itself (after_flush notes what changed, after_commit bumps), so
every writer (web, poller, deploy steps, reconcile, admin) is covered without calling
anything; a bulk UPDATE or SQL function that bypasses the unit of work calls `touch_*`.

A token is random, not a counter: an evicted or flushed key reads as a brand-new token, never
as an older one again, so a lost key can cost a cache miss but never a stale 304. Bumped only
after the commit: a reader who took the old token and then read the new rows just asks again
next time (the token is read before the rows it stands for).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterable

import redis
from flask import has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from railsaas.extensions import cache_redis
from railsaas.models import (
    AuditLog,
    Deployment,
    Instance,
    Membership,
    Subscription,
    Tenant,
    User,
)

log = logging.getLogger(__name__)

USAGE = "ver:usage"
_TOUCHED = "versions_touched"
# In the request's WSGI environ (not g, which tests may share between requests): the tokens
# this request has read, by key.
_SEEN = "railsaas.version_tokens"
# Long enough to outlive any client's cached copy; a key that expires just reads as new.
TTL_SECONDS = 7 * 24 * 3600


def workspace_key(tenant_id: uuid.UUID | str) -> str:
    return f"ver:ws:{tenant_id}"


def user_key(user_id: uuid.UUID | str) -> str:
    return f"ver:user:{user_id}"


def read(*keys: str) -> tuple[str, ...] | None:
    """The current token of each key (one round trip; a missing key is given a new token).
    None when Redis cannot answer: the caller then does the full work, uncached.

    In a request, a token it has already read is not asked again: read earlier in the same
    request is still read before the rows it stands for. The request's own commits forget
    the tokens they bump (see `bump`)."""
    seen = request.environ.get(_SEEN) if has_request_context() else None
    if seen and all(k in seen for k in keys):
        return tuple(seen[k] for k in keys)
    client = cache_redis()
    try:
        values = client.mget(keys)
        missing = [k for k, v in zip(keys, values, strict=True) if v is None]
        if missing:
            pipe = client.pipeline(transaction=False)
            for key in missing:
                pipe.set(key, secrets.token_hex(8), nx=True, ex=TTL_SECONDS)
            pipe.mget(keys)
            values = pipe.execute()[-1]
    except redis.RedisError:
        log.warning("version tokens unavailable; answering uncached")
        return None
    if any(v is None for v in values):
        return None
    remember(dict(zip(keys, values, strict=True)))
    return tuple(values)


def remember(tokens: dict[str, str]) -> None:
    """Tokens this request read (by `read`, or with something else in one round trip): later
    reads in the request use them."""
    if has_request_context():
        request.environ.setdefault(_SEEN, {}).update(tokens)


def bump(keys: Iterable[str]) -> None:
    """New tokens for `keys` now (normally through the after-commit hook below)."""
    keys = sorted(set(keys))
    if not keys or not has_app_context():
        return  # tools outside the app (migrations, data-set builders) cache nothing
    if has_request_context() and (seen := request.environ.get(_SEEN)):
        for key in keys:
            seen.pop(key, None)  # the request reads its own change's token afresh
    try:
        pipe = cache_redis().pipeline(transaction=False)
        for key in keys:
            pipe.set(key, secrets.token_hex(8), ex=TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        # Deleting would do as well, but Redis is not answering either way. Cached figures
        # expire on their own; a 304 needs the token to be readable, which it is not now.
        log.warning("could not bump %d version tokens", len(keys))


def touch_workspace(session: Session, tenant_id: uuid.UUID | str | None) -> None:
    """Bump the workspace's token after this session's next commit."""
    if tenant_id:
        session.info.setdefault(_TOUCHED, set()).add(workspace_key(tenant_id))


def touch_user(session: Session, user_id: uuid.UUID | str | None) -> None:
    if user_id:
        session.info.setdefault(_TOUCHED, set()).add(user_key(user_id))


def touch_usage(session: Session) -> None:
    session.info.setdefault(_TOUCHED, set()).add(USAGE)


_BY_TENANT_ID = (Instance, Deployment, Membership, Subscription, AuditLog)


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, flush_context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _BY_TENANT_ID):
            touch_workspace(session, obj.tenant_id)
        elif isinstance(obj, Tenant):
            touch_workspace(session, obj.id)
        elif isinstance(obj, User):
            touch_user(session, obj.id)


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        bump(touched)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
