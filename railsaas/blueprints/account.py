"""The signed-in user's own account: name, email address, password."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, url_for
from flask_login import current_user, login_required

from railsaas.accounts import auth
from railsaas.blueprints.auth import start_session
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.errors import Conflict, ValidationFailed
from railsaas.extensions import db
from railsaas.forms import apply_errors
from railsaas.forms.accounts import PASSWORD_HINT, EmailChangeForm, NameForm, PasswordChangeForm

bp = Blueprint("account", __name__, url_prefix="/account")


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
