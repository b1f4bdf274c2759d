"""GET/PUT /api/users/profile (yourself); GET/PUT/DELETE /api/users/<id> (platform admins)."""

from __future__ import annotations

import uuid

from flask import g

from railsaas.accounts import auth, tokens, users
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import operation
from railsaas.extensions import db
from railsaas.schemas.auth import TokenPair
from railsaas.schemas.users import AdminUserOut, AdminUserUpdate, ProfileOut, ProfileUpdate, UserOut


@bp.get("/users/profile")
@operation(responses={200: UserOut}, tags=["users"])
def profile():
    """Your profile."""
    return UserOut.model_validate(g.user)


@bp.put("/users/profile")
@operation(
    scope="admin", body=ProfileUpdate, responses={200: ProfileOut}, errors=(409,), tags=["users"]
)
def update_profile(body: ProfileUpdate):
    """Change your name, email address or password.

    Email and password changes need current_password. After a password change every token
    of yours is revoked, this one included; `tokens` holds a fresh pair."""
    user = g.user
    fresh = None
    if body.name is not None:
        auth.update_name(db.session, user, body.name)
    # The email change first: it checks current_password against the hash a password change
    # would replace.
    if body.email is not None:
        auth.request_email_change(
            db.session,
            user,
            new_email=body.email,
            current_password=body.current_password,
            field="email",
        )
    if body.new_password is not None:
        auth.change_password(
            db.session, user, current_password=body.current_password, new_password=body.new_password
        )
        fresh = TokenPair(**tokens.issue_pair(db.session, user).as_dict())
    db.session.commit()
    out = ProfileOut.model_validate(user)
    out.tokens = fresh
    return out


@bp.get("/users/<uuid:user_id>")
@operation(auth="admin", responses={200: AdminUserOut}, tags=["users"])
def get_user(user_id: uuid.UUID):
    """A user, by id (platform admins)."""
    return AdminUserOut.model_validate(users.get_user(db.session, user_id))


@bp.put("/users/<uuid:user_id>")
@operation(
    auth="admin", body=AdminUserUpdate, responses={200: AdminUserOut}, errors=(409,), tags=["users"]
)
def update_user(user_id: uuid.UUID, body: AdminUserUpdate):
    """Change a user's name, platform role, suspension or verification (platform admins)."""
    user = users.admin_update(
        db.session, g.user, user_id, body.model_dump(exclude_unset=True, exclude_none=True)
    )
    db.session.commit()
    return AdminUserOut.model_validate(user)


@bp.delete("/users/<uuid:user_id>")
@operation(auth="admin", responses={204: None}, errors=(409,), tags=["users"])
def delete_user(user_id: uuid.UUID):
    """Delete a user (platform admins)."""
    users.delete_user(db.session, g.user, user_id)
    db.session.commit()
    return None
