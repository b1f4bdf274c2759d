"""The template catalog: public reads (cached in Redis), admin writes, import from Railway.

Reads come from one cached JSON document of every active template; search and the category
filter run over it in Python (a catalog is tens of rows, not thousands), so a catalog page
costs no SQL once warm. Writes mark the session, and the cache is dropped after the commit:
dropping it before would let a concurrent reader cache the old rows again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from railsaas.catalog import icons
from railsaas.catalog.variables import parse_specs, propose_specs
from railsaas.errors import Conflict, NotFound, ServiceError, ValidationFailed
from railsaas.extensions import cache_redis
from railsaas.models import Template
from railsaas.models.catalog import TIERS
from railsaas.observability import metrics
from railsaas.permissions import authorize
from railsaas.platform import audit
from railsaas.railway import errors as rw
from railsaas.railway import railway_client

log = logging.getLogger(__name__)

CACHE_KEY = "catalog:templates:v1"
CACHE_TTL_SECONDS = 3600
_DIRTY = "catalog_dirty"


# --- reads ------------------------------------------------------------------------------------


def template_dict(t: Template) -> dict[str, Any]:
    """What the public sees of a template (never the serializedConfig: it is Railway's)."""
    return {
        "id": str(t.id),
        "code": t.code,
        "name": t.name,
        "description": t.description,
        "category": t.category,
        "price_tier": t.price_tier,
        "resources": t.resources or {},
        "monthly_estimate_cents": t.monthly_estimate_cents,
        # The real median on the platform (billing.template_costs), when enough instances ran.
        "median_monthly_cents": t.median_monthly_cents,
        "median_instances": t.median_instances,
        "icon": t.icon,
        "is_active": t.is_active,
        "variables": (t.setup_config or {}).get("variables", []),
        "created_at": t.created_at.isoformat() if t.created_at else None,
        "updated_at": t.updated_at.isoformat() if t.updated_at else None,
    }


def _redis():
    return cache_redis()


def _load_active(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Template).where(Template.is_active.is_(True)).order_by(Template.name)
    ).all()
    return [template_dict(t) for t in rows]


def active_templates(session: Session) -> list[dict[str, Any]]:
    """Every active template, from Redis when cached (the database when Redis is down)."""
    try:
        cached = _redis().get(CACHE_KEY)
    except redis.RedisError:
        log.warning("catalog cache unavailable; reading the database")
        metrics.cache_lookup("catalog", hit=False)
        return _load_active(session)
    metrics.cache_lookup("catalog", hit=bool(cached))
    if cached:
        return json.loads(cached)
    rows = _load_active(session)
    with contextlib.suppress(redis.RedisError):
        _redis().set(CACHE_KEY, json.dumps(rows), ex=CACHE_TTL_SECONDS)
    return rows


def search(
    session: Session, *, q: str | None = None, category: str | None = None
) -> list[dict[str, Any]]:
    rows = active_templates(session)
    if category:
        rows = [t for t in rows if t["category"].lower() == category.lower()]
    if q:
        words = q.lower().split()
        rows = [
            t
            for t in rows
            if all(
                w in f"{t['name']} {t['description'] or ''} {t['category']}".lower() for w in words
            )
        ]
    return rows


def categories(session: Session) -> list[str]:
    return sorted({t["category"] for t in active_templates(session)})


def get_public(session: Session, template_id: uuid.UUID | str) -> dict[str, Any]:
    """An active template by id (NotFound for unknown, malformed or inactive ids)."""
    wanted = str(template_id)
    for t in active_templates(session):
        if t["id"] == wanted:
            return t
    raise NotFound("No such template.")


def for_deploy(session: Session, workspace, template_id: uuid.UUID | str) -> Template:
    """An active template for the deploy dialog: only for a role that may deploy (checked
    before anything of the template's settings is read)."""
    authorize(workspace, "instance.deploy")
    return get_active(session, template_id)


def get_active(session: Session, template_id: uuid.UUID | str) -> Template:
    """The ORM row of an active template (deploys need its serializedConfig)."""
    t = get_any(session, template_id)
    if not t.is_active:
        raise NotFound("No such template.")
    return t


# --- writes (platform admins) ----------------------------------------------------------------


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=255)
    railway_template_id: str = Field(min_length=1, max_length=255)
    code: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=5000)
    category: str = Field(min_length=1, max_length=100)
    price_tier: str
    resources: dict[str, Any] = Field(default_factory=dict)
    monthly_estimate_cents: int = Field(default=0, ge=0, le=10_000_000)
    icon: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    variables: list[dict[str, Any]] = Field(default_factory=list)
    serialized_config: dict[str, Any] | None = None

    @field_validator("price_tier")
    @classmethod
    def _tier(cls, v: str) -> str:
        if v not in TIERS:
            raise ValueError(f"must be one of {', '.join(TIERS)}")
        return v

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        return v.lower()

    @field_validator("code", "description", "icon")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("icon")
    @classmethod
    def _icon(cls, v: str | None) -> str | None:
        if v is not None and (problem := icons.icon_problem(v)):
            raise ValueError(problem)
        return v

    @field_validator("resources")
    @classmethod
    def _resources(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
        return v


def parse_input(data: dict[str, Any], *, partial_of: Template | None = None) -> TemplateInput:
    """Validate admin input; with partial_of, missing fields keep the template's values."""
    if partial_of is not None:
        base = {
            "name": partial_of.name,
            "railway_template_id": partial_of.railway_template_id,
            "code": partial_of.code,
            "description": partial_of.description,
            "category": partial_of.category,
            "price_tier": partial_of.price_tier,
            "resources": partial_of.resources or {},
            "monthly_estimate_cents": partial_of.monthly_estimate_cents,
            "icon": partial_of.icon,
            "is_active": partial_of.is_active,
            "variables": (partial_of.setup_config or {}).get("variables", []),
            "serialized_config": partial_of.serialized_config,
        }
        data = {**base, **data}
    try:
        parsed = TemplateInput.model_validate(data)
    except ValidationError as exc:
        details = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
        raise ValidationFailed("Some fields are not valid.", details=details) from None
    parse_specs(parsed.variables)  # raises with per-variable messages
    return parsed


def _apply(t: Template, data: TemplateInput) -> None:
    t.name = data.name
    t.railway_template_id = data.railway_template_id
    t.code = data.code
    t.description = data.description
    t.category = data.category
    t.price_tier = data.price_tier
    t.resources = data.resources
    t.monthly_estimate_cents = data.monthly_estimate_cents
    t.icon = data.icon
    t.is_active = data.is_active
    t.setup_config = {"variables": [s.as_dict() for s in parse_specs(data.variables)]}
    t.serialized_config = data.serialized_config


def _check_unique(session: Session, data: TemplateInput, exclude: uuid.UUID | None) -> None:
    errors = {}
    for field in ("railway_template_id", "code"):
        value = getattr(data, field)
        if value is None:
            continue
        stmt = select(Template.id).where(getattr(Template, field) == value)
        if exclude is not None:
            stmt = stmt.where(Template.id != exclude)
        if session.scalar(stmt) is not None:
            errors[field] = "another template already uses this"
    if errors:
        raise Conflict("Another template already uses these values.", details=errors)


def mark_dirty(session: Session) -> None:
    session.info[_DIRTY] = True


def create_template(session: Session, data: dict[str, Any]) -> Template:
    parsed = parse_input(data)
    _check_unique(session, parsed, None)
    t = Template()
    _apply(t, parsed)
    session.add(t)
    session.flush()
    audit.record(
        session, "template.create", target_type="template", target_id=t.id, details={"name": t.name}
    )
    mark_dirty(session)
    return t


def get_any(session: Session, template_id: uuid.UUID | str) -> Template:
    try:
        tid = uuid.UUID(str(template_id))
    except ValueError:
        raise NotFound("No such template.") from None
    t = session.get(Template, tid)
    if t is None:
        raise NotFound("No such template.")
    return t


def update_template(
    session: Session, template_id: uuid.UUID | str, data: dict[str, Any]
) -> Template:
    t = get_any(session, template_id)
    parsed = parse_input(data, partial_of=t)
    _check_unique(session, parsed, t.id)
    _apply(t, parsed)
    session.flush()
    audit.record(
        session,
        "template.update",
        target_type="template",
        target_id=t.id,
        details={"fields": sorted(data)},
    )
    mark_dirty(session)
    return t


def deactivate_template(session: Session, template_id: uuid.UUID | str) -> Template:
    """Hide a template from the catalog. The row stays: instances refer to it."""
    t = get_any(session, template_id)
    if t.is_active:
        t.is_active = False
        session.flush()
        audit.record(session, "template.deactivate", target_type="template", target_id=t.id)
        mark_dirty(session)
    return t


def invalidate_cache() -> None:
    try:
        _redis().delete(CACHE_KEY)
    except redis.RedisError:
        log.warning("could not drop the catalog cache; it expires within the hour")


@event.listens_for(Session, "after_commit")
def _drop_cache_after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        invalidate_cache()


@event.listens_for(Session, "after_rollback")
def _forget_dirty(session: Session) -> None:
    session.info.pop(_DIRTY, None)


# --- import from Railway ----------------------------------------------------------------------


def fetch_template(code: str) -> dict[str, Any]:
    """A Railway template by code, shaped like Railway's answer (for the import form)."""
    try:
        t = railway_client().template(code)
    except rw.NotFound:
        raise NotFound(f"Railway has no template {code!r}.") from None
    except rw.RailwayError as exc:
        raise ServiceError(
            f"Railway did not answer: {exc.message}", status=502, code="railway_unavailable"
        ) from None
    return {
        "id": t.id,
        "code": t.code,
        "name": t.name,
        "description": t.description,
        "category": t.category,
        "image": t.image,
        "serializedConfig": t.serialized_config,
    }


def import_proposal(railway_template: dict[str, Any]) -> dict[str, Any]:
    """Form values proposed from Railway's `template(code:)` answer: an admin reviews them
    (tier, category, price) and saves."""
    serialized = railway_template.get("serializedConfig") or {}
    if isinstance(serialized, str):
        try:
            serialized = json.loads(serialized)
        except ValueError:
            serialized = {}
    return {
        "name": railway_template.get("name") or railway_template.get("code") or "",
        "railway_template_id": railway_template.get("id") or "",
        "code": railway_template.get("code"),
        "description": railway_template.get("description"),
        "category": (railway_template.get("category") or "other").lower(),
        "price_tier": "starter",
        "resources": {},
        "monthly_estimate_cents": 0,
        # Railway's image URL when it is one we would show; otherwise initials.
        "icon": icons.safe_icon_url(railway_template.get("image")),
        "is_active": True,
        "variables": propose_specs(serialized),
        "serialized_config": serialized,
    }


# --- the demo catalog (make dev) --------------------------------------------------------------

# What the platform charges a template into: tier, typical resources, monthly estimate.
DEMO_PRICING: dict[str, tuple[str, dict[str, Any], int]] = {
    "ghost": ("starter", {"cpu": 1, "memory_mb": 1024, "disk_gb": 5}, 900),
    "n8n": ("standard", {"cpu": 1, "memory_mb": 1024, "disk_gb": 5}, 1200),
    "postgres": ("starter", {"cpu": 0.5, "memory_mb": 512, "disk_gb": 10}, 600),
    "redis": ("starter", {"cpu": 0.25, "memory_mb": 256}, 300),
    "mysql": ("starter", {"cpu": 0.5, "memory_mb": 512, "disk_gb": 10}, 600),
    "mongodb": ("standard", {"cpu": 0.5, "memory_mb": 1024, "disk_gb": 10}, 900),
    "umami": ("starter", {"cpu": 0.5, "memory_mb": 512, "disk_gb": 2}, 500),
    "uptime-kuma": ("starter", {"cpu": 0.25, "memory_mb": 256, "disk_gb": 1}, 300),
}


def seed_from_railway_templates(session: Session, railway_templates: list[dict[str, Any]]) -> int:
    """Add every template not in the catalog yet (by Railway id), as an import would propose
    it, priced from DEMO_PRICING. Idempotent."""
    known = set(session.scalars(select(Template.railway_template_id)))
    added = 0
    for found in railway_templates:
        if found.get("id") in known:
            continue
        data = import_proposal(found)
        tier, resources, cents = DEMO_PRICING.get(found.get("code") or "", ("standard", {}, 1000))
        data.update(price_tier=tier, resources=resources, monthly_estimate_cents=cents)
        t = Template()
        _apply(t, parse_input(data))
        session.add(t)
        added += 1
    if added:
        session.flush()
        mark_dirty(session)
    return added
