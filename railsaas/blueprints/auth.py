"""Sign-up, sign-in, logout, email verification and password reset pages."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from railsaas.accounts import attribution, auth, two_factor
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.context import SESSION_TENANT_KEY
from railsaas.errors import Conflict, RateLimited, ValidationFailed
from railsaas.extensions import db
from railsaas.forms import apply_errors
from railsaas.forms.accounts import (
    PASSWORD_HINT,
    ForgotForm,
    LoginForm,
    RegisterForm,
    ResendForm,
    ResetForm,
    SecondFactorForm,
)
from railsaas.models import User
from railsaas.platform import audit

bp = Blueprint("auth", __name__)
UTM_SESSION_KEY = "utm"
# A sign-in whose password was right, waiting for its second factor: the user id, session
# version, deadline and where to go next. Nobody is signed in while it is there.
PENDING_KEY = "two_factor_pending"
# Blueprints whose answers carry no session cookie (the API, probes, webhooks).
_NO_SESSION = frozenset({"api", "ops", "railway_webhooks"})


@bp.before_app_request
def _keep_first_touch() -> None:
    """A visitor's first utm_* parameters, on any page, kept in the session until sign-up."""
    if request.method != "GET" or not request.args or request.blueprint in _NO_SESSION:
        return
    if current_user.is_authenticated:
        return
    found = attribution.first_touch(session.get(UTM_SESSION_KEY), request.args)
    if found:
        session[UTM_SESSION_KEY] = found


def _too_many(template: str, exc: RateLimited, **context):
    """The form again with the throttle's message above it: 429 and Retry-After."""
    db.session.rollback()
    body = render_template(template, **context)
    return body, 429, {"Retry-After": str(exc.retry_after)}


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: never an open redirect."""
    if not target or any(c in target for c in "\\\r\n\t") or not target.startswith("/"):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def start_session(user: User, keep_workspace: bool = False) -> None:
    """A fresh session for `user`: nothing from before sign-in survives (no fixation)."""
    workspace = session.get(SESSION_TENANT_KEY) if keep_workspace else None
    session.clear()
    login_user(user)
    if workspace:
        session[SESSION_TENANT_KEY] = workspace


def _home():
    """To the dashboard: after a change (a POST) the answer of every view, `redirect_to`; a
    GET with nothing to do (already signed in, already verified) is a plain redirect."""
    if request.method == "GET":
        return redirect(url_for("pages.dashboard"), 303)
    return redirect_to(url_for("pages.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("pages.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth.login(
                db.session,
                email=form.email.data,
                password=form.password.data,
                remember_token=request.cookies.get(two_factor.REMEMBER_COOKIE),
            )
        except auth.LoginFailed as exc:
            db.session.commit()  # the failed attempt's audit row
            form.form_errors.append(exc.message)
        except two_factor.SecondFactorRequired as exc:
            pending = {
                "uid": str(exc.user.id),
                "v": exc.user.session_version,
                "exp": int(time.time()) + current_app.config["TWO_FACTOR_PENDING_SECONDS"],
                "next": next_url,
            }
            db.session.commit()
            session.clear()  # nothing from before survives, as for a full sign-in
            session[PENDING_KEY] = pending
            return redirect_to(url_for("auth.second_factor"))
        else:
            db.session.commit()
            start_session(user)
            return redirect_to(next_url or url_for("pages.dashboard"))
    return render_template("auth/login.html", form=form, next=next_url)


def _pending() -> dict | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("exp", 0) < time.time():
        session.pop(PENDING_KEY, None)
        return None
    return pending


def _remember_cookie(response, token: str) -> None:
    response.set_cookie(
        two_factor.REMEMBER_COOKIE,
        token,
        max_age=two_factor.remember_days() * 86400,
        httponly=True,
        secure=not current_app.config["DEBUG"],
        samesite="Lax",
        path="/login",
    )


@bp.route("/login/two-factor", methods=["GET", "POST"])
def second_factor():
    """The second step of a sign-in: a code from the app, or a recovery code."""
    pending = _pending()
    if pending is None:
        flash("Your sign-in expired. Log in again.", "info")
        if request.method == "GET":
            return redirect(url_for("auth.login"), 303)
        return redirect_to(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            user = auth.complete_login(
                db.session, uuid.UUID(pending["uid"]), int(pending["v"]), form.code.data
            )
        except two_factor.InvalidSecondFactor as exc:
            db.session.commit()  # the failed attempt's audit row
            form.code.errors = [exc.message]
        except RateLimited as exc:
            db.session.commit()
            form.form_errors.append(exc.message)
            body = render_template("auth/two_factor.html", form=form, remember_days=0)
            return body, 429, {"Retry-After": str(exc.retry_after)}
        except auth.LoginFailed:
            db.session.commit()
            session.pop(PENDING_KEY, None)
            flash("Your sign-in expired. Log in again.", "info")
            return redirect_to(url_for("auth.login"))
        else:
            token = two_factor.remember_token(db.session, user) if form.remember.data else None
            db.session.commit()
            start_session(user)
            response = redirect_to(pending.get("next") or url_for("pages.dashboard"))
            if token:
                _remember_cookie(response, token)
            return response
    return render_template(
        "auth/two_factor.html", form=form, remember_days=two_factor.remember_days()
    )


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return _home()
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            # None when the address already has an account: its owner is told by mail, and
            # this page answers exactly as for a new account (no enumeration).
            auth.register(
                db.session,
                email=form.email.data,
                password=form.password.data,
                name=form.name.data,
                utm=session.get(UTM_SESSION_KEY),
            )
        except RateLimited as exc:
            form.form_errors.append(exc.message)
            return _too_many("auth/register.html", exc, form=form, password_hint=PASSWORD_HINT)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(
                f"Check your inbox: we sent a message to "
                f"{auth.normalize_email(form.email.data)}. Open the link in it to confirm "
                "your address, then log in.",
                "success",
            )
            return redirect(url_for("auth.login"), 303)
    return render_template("auth/register.html", form=form, password_hint=PASSWORD_HINT)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        auth.logout(db.session, current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect_to(url_for("pages.index"))


@bp.get("/verify/<token>")
def verify(token: str):
    signed_in_id = current_user.id if current_user.is_authenticated else None
    try:
        user = auth.verify_email(db.session, token)
    except (auth.InvalidLink, Conflict) as exc:
        db.session.rollback()
        return render_template("auth/verify.html", ok=False, message=exc.message), exc.status
    db.session.commit()
    if signed_in_id is not None and signed_in_id == user.id:
        # The first verification ended the user's sessions; this browser opened the link
        # from the inbox, so it stays signed in.
        start_session(user, keep_workspace=True)
    return render_template("auth/verify.html", ok=True, email=user.email)


@bp.get("/verify/email-change/<token>")
def confirm_email(token: str):
    try:
        user = auth.confirm_email_change(db.session, token)
    except (auth.InvalidLink, Conflict) as exc:
        db.session.rollback()
        return render_template("auth/verify.html", ok=False, message=exc.message), exc.status
    db.session.commit()
    return render_template("auth/verify.html", ok=True, email=user.email, changed=True)


@bp.route("/verify/resend", methods=["GET", "POST"])
def resend_verification():
    if current_user.is_authenticated:
        if current_user.email_verified:
            flash("Your email address is already confirmed.", "info")
            return _home()
        if request.method == "POST":
            try:
                auth.resend_verification(db.session, current_user.email)
            except RateLimited as exc:
                db.session.rollback()
                flash(exc.message, "error")
                return _home()
            db.session.commit()
            flash(f"We sent a new link to {current_user.email}.", "success")
            return _home()
        return render_template("auth/resend.html", form=None)
    form = ResendForm()
    if form.validate_on_submit():
        try:
            auth.resend_verification(db.session, form.email.data)
        except RateLimited as exc:
            form.form_errors.append(exc.message)
            return _too_many("auth/resend.html", exc, form=form)
        db.session.commit()
        flash("If that address belongs to an unconfirmed account, we sent it a new link.", "info")
        return redirect_to(url_for("auth.login"))
    return render_template("auth/resend.html", form=form)


@bp.route("/forgot", methods=["GET", "POST"])
@audit.exempt(
    "queues the accounts.password_reset task only, for a known and an unknown "
    "address alike; the task audits the reset it sends"
)
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        try:
            auth.request_password_reset(db.session, form.email.data)
        except RateLimited as exc:
            form.form_errors.append(exc.message)
            return _too_many("auth/forgot.html", exc, form=form)
        db.session.commit()
        flash(
            "If an account uses that address, we sent it a link to choose a new password. "
            "The link works for an hour.",
            "info",
        )
        return redirect_to(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    try:
        auth.check_reset_token(db.session, token)
    except auth.InvalidLink as exc:
        db.session.rollback()
        return render_template("auth/link_invalid.html", message=exc.message), exc.status
    form = ResetForm()
    if form.validate_on_submit():
        try:
            auth.reset_password(db.session, token, form.password.data)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash(
                "Your password is changed, and every other session is signed out. "
                "Log in with the new password.",
                "success",
            )
            return redirect_to(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, password_hint=PASSWORD_HINT)
