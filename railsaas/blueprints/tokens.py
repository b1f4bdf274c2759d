"""/account/tokens: the signed-in user's personal API tokens in the selected workspace.

HTMX: the panel (form, new secret, list) is one partial that the page includes; create and
revoke swap it in place. A new token's secret is part of the create answer and nowhere else
(not the session, not a flash, not a log), marked `Cache-Control: no-store`: shown once.
Without JavaScript the same forms post normally; revoke then redirects (303).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, g, url_for
from flask_login import current_user, login_required

from railsaas.accounts import api_tokens
from railsaas.blueprints.htmx_helpers import redirect_to, render, wants_fragment
from railsaas.errors import Conflict, Forbidden, ValidationFailed
from railsaas.extensions import db
from railsaas.forms import apply_errors
from railsaas.forms.tokens import TokenForm

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


@bp.before_request
@login_required
def _signed_in() -> None:
    return None


def _render(
    form: TokenForm | None = None, new_token=None, secret: str | None = None, status: int = 200
):
    workspace = g.workspace
    tokens = (
        api_tokens.list_for_page(db.session, workspace.id, current_user.id) if workspace else []
    )
    context = dict(
        form=form or TokenForm(formdata=None),
        tokens=tokens,
        new_token=new_token,
        secret=secret,
        status_of=api_tokens.status_of,
    )
    response = render("tokens/index.html", "tokens/_panel.html", status_code=status, **context)
    if secret:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
def index():
    return _render()


@bp.post("")
def create():
    form = TokenForm()
    if g.workspace is None:
        form.form_errors.append("You need a workspace to create a token in.")
    elif form.validate():
        try:
            token, secret = api_tokens.create(
                db.session,
                g.workspace,
                user_id=current_user.id,
                name=form.name.data,
                scopes=[form.scope.data],
                expires_in_days=form.expires_in_days.data,
            )
        except (ValidationFailed, Conflict, Forbidden) as exc:
            apply_errors(form, exc)
        else:
            db.session.commit()
            return _render(new_token=token, secret=secret)
    db.session.rollback()
    return _render(form=form)


@bp.post("/<uuid:token_id>/revoke")
def revoke(token_id: uuid.UUID):
    if g.workspace is None:
        return redirect_to(url_for("tokens.index"))
    token = api_tokens.revoke(db.session, g.workspace.id, current_user.id, token_id)
    db.session.commit()
    if wants_fragment():
        return _render()  # the panel, swapped in place
    flash(f"Token “{token.name}” is revoked.", "success")
    return redirect_to(url_for("tokens.index"))
