"""The audit log: append-only for the app role, each workspace sees only its own rows,
platform admins see all; and the guard that makes every state-changing request write one."""

from __future__ import annotations

import pytest
from flask import jsonify
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from railsaas.db import SYSTEM, TenantContext, set_context
from railsaas.extensions import db
from railsaas.models import AuditLog, Email
from railsaas.platform import audit

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

# Every state-changing route, and the audit action it writes. A new route that is neither
# here nor marked @audit.exempt(reason) fails test_every_state_changing_route_is_audited:
# add it here once a test shows its audit row (the guard below fails any test that drives
# it without one).
AUDITED_ENDPOINTS = {
    # accounts
    "auth.login": "auth.login / auth.login_failed / auth.login_second_factor_required",
    "auth.second_factor": "auth.login / auth.login_failed / auth.recovery_code_used",
    "account.two_factor_setup": "auth.two_factor_enrolment_started",
    "account.two_factor_confirm": "auth.two_factor_enabled",
    "account.two_factor_recovery_codes": "auth.recovery_codes_regenerated",
    "account.two_factor_disable": "auth.two_factor_disabled",
    "auth.register": "auth.register",
    "auth.logout": "auth.logout",
    "auth.resend_verification": "auth.verification_resent",
    "auth.forgot": "auth.password_reset_requested",
    "auth.reset": "auth.password_reset",
    "account.profile": "account.update",
    "account.change_email": "auth.email_change_requested",
    "account.change_password": "auth.password_change",
    "api.register": "auth.register",
    "api.login": "auth.login / auth.login_failed / auth.login_second_factor_required",
    "api.railway_service_create": "railway.service_create",
    "api.logout": "auth.logout",
    "api.update_profile": "account.update",
    "api.update_user": "admin.user_update",
    "api.delete_user": "admin.user_delete",
    # catalog and lifecycle
    "catalog.deploy": "instance.create",
    "instances.update_variables": "instance.variables",
    "instances.rename": "instance.rename",
    "instances.add_domain": "instance.domain",
    "instances.delete": "instance.delete",
    "instances.action": "instance.<action>",
    "admin.instances_reconcile": "admin.instances_reconcile",
    "admin.instances_delete_orphan": "admin.railway_project_delete",
    "admin.instances_ignore_finding": "admin.reconcile_ignore",
    "admin.instances_fix": "instance.reconcile_<fix>",
    "admin.instances_action": "instance.<action> (actor_type admin)",
    "admin.templates_create": "template.create",
    "admin.templates_update": "template.update",
    "admin.templates_deactivate": "template.deactivate",
    "api.instances_create": "instance.create",
    "api.instances_update": "instance.rename / variables / domain / <action>",
    "api.instances_delete": "instance.delete",
    "api.templates_create": "template.create",
    "api.templates_update": "template.update",
    "api.templates_delete": "template.deactivate",
    "api.templates_deploy": "instance.create",
    # personal API tokens
    "api.tokens_create": "api_token.created",
    "api.tokens_revoke": "api_token.revoked",
    "tokens.create": "api_token.created",
    "tokens.revoke": "api_token.revoked",
    # observability (admin panel)
    "admin.user_suspend": "admin.user_update",
    "admin.user_role": "admin.user_update",
    "admin.workspace_spend_cap": "admin.workspace_spend_cap",
    "admin.workspace_status": "admin.workspace_suspend / admin.workspace_reactivate",
    "admin.job_retry": "admin.job_retry",
    "admin.job_dismiss": "admin.job_dismiss",
    # acquisition
    "status.workspace_switch": "workspace.status_page",
    "status.instance_switch": "instance.status_page",
    "admin.acquisition_record": "acquisition.spend_recorded",
    "admin.acquisition_delete": "acquisition.spend_deleted",
    "admin.railway_pool_add": "railway_workspace.added",
    "admin.railway_pool_state": "railway_workspace.draining / .open / .closed",
    "admin.railway_pool_limit": "railway_workspace.usage_limit",
    "api.spend_create": "acquisition.spend_recorded",
    "api.spend_delete": "acquisition.spend_deleted",
    # billing
    "admin.plan_new": "plan.create",
    "admin.plan_edit": "plan.update",
    "admin.plan_archive": "plan.archive",
    "admin.plan_activate": "plan.activate",
    "admin.plan_delete": "plan.delete",
    "billing.checkout": "billing.checkout_started",
    "billing.portal": "billing.portal_opened",
    "billing.spend_cap": "billing.spend_cap_set",
    "billing.over_limit": "billing.over_limit_stopped",
    "api.billing_subscription_change": "billing.plan_change_requested / billing.cancel_*",
    # teams
    "teams.invite": "teams.invite",
    "teams.change_role": "teams.role_change",
    "teams.remove_member": "teams.member_remove / teams.leave",
    "teams.revoke_invitation": "teams.invite_revoke",
    "teams.resend_invitation": "teams.invite_resend",
    "teams.create_workspace": "teams.workspace_create",
    "teams.rename": "teams.workspace_rename",
    "teams.two_factor_requirement": "teams.require_two_factor",
    "teams.transfer": "teams.ownership_transfer",
    "teams.leave": "teams.leave",
    "teams.delete_workspace": "teams.workspace_delete",
    "teams.accept": "teams.invite_accept (+ auth.register for a new account)",
    "teams.accept_other_account": "auth.logout",
    "api.workspaces_create": "teams.workspace_create",
    "api.workspaces_update": "teams.workspace_rename",
    "api.workspaces_delete": "teams.workspace_delete",
    "api.workspaces_leave": "teams.leave",
    "api.workspaces_transfer": "teams.ownership_transfer",
    "api.members_update": "teams.role_change",
    "api.members_delete": "teams.member_remove / teams.leave",
    "api.invitations_create": "teams.invite",
    "api.invitations_revoke": "teams.invite_revoke",
    "api.invitations_resend": "teams.invite_resend",
    "api.invitations_accept": "teams.invite_accept",
}


# --- append-only ------------------------------------------------------------------------------


@pytest.fixture
def one_row(app, factory):
    _, tenant = factory.workspace()
    with db.scope(TenantContext(tenant_id=tenant.id)) as s:
        row = audit.record(s, "test.something", target_type="thing", target_id="t-1")
        s.flush()
        return row.id, tenant


@pytest.mark.parametrize(
    "ctx", [SYSTEM, TenantContext(role="platform_admin")], ids=["system", "platform_admin"]
)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'tampered' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
        "TRUNCATE audit_log",
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_app_role_cannot_change_or_remove_audit_rows(one_row, ctx, statement):
    row_id, _ = one_row
    with pytest.raises(ProgrammingError, match="permission denied"), db.scope(ctx) as s:
        s.execute(text(statement), {"id": row_id})
    with db.scope(SYSTEM) as s:
        assert s.get(AuditLog, row_id).action == "test.something"


def test_an_orm_edit_of_an_audit_row_is_refused_too(one_row):
    row_id, _ = one_row
    with pytest.raises(ProgrammingError, match="permission denied"), db.scope(SYSTEM) as s:
        s.get(AuditLog, row_id).details = {"rewritten": True}


def test_the_grant_is_insert_and_select_only(app, owner_sql):
    rows = owner_sql(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE table_name = 'audit_log' AND grantee = :r",
        r=app.config["APP_DB_USER"],
    )
    assert {r[0] for r in rows} == {"INSERT", "SELECT"}


# --- who sees what ----------------------------------------------------------------------------


def test_workspaces_see_their_own_rows_and_admins_see_all(app, factory):
    _, a = factory.workspace()
    _, b = factory.workspace()
    for tenant in (a, b):
        with db.scope(TenantContext(tenant_id=tenant.id)) as s:
            audit.record(s, "instance.stop", target_type="instance", target_id=str(tenant.id))
    with db.scope(TenantContext()) as s:  # no workspace at all
        audit.record(s, "auth.login_failed", tenant_id=None, details={"email": "x@y.z"})

    def visible(ctx) -> set[str]:
        with db.scope(ctx) as s:
            return {f"{r.action}:{r.target_id}" for r in s.scalars(select(AuditLog))}

    assert visible(TenantContext(tenant_id=a.id)) == {f"instance.stop:{a.id}"}
    assert visible(TenantContext(tenant_id=b.id)) == {f"instance.stop:{b.id}"}
    assert visible(TenantContext()) == set()
    everything = visible(TenantContext(role="platform_admin"))
    assert {
        f"instance.stop:{a.id}",
        f"instance.stop:{b.id}",
        "auth.login_failed:None",
    } <= everything


def test_a_workspace_cannot_write_rows_into_another_workspace(factory):
    _, a = factory.workspace()
    _, b = factory.workspace()
    with db.scope(TenantContext(tenant_id=a.id)) as s:
        audit.record(s, "instance.stop", tenant_id=b.id)
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.flush()
        s.rollback()


def test_rows_carry_actor_workspace_target_ip_user_agent_and_time(app, factory):
    user, tenant = factory.workspace()
    with (
        app.test_request_context(
            "/x",
            method="POST",
            environ_base={"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "curl/8.0"},
        ),
        db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s,
    ):
        row = audit.record(s, "instance.restart", target_type="instance", target_id="i-9")
        s.flush()
        s.refresh(row)
    assert (row.actor_user_id, row.actor_type, row.tenant_id) == (user.id, "user", tenant.id)
    assert (row.target_type, row.target_id) == ("instance", "i-9")
    assert str(row.ip) == "198.51.100.23"
    assert row.user_agent == "curl/8.0"
    assert row.created_at is not None


# --- the guard: every state-changing request writes a row -------------------------------------


@pytest.fixture
def guarded(app, dbconn):
    """A second app with routes that write with and without audit rows (CSRF off)."""
    from railsaas.app import create_app

    other = create_app({"TESTING": True, "DB_RECONFIGURE": False, "WTF_CSRF_ENABLED": False})

    def write() -> None:
        set_context(db.session, SYSTEM)  # (anonymous requests may not read back an email)
        db.session.add(Email(to_address="a@b.c", subject="s", kind="k", text_body="t"))
        db.session.flush()

    @other.post("/_t/unaudited")
    def unaudited():
        write()
        db.session.commit()
        return jsonify(ok=True)

    @other.post("/_t/audited")
    def audited():
        write()
        audit.record(db.session, "test.write", tenant_id=None)
        db.session.commit()
        return jsonify(ok=True)

    @other.post("/_t/exempt")
    @audit.exempt("writes only a test row")
    def exempt():
        write()
        db.session.commit()
        return jsonify(ok=True)

    @other.post("/_t/read")
    def read_only():
        db.session.execute(select(Email.id)).all()
        return jsonify(ok=True)

    @other.post("/_t/rolled-back")
    def rolled_back():
        write()
        db.session.rollback()
        return jsonify(ok=True)

    @other.post("/_t/refused")
    def refused():
        write()
        return jsonify(error="no"), 422

    try:
        yield other
    finally:
        app.extensions["celery"].set_default()


def test_the_guard_fails_a_state_changing_request_without_an_audit_row(guarded):
    resp = guarded.test_client().post("/_t/unaudited")
    assert resp.status_code == 500
    assert "recorded no audit row" in resp.get_data(as_text=True)
    assert "emails" in resp.get_data(as_text=True)
    assert guarded.extensions["audit_violations"] == ["unaudited"]


@pytest.mark.parametrize("path", ["/_t/audited", "/_t/exempt", "/_t/read", "/_t/rolled-back"])
def test_the_guard_lets_audited_exempt_and_read_only_requests_through(guarded, path):
    assert guarded.test_client().post(path).status_code == 200
    assert not guarded.extensions.get("audit_violations")


def test_the_guard_ignores_refused_requests(guarded):
    assert guarded.test_client().post("/_t/refused").status_code == 422


def test_in_production_the_guard_only_logs_and_counts(guarded, log_output):
    from prometheus_client import REGISTRY

    guarded.config["AUDIT_GUARD"] = "warn"
    before = (
        REGISTRY.get_sample_value("railsaas_unaudited_writes_total", {"endpoint": "unaudited"}) or 0
    )
    assert guarded.test_client().post("/_t/unaudited").status_code == 200
    assert (
        REGISTRY.get_sample_value("railsaas_unaudited_writes_total", {"endpoint": "unaudited"})
        == before + 1
    )
    line = next(
        r
        for r in log_output.records()
        if r["message"] == "state-changing request wrote no audit row"
    )
    assert line["endpoint"] == "unaudited"
    assert line["level"] == "error"


def test_every_state_changing_route_is_audited_or_says_why_not(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if not (rule.methods or set()) & MUTATING:
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "audit_exempt", None) or rule.endpoint in AUDITED_ENDPOINTS:
            continue
        undeclared.append(
            f"{sorted((rule.methods or set()) & MUTATING)} {rule.rule} ({rule.endpoint})"
        )
    assert not undeclared, (
        "State-changing routes with no declared audit action: record one with "
        "platform.audit.record and list the endpoint in AUDITED_ENDPOINTS, or mark the "
        "view @audit.exempt(reason):\n" + "\n".join(undeclared)
    )
    stale = set(AUDITED_ENDPOINTS) - set(app.view_functions)
    assert not stale, f"AUDITED_ENDPOINTS names routes that no longer exist: {stale}"
