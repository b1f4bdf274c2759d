"""Members, invitations and workspaces: the members page (HTMX), the header's workspace
switcher, new workspace, workspace settings, and accepting an invitation.

Views are thin: they hand g.workspace (the selected workspace and the caller's role) to
teams.service, which authorizes every action. A refusal that the person can fix (a typo, the
last owner leaving) is shown on the page again (200, so htmx swaps it); a role that does not
allow the action is a 403, another workspace's ids a 404.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user

from railsaas import permissions
from railsaas.accounts import auth
from railsaas.blueprints.auth import start_session
from railsaas.blueprints.htmx_helpers import redirect_to, render
from railsaas.context import SESSION_TENANT_KEY
from railsaas.errors import (
    Conflict,
    LimitExceeded,
    NotFound,
    RateLimited,
    ServiceError,
    ValidationFailed,
)
from railsaas.extensions import db
from railsaas.forms import apply_errors
from railsaas.forms.accounts import PASSWORD_HINT
from railsaas.forms.teams import (
    AcceptForm,
    DeleteWorkspaceForm,
    InviteForm,
    RenameForm,
    WorkspaceForm,
    role_choices,
)
from railsaas.permissions import ROLE_HELP, ROLE_LABELS, roles_allowed_to_grant
from railsaas.platform import audit
from railsaas.teams import service as teams

bp = Blueprint("teams", __name__)

# Refusals a person can act on: shown on the page they came from.
FIXABLE = (ValidationFailed, Conflict, LimitExceeded, RateLimited)


@bp.app_context_processor
def _permissions() -> dict:
    """`can("instance.deploy")` in any template: hides what the role may not do (the
    services still decide)."""

    def can(action: str, owner_id=None) -> bool:
        user = g.get("user")
        return permissions.can(
            g.get("workspace"),
            action,
            owner_id=owner_id,
            user_id=user.id if user is not None else None,
        )

    return {"can": can, "role_labels": ROLE_LABELS}


def _workspace():
    workspace = g.get("workspace")
    if workspace is None:
        raise NotFound("Choose or create a workspace first.", code="no_workspace")
    return workspace


def _done(message: str, endpoint: str = "teams.members"):
    """After a change: back to the page, which shows the message (`redirect_to`)."""
    db.session.commit()
    flash(message, "success")
    return redirect_to(url_for(endpoint))


# --- members page -----------------------------------------------------------------------------


def _members_page(invite_form: InviteForm | None = None, error: str | None = None):
    workspace = _workspace()
    grantable = roles_allowed_to_grant(workspace)
    form = invite_form or InviteForm(formdata=None)
    form.role.choices = role_choices(grantable)
    can_invite = permissions.can(workspace, "members.invite")
    return render(
        "teams/members.html",
        "teams/_members.html",
        members=teams.list_members(db.session, workspace),
        invitations=teams.list_invitations(db.session, workspace) if can_invite else [],
        invite_form=form,
        grantable=grantable,
        role_help=ROLE_HELP,
        error=error,
        invitation_state=teams.invitation_state,
    )


@bp.get("/members")
@login_required
def members():
    if g.get("workspace") is None:
        flash("You are not in any workspace yet: create one.", "info")
        return redirect(url_for("teams.create_workspace"))
    return _members_page()


def _fixable(exc: ServiceError, form: InviteForm | None = None):
    db.session.rollback()
    if form is not None:
        apply_errors(form, exc)
        return _members_page(invite_form=form)
    return _members_page(error=exc.message)


@bp.post("/members/invite")
@login_required
def invite():
    form = InviteForm()
    try:
        inv = teams.invite(
            db.session, _workspace(), g.user.id, email=form.email.data, role=form.role.data
        )
    except FIXABLE as exc:
        return _fixable(exc, form)
    return _done(f"Invitation sent to {inv.email}.")


@bp.post("/members/<uuid:user_id>/role")
@login_required
def change_role(user_id):
    try:
        m = teams.change_role(
            db.session, _workspace(), g.user.id, user_id, request.form.get("role")
        )
    except FIXABLE as exc:
        return _fixable(exc)
    return _done(f"Role changed to {ROLE_LABELS[m.role]}.")


@bp.post("/members/<uuid:user_id>/remove")
@login_required
def remove_member(user_id):
    leaving = user_id == g.user.id
    try:
        teams.remove_member(db.session, _workspace(), g.user.id, user_id)
    except FIXABLE as exc:
        return _fixable(exc)
    if leaving:
        return _left("You left the workspace.")
    return _done("Member removed.")


@bp.post("/invitations/<uuid:invitation_id>/revoke")
@login_required
def revoke_invitation(invitation_id):
    try:
        inv = teams.revoke_invitation(db.session, _workspace(), g.user.id, invitation_id)
    except FIXABLE as exc:
        return _fixable(exc)
    return _done(f"Invitation to {inv.email} withdrawn.")


@bp.post("/invitations/<uuid:invitation_id>/resend")
@login_required
def resend_invitation(invitation_id):
    try:
        inv = teams.resend_invitation(db.session, _workspace(), g.user.id, invitation_id)
    except FIXABLE as exc:
        return _fixable(exc)
    return _done(f"Invitation sent to {inv.email} again.")


# --- workspaces: switcher, new, settings ------------------------------------------------------


@bp.get("/workspaces")
@login_required
def switcher():
    """The header's switcher (HTMX partial), or the page listing one's workspaces."""
    return render(
        "teams/workspaces.html",
        "teams/_switcher.html",
        workspaces=teams.list_workspaces(db.session, g.user.id),
    )


@bp.post("/workspaces/switch")
@login_required
@audit.exempt(
    "selects which of one's own workspaces this browser session shows: session "
    "state, nothing in the database changes"
)
def switch():
    workspace = teams.find_workspace(db.session, g.user.id, request.form.get("workspace_id"))
    session[SESSION_TENANT_KEY] = str(workspace.id)
    flash(f"You are now in {workspace.tenant.name}.", "info")
    return redirect_to(url_for("pages.dashboard"))


@bp.route("/workspaces/new", methods=["GET", "POST"])
@login_required
def create_workspace():
    form = WorkspaceForm()
    if form.is_submitted():
        try:
            workspace = teams.create_workspace(db.session, g.user, form.name.data)
        except FIXABLE as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            session[SESSION_TENANT_KEY] = str(workspace.id)
            flash(f"Workspace {workspace.tenant.name} created: you are its owner.", "success")
            return redirect_to(url_for("pages.dashboard"))
    return render_template("teams/new.html", form=form)


def _settings_page(rename_form=None, delete_form=None, error=None):
    workspace = _workspace()
    members = teams.list_members(db.session, workspace)
    return render_template(
        "teams/settings.html",
        rename_form=rename_form or RenameForm(formdata=None, name=workspace.tenant.name),
        delete_form=delete_form or DeleteWorkspaceForm(formdata=None),
        others=[m for m in members if m.user_id != g.user.id],
        error=error,
    )


@bp.get("/workspace/settings")
@login_required
def settings():
    return _settings_page()


@bp.post("/workspace/rename")
@login_required
def rename():
    form = RenameForm()
    try:
        teams.rename_workspace(db.session, _workspace(), g.user.id, form.name.data)
    except FIXABLE as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _settings_page(rename_form=form)
    return _done("Workspace renamed.", "teams.settings")


@bp.post("/workspace/transfer")
@login_required
def transfer():
    try:
        m = teams.transfer_ownership(
            db.session, _workspace(), g.user.id, request.form.get("user_id")
        )
    except FIXABLE as exc:
        db.session.rollback()
        return _settings_page(error=exc.message)
    return _done(
        f"Ownership transferred: {m.user.name} is now an owner, and you an admin.", "teams.settings"
    )


@bp.post("/workspace/two-factor")
@login_required
def two_factor_requirement():
    """Owners: require (or stop requiring) two-factor sign-in of the members."""
    required = request.form.get("required") == "1"
    try:
        teams.require_two_factor(db.session, _workspace(), g.user.id, required)
    except FIXABLE as exc:
        db.session.rollback()
        return _settings_page(error=exc.message)
    return _done(
        "Members now need two-factor sign-in to work in this workspace."
        if required
        else "Two-factor sign-in is no longer required here.",
        "teams.settings",
    )


def _left(message: str):
    db.session.commit()
    session.pop(SESSION_TENANT_KEY, None)  # the next request picks another workspace
    flash(message, "info")
    return redirect_to(url_for("pages.dashboard"))


@bp.post("/workspace/leave")
@login_required
def leave():
    try:
        teams.leave(db.session, _workspace(), g.user.id)
    except FIXABLE as exc:
        db.session.rollback()
        return _settings_page(error=exc.message)
    return _left("You left the workspace.")


@bp.post("/workspace/delete")
@login_required
def delete_workspace():
    form = DeleteWorkspaceForm()
    try:
        teams.delete_workspace(
            db.session, _workspace(), g.user.id, confirm_name=form.confirm_name.data or ""
        )
    except FIXABLE as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _settings_page(delete_form=form)
    return _left("The workspace is deleted.")


# --- accepting an invitation ------------------------------------------------------------------


def _accept_page(
    token: str, form: AcceptForm | None = None, status: int = 200, error: str | None = None
):
    try:
        view = teams.view_invitation(db.session, token)
    except auth.InvalidLink as exc:
        db.session.rollback()
        return render_template("teams/accept.html", view=None, error=exc.message), exc.status
    user = current_user if current_user.is_authenticated else None
    return render_template(
        "teams/accept.html",
        view=view,
        token=token,
        user=user,
        error=error,
        form=form or AcceptForm(formdata=None),
        password_hint=PASSWORD_HINT,
        email_matches=user is not None and user.email == view.invitation.email,
    ), status


def _joined(workspace_id, message: str):
    session[SESSION_TENANT_KEY] = str(workspace_id)
    flash(message, "success")
    return redirect_to(url_for("pages.dashboard"))


@bp.route("/invitations/accept/<token>", methods=["GET", "POST"])
def accept(token: str):
    if request.method == "GET":
        return _accept_page(token)
    if current_user.is_authenticated:
        try:
            membership = teams.accept(db.session, token, current_user._get_current_object())
        except auth.InvalidLink as exc:
            db.session.rollback()
            return _accept_page(token, status=exc.status)
        except ServiceError as exc:  # another address, unverified: say so on the page
            db.session.rollback()
            return _accept_page(token, status=exc.status, error=exc.message)
        db.session.commit()
        return _joined(membership.tenant_id, "Welcome to the workspace.")
    form = AcceptForm()
    try:
        user, membership = teams.accept_as_new_user(
            db.session, token, name=form.name.data, password=form.password.data
        )
    except auth.InvalidLink as exc:
        db.session.rollback()
        return _accept_page(token, status=exc.status)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _accept_page(token, form=form)
    db.session.commit()
    start_session(user)
    return _joined(membership.tenant_id, f"Welcome, {user.name}: your account is ready.")


@bp.post("/invitations/accept/<token>/switch-account")
def accept_other_account(token: str):
    """Signed in as someone else: sign out and come back to the invitation."""
    if current_user.is_authenticated:
        auth.logout(db.session, current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    return redirect_to(url_for("teams.accept", token=token))
