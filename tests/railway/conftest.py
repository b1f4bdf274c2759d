"""Fixtures for the Railway client and emulator tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def railway_schema_path() -> Path | None:
    """Railway's introspection: $RAILWAY_SCHEMA_PATH, else ../shared/reference/railway/ next
    to the checkout, else /work/shared/reference/railway/. Never copied into the repo."""
    candidates = [
        os.environ.get("RAILWAY_SCHEMA_PATH"),
        ROOT.parent / "shared" / "reference" / "railway" / "schema.json",
        "/work/shared/reference/railway/schema.json",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _fix_known_inconsistency(data: dict) -> dict:
    """Railway's schema deprecates Team.id although Node.id (its interface field) is not;
    graphql-core refuses to validate against a schema with that inconsistency. Undeprecate
    such fields in memory; nothing else is touched."""
    types = {t["name"]: t for t in data["__schema"]["types"]}
    for t in data["__schema"]["types"]:
        for iface_ref in t.get("interfaces") or []:
            iface_fields = {f["name"]: f for f in types[iface_ref["name"]].get("fields") or []}
            for f in t.get("fields") or []:
                parent = iface_fields.get(f["name"])
                if parent is not None and f.get("isDeprecated") and not parent["isDeprecated"]:
                    f["isDeprecated"] = False
                    f["deprecationReason"] = None
    return data


@pytest.fixture(scope="session")
def railway_schema():
    from graphql import build_client_schema, validate_schema

    path = railway_schema_path()
    if path is None:
        pytest.skip(
            "Railway's schema.json is absent (set RAILWAY_SCHEMA_PATH or place it at "
            "../shared/reference/railway/schema.json)"
        )
    raw = json.loads(path.read_text())
    schema = build_client_schema(_fix_known_inconsistency(raw.get("data", raw)))
    problems = validate_schema(schema)
    assert not problems, [p.message for p in problems]
    return schema


@pytest.fixture
def rw(app, railway_emulator):
    """The client as the app builds it (shared Redis budget and breaker), at the emulator."""
    from railsaas.railway import railway_client

    return railway_client(app)
