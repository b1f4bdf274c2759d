"""GET/PUT /api/users/profile (yourself); GET/PUT/DELETE /api/users/<id> (platform admins)."""

from __future__ import annotations

import uuid

from flask import g

from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required
from railsaas.blueprints.api.validation import dump, parse_body
from railsaas.extensions import db
from railsaas.schemas.auth import TokenPair
from railsaas.schemas.users import AdminUserOut, AdminUserUpdate, ProfileOut, ProfileUpdate, UserOut
from railsaas.services import auth, tokens, users


@bp.get("/users/profile")
@api_login_required()
def profile():
    return dump(UserOut.model_validate(g.user))


@bp.put("/users/profile")
@api_login_required()
def update_profile():
    body = parse_body(ProfileUpdate)
    user = g.user
    fresh = None
    if body.name is not None:
        auth.update_name(db.session, user, body.name)
    # The email change first: it checks current_password against the hash a password change
    # would replace.
    if body.email is not None:
        auth.request_email_change(db.session, user, new_email=body.email,
                                  current_password=body.current_password, field="email")
    if body.new_password is not None:
        auth.change_password(db.session, user, current_password=body.current_password,
                             new_password=body.new_password)
        fresh = TokenPair(**tokens.issue_pair(db.session, user).as_dict())
    db.session.commit()
    out = ProfileOut.model_validate(user)
    out.tokens = fresh
    return dump(out, exclude_none=False)


@bp.get("/users/<uuid:user_id>")
@api_login_required(admin=True)
def get_user(user_id: uuid.UUID):
    return dump(AdminUserOut.model_validate(users.get_user(db.session, user_id)))


@bp.put("/users/<uuid:user_id>")
@api_login_required(admin=True)
def update_user(user_id: uuid.UUID):
    body = parse_body(AdminUserUpdate)
    user = users.admin_update(db.session, g.user, user_id,
                              body.model_dump(exclude_unset=True, exclude_none=True))
    db.session.commit()
    return dump(AdminUserOut.model_validate(user))


@bp.delete("/users/<uuid:user_id>")
@api_login_required(admin=True)
def delete_user(user_id: uuid.UUID):
    users.delete_user(db.session, g.user, user_id)
    db.session.commit()
    return "", 204
