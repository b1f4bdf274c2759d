"""The lookup of a Bearer token before anyone is known: RLS hides api_tokens from a request
with no context, and the one SECURITY DEFINER function returns only what authentication
needs."""

from __future__ import annotations

from sqlalchemy import select, text

from railsaas.accounts import api_tokens
from railsaas.db import ANONYMOUS, TenantContext
from railsaas.extensions import db
from railsaas.models import ApiToken
from tests.support.api import make_token


def test_without_context_no_token_row_is_visible_but_the_lookup_finds_it(factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant)
    with db.scope(ANONYMOUS) as s:
        assert s.scalars(select(ApiToken)).all() == []
        found = (
            s.execute(
                text("SELECT * FROM auth_find_api_token(:h)"), {"h": api_tokens.hash_secret(secret)}
            )
            .mappings()
            .one()
        )
    assert set(found) == {
        "id",
        "tenant_id",
        "user_id",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
    }
    assert found["id"] == row.id
    assert found["scopes"] == ["read"]


def test_another_workspace_sees_no_token_rows(factory):
    alice, a_ws = factory.workspace()
    _, b_ws = factory.workspace()
    make_token(alice, a_ws)
    with db.scope(TenantContext(tenant_id=b_ws.id)) as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_the_lookup_is_a_narrow_security_definer_with_a_pinned_search_path(owner_sql):
    (fn,) = owner_sql(
        "SELECT prosecdef, proconfig, pg_get_function_result(oid) AS result "
        "FROM pg_proc WHERE proname = 'auth_find_api_token'"
    )
    assert fn.prosecdef is True
    assert fn.proconfig == ["search_path=pg_catalog, public"]
    assert fn.result == (  # never the hash, never the name
        "TABLE(id uuid, tenant_id uuid, user_id uuid, scopes text[], "
        "expires_at timestamp with time zone, revoked_at timestamp with time zone, "
        "last_used_at timestamp with time zone)"
    )
    (grants,) = owner_sql(
        "SELECT has_function_privilege('public', 'auth_find_api_token(text)', 'EXECUTE') "
        "AS public_may, has_function_privilege(:app, 'auth_find_api_token(text)', 'EXECUTE') "
        "AS app_may",
        app="railsaas_app",
    )
    assert grants.public_may is False
    assert grants.app_may is True
