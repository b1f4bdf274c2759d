"""The OpenAPI document: valid OpenAPI 3.1, complete (every /api route of the URL map),
generated from the same pydantic models the views validate with, and rendered as a page."""

from __future__ import annotations

import re

import pytest

from railsaas.blueprints.api.openapi import api_routes, document, undocumented
from railsaas.schemas.auth import RegisterRequest
from railsaas.schemas.tokens import TokenCreate, TokenOut

SEED_ROUTES = {
    # The seed's API list (architecture.md), method by method, each area's routes added here
    # as they land.
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/users/profile"),
    ("put", "/api/users/profile"),
    ("get", "/api/users/{user_id}"),
    ("put", "/api/users/{user_id}"),
    ("delete", "/api/users/{user_id}"),
    ("get", "/api/templates"),
    ("post", "/api/templates"),
    ("get", "/api/templates/{template_id}"),
    ("put", "/api/templates/{template_id}"),
    ("delete", "/api/templates/{template_id}"),
    ("post", "/api/templates/deploy"),
    ("get", "/api/instances"),
    ("post", "/api/instances"),
    ("get", "/api/instances/{instance_id}"),
    ("put", "/api/instances/{instance_id}"),
    ("delete", "/api/instances/{instance_id}"),
    ("get", "/api/instances/status"),
    ("get", "/api/railway/projects"),
    ("get", "/api/railway/services"),
    ("get", "/api/railway/deployments"),
    ("get", "/api/billing/subscription"),
    ("post", "/api/billing/subscription"),
    ("get", "/api/billing/invoices"),
    ("get", "/api/billing/usage"),
    ("get", "/api/plans"),
    ("post", "/api/railway/services"),
}


def _strip_titles(node):
    if isinstance(node, dict):
        return {
            k: _strip_titles(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def test_the_document_is_valid_openapi_3_1(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"] == "3.1.0"
    # Imported here: a second and a half of every test process's start, for this test alone
    # (`make test-fast` runs without Schemathesis' pytest plugin).
    import schemathesis  # noqa: PLC0415

    schemathesis.openapi.from_dict(doc).validate()  # the OpenAPI 3.1 meta-schema


def test_every_api_route_is_in_the_document(app):
    assert undocumented(app) == [], "declare these routes with @operation"
    doc = document(app)
    for route in api_routes(app):
        assert route.method in doc["paths"][route.path], f"{route.method} {route.path}"


def test_the_seed_routes_exist(app):
    doc = document(app)
    present = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert present >= SEED_ROUTES, sorted(SEED_ROUTES - present)


def test_every_state_changing_route_names_its_scope(app):
    """The guard's default for an unnamed scope is 'admin' (fail closed); every route that
    changes something must say what it needs instead of inheriting that by accident."""
    unnamed = [
        f"{r.method.upper()} {r.rule}"
        for r in api_routes(app)
        if r.operation
        and r.operation.auth == "user"
        and r.method != "get"
        and r.operation.scope is None
    ]
    assert unnamed == []


def test_operation_ids_are_unique(app):
    ids = [op["operationId"] for ops in document(app)["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("model", "mode", "name"),
    [
        (TokenCreate, "validation", "TokenCreate"),
        (RegisterRequest, "validation", "RegisterRequest"),
        (TokenOut, "serialization", "TokenOut"),
    ],
)
def test_components_are_the_validating_models_own_schemas(app, model, mode, name):
    """One source of truth: the document's schema is the model's JSON Schema."""
    ours = document(app)["components"]["schemas"][name]
    theirs = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")
    theirs.pop("$defs", None)
    assert ours == _strip_titles(theirs)


def test_query_models_become_parameters_with_their_constraints(app):
    op = document(app)["paths"]["/api/tokens"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 50,
    }
    assert params["status"]["schema"]["enum"] == ["active", "expired", "revoked"]
    assert params["cursor"]["in"] == "query"
    assert params["X-Workspace-ID"]["in"] == "header"


def test_operations_declare_auth_scope_and_error_answers(app):
    paths = document(app)["paths"]
    create = paths["/api/tokens"]["post"]
    assert create["security"] == [{"bearerAuth": ["admin"]}]
    assert {"201", "400", "401", "403", "404", "409", "413", "415", "422", "429"} <= set(
        create["responses"]
    )
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenCreate"
    }
    assert paths["/api/tokens/{token_id}"]["get"]["security"] == [{"bearerAuth": ["read"]}]
    assert paths["/api/tokens/{token_id}"]["get"]["parameters"][0]["schema"]["format"] == "uuid"
    assert paths["/api/auth/login"]["post"]["security"] == []
    assert paths["/api/users/{user_id}"]["delete"]["security"] == [{"bearerAuth": ["admin"]}]
    assert "Retry-After" in create["responses"]["429"]["headers"]


def test_the_reference_page_lists_every_operation_without_script(client, app):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    for ops in document(app)["paths"].values():
        for op in ops.values():
            assert f'id="{op["operationId"]}"' in html
    assert 'id="schema-TokenCreate"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert " style=" not in html
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
