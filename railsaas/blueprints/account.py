"""The signed-in user's own account: name, email address, password, two-factor sign-in;
and the rule that sends whoever must have two-factor sign-in (platform admins, members of a
workspace that requires it) to enrol before anything else."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, g, render_template, request, url_for
from flask_login import current_user, login_required

from railsaas.accounts import auth, two_factor
from railsaas.blueprints.auth import start_session
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.errors import Conflict, RateLimited, ValidationFailed
from railsaas.extensions import db
from railsaas.forms import apply_errors
from railsaas.forms.accounts import (
    PASSWORD_HINT,
    EmailChangeForm,
    NameForm,
    PasswordChangeForm,
    TwoFactorCodeForm,
    TwoFactorDisableForm,
)

bp = Blueprint("account", __name__, url_prefix="/account")

# What someone who must enrol may still reach: enrolment itself, signing out, switching to
# another workspace, and what carries no page (static files, the API, probes, webhooks).
_ENROLMENT_OPEN = frozenset(
    {
        "account.two_factor",
        "account.two_factor_setup",
        "account.two_factor_confirm",
        "auth.logout",
        "teams.switch",
        "teams.switcher",
        "static",
    }
)
_NO_PAGES = frozenset({"api", "ops", "railway_webhooks", "dev"})


def init_two_factor_rule(app: Flask) -> None:
    """Register the enrolment rule; it runs after the request's user and workspace are
    bound (railsaas.context), so it is added after init_context."""

    @app.before_request
    def _two_factor_required():
        user = g.get("user")
        if user is None or request.endpoint in _ENROLMENT_OPEN:
            return None
        if request.blueprint in _NO_PAGES:
            return None
        workspace = g.get("workspace")
        # Asked only of those it applies to: no query for everyone else.
        if not two_factor.required(user, workspace.tenant if workspace else None):
            return None
        if two_factor.enabled_for(user):
            return None
        flash(
            "Platform admins must use two-factor sign-in: set it up to continue."
            if user.is_platform_admin
            else "This workspace requires two-factor sign-in: set it up to continue.",
            "info",
        )
        return redirect_to(url_for("account.two_factor"))


@bp.before_request
@login_required
def _signed_in() -> None:
    return None


def _page(name_form=None, email_form=None, password_form=None):
    """The account page; a form that failed is shown again with its errors (200, so htmx
    and browsers treat it as a page, not a failure)."""
    user = current_user._get_current_object()
    return render_template(
        "account/profile.html",
        name_form=name_form or NameForm(formdata=None, obj=user, prefix="profile"),
        email_form=email_form or EmailChangeForm(formdata=None, prefix="email"),
        password_form=password_form or PasswordChangeForm(formdata=None, prefix="password"),
        password_hint=PASSWORD_HINT,
    )


def _done(message: str):
    flash(message, "success")
    return redirect_to(url_for("account.profile"))


@bp.route("", methods=["GET", "POST"])
def profile():
    form = NameForm(prefix="profile")
    if form.is_submitted():
        if form.validate():
            try:
                auth.update_name(db.session, current_user._get_current_object(), form.name.data)
            except ValidationFailed as exc:
                apply_errors(form, exc)
            else:
                db.session.commit()
                return _done("Your name is saved.")
        db.session.rollback()
        return _page(name_form=form)
    return _page()


@bp.post("/email")
def change_email():
    form = EmailChangeForm(prefix="email")
    if form.validate():
        try:
            auth.request_email_change(
                db.session,
                current_user._get_current_object(),
                new_email=form.new_email.data,
                current_password=form.current_password.data,
            )
        except (ValidationFailed, Conflict) as exc:
            apply_errors(form, exc)
        else:
            db.session.commit()
            return _done(
                f"We sent a link to {form.new_email.data.strip().lower()}. Your "
                "address changes when you open it."
            )
    db.session.rollback()
    return _page(email_form=form)


@bp.post("/password")
def change_password():
    form = PasswordChangeForm(prefix="password")
    if form.validate():
        user = current_user._get_current_object()
        try:
            auth.change_password(
                db.session,
                user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
            )
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            db.session.commit()
            start_session(user, keep_workspace=True)  # this session continues, others end
            return _done("Your password is changed. Every other session is signed out.")
    db.session.rollback()
    return _page(password_form=form)


# --- two-factor sign-in -----------------------------------------------------------------------


def _no_store(body, status: int = 200):
    """Pages that show a secret or recovery codes: never cached, never in history."""
    return body, status, {"Cache-Control": "no-store"}


def _two_factor_page(code_form=None, disable_form=None, enrolment=None, codes=None, status=200):
    user = current_user._get_current_object()
    enabled = two_factor.is_enabled(db.session, user.id)
    if not enabled and enrolment is None:
        enrolment = two_factor.pending_enrolment(db.session, user)
    workspace = g.get("workspace")
    return _no_store(
        render_template(
            "account/two_factor.html",
            enabled=enabled,
            enrolment=enrolment,
            codes=codes,
            codes_left=two_factor.recovery_codes_left(db.session, user.id) if enabled else 0,
            required=two_factor.required(user, workspace.tenant if workspace else None),
            code_form=code_form or TwoFactorCodeForm(formdata=None, prefix="totp"),
            disable_form=disable_form or TwoFactorDisableForm(formdata=None, prefix="disable"),
        ),
        status,
    )


@bp.get("/two-factor", endpoint="two_factor")
def two_factor_page():
    return _two_factor_page()


@bp.post("/two-factor/setup")
def two_factor_setup():
    """Start (or restart) an enrolment: a new secret, shown once as a QR code and text."""
    try:
        enrolment = two_factor.begin_enrolment(db.session, current_user._get_current_object())
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "info")
        return redirect_to(url_for("account.two_factor"))
    db.session.commit()
    return _two_factor_page(enrolment=enrolment)


def _code_refused(form, exc):
    db.session.rollback()
    if isinstance(exc, RateLimited):
        form.form_errors.append(exc.message)
    else:
        form.code.errors = [exc.message]
    return exc.status if isinstance(exc, RateLimited) else 200


@bp.post("/two-factor/confirm")
def two_factor_confirm():
    form = TwoFactorCodeForm(prefix="totp")
    if form.validate():
        try:
            codes = two_factor.confirm_enrolment(
                db.session, current_user._get_current_object(), form.code.data
            )
        except (ValidationFailed, RateLimited) as exc:
            return _two_factor_page(code_form=form, status=_code_refused(form, exc))
        except Conflict as exc:
            db.session.rollback()
            flash(exc.message, "info")
            return redirect_to(url_for("account.two_factor"))
        db.session.commit()
        return _two_factor_page(codes=codes)
    db.session.rollback()
    return _two_factor_page(code_form=form)


@bp.post("/two-factor/recovery-codes")
def two_factor_recovery_codes():
    """A new set of recovery codes (the old ones stop working), after a current code."""
    form = TwoFactorCodeForm(prefix="totp")
    if form.validate():
        try:
            codes = two_factor.regenerate_recovery_codes(
                db.session, current_user._get_current_object(), form.code.data
            )
        except (two_factor.InvalidSecondFactor, RateLimited) as exc:
            return _two_factor_page(code_form=form, status=_code_refused(form, exc))
        db.session.commit()
        return _two_factor_page(codes=codes)
    db.session.rollback()
    return _two_factor_page(code_form=form)


@bp.post("/two-factor/disable")
def two_factor_disable():
    form = TwoFactorDisableForm(prefix="disable")
    if form.validate():
        try:
            auth.disable_two_factor(
                db.session,
                current_user._get_current_object(),
                password=form.password.data,
                code=form.code.data,
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        except (two_factor.InvalidSecondFactor, RateLimited) as exc:
            return _two_factor_page(disable_form=form, status=_code_refused(form, exc))
        else:
            db.session.commit()
            return _done("Two-factor sign-in is off.")
    db.session.rollback()
    return _two_factor_page(disable_form=form)
