"""Teams: workspaces a person belongs to, their members and roles, and invitations.

Every function that changes membership locks the workspace row first and re-reads the
caller's role inside the transaction, so two owners demoting each other at once cannot leave
a workspace without one; then it authorizes (railsaas.permissions) and audits.

Order of refusals: the object named first (read under RLS, so another workspace's is a 404
for everyone), then the caller's role (403), then the input (422). Actions on no particular
object start with the role.

Decisions worth knowing:
- Invitation links are signed (itsdangerous, SECRET_KEY) and expire; the link carries the
  workspace id and a random token, and only the token's SHA-256 is stored. Resending issues a
  new token, so an older link stops working.
- Reading an invitation before its invitee is a member: the workspace id comes from the
  signed link (nobody can pick it without SECRET_KEY), and the lookup runs with the RLS
  context scoped to exactly that workspace, where it must also match the token's hash. No
  SECURITY DEFINER function, no wider role: the policies stay the only gate, and a forged or
  tampered link is refused by its signature before any query runs.
- Accepting links the invitation to an account by email address: a signed-in user whose
  *verified* address is the invited one joins; an unverified one is asked to confirm the
  address first. A signed-in user with another address is refused (403) and told to sign out
  or ask for an invitation to their own address: an invitation is for the person the inviter
  named, never for whoever holds the link. With nobody signed in, the invitee either signs in
  (an account exists for the address) or creates one; that account's address counts as
  verified, since the link reached its inbox. Invitees get no personal workspace: they can
  create one whenever they like.
- The last owner cannot leave, be removed or be demoted; they transfer ownership first or
  delete the workspace.
- A removed (or departing) member's API tokens for the workspace are revoked at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from railsaas.accounts import auth, names, two_factor, workspaces
from railsaas.accounts.auth import InvalidLink
from railsaas.context import Workspace
from railsaas.db import TenantContext, get_context, set_context
from railsaas.errors import (
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from railsaas.models import (
    ApiToken,
    Instance,
    Invitation,
    Membership,
    Subscription,
    Tenant,
    User,
)
from railsaas.models.billing import SUBSCRIPTION_OPEN
from railsaas.permissions import OWNER, ROLES, authorize
from railsaas.platform import audit, mail, throttles

log = logging.getLogger(__name__)

MAX_PENDING_INVITATIONS = 50  # per workspace: invitations send email on our behalf
MAX_OWNED_WORKSPACES = 20  # per person
WORKSPACE_NAME_MAX = 100
_ROLE_ORDER = case({OWNER: 0, "admin": 1, "member": 2, "viewer": 3}, value=Membership.role)


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def clean_role(raw: Any, field: str = "role") -> str:
    if raw not in ROLES:
        message = "Choose one of: " + ", ".join(ROLES) + "."
        raise ValidationFailed(message, details={field: message})
    return raw


def clean_workspace_name(raw: Any, field: str = "name") -> str:
    return names.clean_display_name(
        raw, max_len=WORKSPACE_NAME_MAX, empty="Name the workspace.", field=field
    )


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    membership_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    email: str
    role: str
    joined_at: datetime


def list_members(session: Session, workspace: Workspace | None) -> list[Member]:
    authorize(workspace, "members.view")
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == workspace.id)
        .order_by(_ROLE_ORDER, User.name, User.email)
    ).all()
    return [
        Member(
            membership_id=m.id,
            user_id=u.id,
            name=u.name,
            email=u.email,
            role=m.role,
            joined_at=m.created_at,
        )
        for m, u in rows
    ]


def invitation_state(inv: Invitation, now: datetime | None = None) -> str:
    if inv.accepted_at is not None:
        return "accepted"
    if inv.revoked_at is not None:
        return "revoked"
    if inv.expires_at <= (now or _now()):
        return "expired"
    return "pending"


def list_invitations(session: Session, workspace: Workspace | None) -> list[Invitation]:
    """Invitations not yet accepted or revoked (expired ones too: they can be resent).
    Only those who may invite see them: they hold other people's addresses."""
    authorize(workspace, "members.invite")
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.tenant_id == workspace.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def list_workspaces(session: Session, user_id: uuid.UUID) -> list[tuple[Tenant, str]]:
    """The user's live workspaces with their role in each, by name."""
    rows = session.execute(
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id, Tenant.status != "deleted")
        .order_by(Tenant.name, Tenant.created_at)
    ).all()
    return [(t, role) for t, role in rows]


def find_workspace(session: Session, user_id: uuid.UUID, tenant_id: Any) -> Workspace:
    """The user's workspace `tenant_id` (404 if they do not belong to it, or it is gone)."""
    try:
        wanted = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(str(tenant_id))
    except ValueError:
        raise NotFound("No such workspace.") from None
    for tenant, role in list_workspaces(session, user_id):
        if tenant.id == wanted:
            return Workspace(tenant=tenant, role=role)
    raise NotFound("No such workspace.")


def show_workspace(workspace: Workspace | None) -> Workspace:
    """The workspace a request acts in, for showing it (workspace.view: 404 without one)."""
    authorize(workspace, "workspace.view")
    return workspace


# --- locking and the caller's fresh role -----------------------------------------------------


def _acting(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, action: str
) -> Workspace:
    """Authorize on the request's role, then lock the workspace and authorize again on the
    role as it is now: membership changes in one workspace run one at a time."""
    authorize(workspace, action)
    tenant = session.scalars(
        select(Tenant).where(Tenant.id == workspace.id).with_for_update(of=Tenant)
    ).first()
    if tenant is None or tenant.status == "deleted":
        raise NotFound("No such workspace.")
    role = session.scalar(
        select(Membership.role).where(
            Membership.tenant_id == tenant.id, Membership.user_id == actor_id
        )
    )
    if role is None:
        raise NotFound("No such workspace.")
    fresh = Workspace(tenant=tenant, role=role)
    authorize(fresh, action)
    return fresh


def _membership(session: Session, tenant_id: uuid.UUID | None, user_id: Any) -> Membership:
    """A member of the workspace, read under RLS (another workspace's are not found).
    Always re-read from the database: after _acting's lock it must be the current row."""
    if tenant_id is None:
        raise NotFound("Choose or create a workspace first.", code="no_workspace")
    try:
        uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise NotFound("No such member.") from None
    m = session.scalars(
        select(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.user_id == uid)
        .execution_options(populate_existing=True)
    ).first()
    if m is None:
        raise NotFound("No such member.")
    return m


def _owner_count(session: Session, tenant_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.role == OWNER)
        )
        or 0
    )


def _last_owner() -> Conflict:
    return Conflict(
        "A workspace needs an owner: make another member owner (or transfer "
        "ownership) first, or delete the workspace.",
        code="last_owner",
    )


def _revoke_api_tokens(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    result = session.execute(
        update(ApiToken)
        .where(
            ApiToken.tenant_id == tenant_id,
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=_now())
    )
    return result.rowcount or 0


def _who(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


# --- members ----------------------------------------------------------------------------------


def change_role(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, user_id: Any, role: Any
) -> Membership:
    _membership(session, workspace and workspace.id, user_id)
    ws = _acting(session, workspace, actor_id, "members.manage")
    role = clean_role(role)
    target = _membership(session, ws.id, user_id)
    if target.role == role:
        return target
    if OWNER in (target.role, role):
        authorize(ws, "owners.manage")
    if target.role == OWNER and _owner_count(session, ws.id) <= 1:
        raise _last_owner()
    previous, target.role = target.role, role
    session.flush()
    audit.record(
        session,
        "teams.role_change",
        target_type="user",
        target_id=target.user_id,
        details={"from": previous, "to": role},
    )
    return target


def remove_member(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, user_id: Any
) -> None:
    """Remove someone from the workspace (removing yourself is leaving)."""
    if str(user_id) == str(actor_id):
        leave(session, workspace, actor_id)
        return
    _membership(session, workspace and workspace.id, user_id)
    ws = _acting(session, workspace, actor_id, "members.manage")
    target = _membership(session, ws.id, user_id)
    if target.role == OWNER:
        authorize(ws, "owners.manage")
        if _owner_count(session, ws.id) <= 1:
            raise _last_owner()
    person = _who(session, target.user_id)
    revoked = _revoke_api_tokens(session, ws.id, target.user_id)
    session.delete(target)
    session.flush()
    audit.record(
        session,
        "teams.member_remove",
        target_type="user",
        target_id=target.user_id,
        details={
            "role": target.role,
            "email": person.email if person else None,
            "api_tokens_revoked": revoked,
        },
    )


def leave(session: Session, workspace: Workspace | None, actor_id: uuid.UUID) -> None:
    ws = _acting(session, workspace, actor_id, "workspace.leave")
    mine = _membership(session, ws.id, actor_id)
    if mine.role == OWNER and _owner_count(session, ws.id) <= 1:
        raise _last_owner()
    revoked = _revoke_api_tokens(session, ws.id, actor_id)
    session.delete(mine)
    session.flush()
    audit.record(
        session,
        "teams.leave",
        target_type="user",
        target_id=actor_id,
        details={"role": mine.role, "api_tokens_revoked": revoked},
    )


def transfer_ownership(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, to_user_id: Any
) -> Membership:
    """Make another member owner and step down to admin."""
    _membership(session, workspace and workspace.id, to_user_id)
    ws = _acting(session, workspace, actor_id, "workspace.transfer")
    if str(to_user_id) == str(actor_id):
        message = "Choose another member: you already own this workspace."
        raise ValidationFailed(message, details={"user_id": message})
    target = _membership(session, ws.id, to_user_id)
    person = _who(session, target.user_id)
    if person is None or not person.email_verified:
        raise Conflict(
            "The new owner must confirm their email address first: billing mail goes there.",
            code="email_unverified",
        )
    mine = _membership(session, ws.id, actor_id)
    previous = target.role
    target.role, mine.role = OWNER, "admin"
    session.flush()
    audit.record(
        session,
        "teams.ownership_transfer",
        target_type="user",
        target_id=target.user_id,
        details={"from_user_id": str(actor_id), "previous_role": previous},
    )
    return target


# --- invitations ------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt="railsaas.teams.invitation"
    )


def _max_age() -> int:
    return int(current_app.config["INVITATION_MAX_AGE"])


def _new_link_token(tenant_id: uuid.UUID) -> tuple[str, str]:
    """(the token for the link, the hash to store)."""
    secret = secrets.token_urlsafe(32)
    return _serializer().dumps({"w": str(tenant_id), "t": secret}), _digest(secret)


def _read_link_token(token: str) -> tuple[uuid.UUID, str]:
    """(workspace id, token hash) from a link, or InvalidLink if forged, altered or too old."""
    try:
        data = _serializer().loads(token, max_age=_max_age())
    except SignatureExpired:
        raise InvalidLink(
            "This invitation has expired. Ask for a new one.", code="invitation_expired"
        ) from None
    except BadSignature:
        raise InvalidLink(
            "This invitation link is invalid. Check that you copied all of it."
        ) from None
    try:
        return uuid.UUID(data["w"]), _digest(data["t"])
    except (TypeError, KeyError, ValueError, AttributeError):
        raise InvalidLink("This invitation link is invalid.") from None


def _link(token: str) -> str:
    """Absolute link for an email: BASE_URL, never the request's Host header."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for("teams.accept", token=token)


def _send_invitation(
    session: Session, inv: Invitation, token: str, tenant: Tenant, inviter: User | None
) -> None:
    who = inviter.name if inviter else "A teammate"
    mail.queue(
        session,
        to=inv.email,
        kind="teams/invitation",
        tenant_id=tenant.id,
        subject="You are invited to a workspace on RailSaaS",  # no typed names
        inviter=who,
        workspace=tenant.name,
        role=inv.role,
        link=_link(token),
        days=max(1, _max_age() // 86400),
    )


def invite(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, *, email: Any, role: Any
) -> Invitation:
    authorize(workspace, "members.invite")  # the role first: a refusal says nothing more
    errors: dict[str, str] = {}
    for field, check in (
        ("email", lambda: auth.normalize_email(email)),
        ("role", lambda: clean_role(role)),
    ):
        try:
            check()
        except ValidationFailed as exc:
            errors.update(exc.details or {field: exc.message})
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", details=errors)
    address, role = auth.normalize_email(email), clean_role(role)
    ws = _acting(session, workspace, actor_id, "members.invite")
    if role == OWNER:
        authorize(ws, "owners.manage")
    inviter = _who(session, actor_id)
    if inviter is None:
        raise NotFound("No such user.")
    auth.ensure_verified(inviter)  # invitations are email sent in the inviter's name

    member = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == ws.id, User.email == address)
    )
    if member is not None:
        message = f"{address} is already a member."
        raise Conflict(message, code="already_member", details={"email": message})
    open_ = list(
        session.scalars(
            select(Invitation).where(
                Invitation.tenant_id == ws.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
    )
    if any(i.email == address and i.expires_at > _now() for i in open_):
        message = f"{address} already has a pending invitation: resend it instead."
        raise Conflict(message, code="already_invited", details={"email": message})
    if sum(1 for i in open_ if i.expires_at > _now()) >= MAX_PENDING_INVITATIONS:
        raise LimitExceeded(
            f"At most {MAX_PENDING_INVITATIONS} invitations may be pending: revoke some first."
        )
    # An expired invitation to the same address is replaced by the new one.
    for stale in (i for i in open_ if i.email == address):
        stale.revoked_at = _now()

    _count_invitation_email(ws.id)
    token, token_hash = _new_link_token(ws.id)
    inv = Invitation(
        tenant_id=ws.id,
        email=address,
        role=role,
        token_hash=token_hash,
        invited_by=actor_id,
        expires_at=_now() + timedelta(seconds=_max_age()),
    )
    session.add(inv)
    session.flush()
    audit.record(
        session,
        "teams.invite",
        target_type="invitation",
        target_id=inv.id,
        details={"email": address, "role": role},
    )
    _send_invitation(session, inv, token, ws.tenant, inviter)
    return inv


def _invitation(
    session: Session, tenant_id: uuid.UUID | None, invitation_id: Any, *, lock: bool = False
) -> Invitation:
    if tenant_id is None:
        raise NotFound("Choose or create a workspace first.", code="no_workspace")
    try:
        iid = (
            invitation_id if isinstance(invitation_id, uuid.UUID) else uuid.UUID(str(invitation_id))
        )
    except ValueError:
        raise NotFound("No such invitation.") from None
    stmt = select(Invitation).where(Invitation.id == iid, Invitation.tenant_id == tenant_id)
    inv = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if inv is None:
        raise NotFound("No such invitation.")
    return inv


def _open_invitation(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, invitation_id: Any
) -> tuple[Workspace, Invitation]:
    """The invitation (404 if not this workspace's), then the caller's right to manage it."""
    _invitation(session, workspace and workspace.id, invitation_id)
    ws = _acting(session, workspace, actor_id, "members.manage")
    inv = _invitation(session, ws.id, invitation_id, lock=True)
    if inv.role == OWNER:
        authorize(ws, "owners.manage")
    return ws, inv


def revoke_invitation(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, invitation_id: Any
) -> Invitation:
    ws, inv = _open_invitation(session, workspace, actor_id, invitation_id)
    if inv.accepted_at is not None:
        raise Conflict(
            "This invitation was already accepted: remove the member instead.",
            code="invitation_accepted",
        )
    if inv.revoked_at is None:
        inv.revoked_at = _now()
        session.flush()
        audit.record(
            session,
            "teams.invite_revoke",
            target_type="invitation",
            target_id=inv.id,
            details={"email": inv.email, "role": inv.role},
        )
    return inv


def _count_invitation_email(tenant_id: uuid.UUID) -> None:
    """Invitations are email in our name to addresses we do not know: a daily cap per
    workspace keeps revoke-and-invite loops from turning it into a mailer."""
    if not throttles.hit(throttles.INVITATIONS_PER_DAY, tenant_id):
        cap = int(current_app.config["INVITATIONS_PER_DAY"])
        raise RateLimited(
            f"This workspace sent {cap} invitations today, the most a day "
            "allows. Try again tomorrow.",
            retry_after=throttles.reset_after(throttles.INVITATIONS_PER_DAY),
        )


def resend_invitation(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, invitation_id: Any
) -> Invitation:
    """Send a fresh link (the old one stops working) valid for the full period again."""
    ws, inv = _open_invitation(session, workspace, actor_id, invitation_id)
    if inv.accepted_at is not None or inv.revoked_at is not None:
        raise Conflict(
            "Only a pending or expired invitation can be sent again.", code="invitation_closed"
        )
    if not throttles.hit(throttles.INVITATION_RESEND, inv.id):
        wait = throttles.reset_after(throttles.INVITATION_RESEND, inv.id)
        raise RateLimited(
            f"This invitation was just sent. Try again in {wait} seconds.", retry_after=wait
        )
    _count_invitation_email(ws.id)
    inviter = _who(session, actor_id)
    token, inv.token_hash = _new_link_token(ws.id)
    inv.expires_at = _now() + timedelta(seconds=_max_age())
    session.flush()
    audit.record(
        session,
        "teams.invite_resend",
        target_type="invitation",
        target_id=inv.id,
        details={"email": inv.email, "role": inv.role},
    )
    _send_invitation(session, inv, token, ws.tenant, inviter)
    return inv


# --- accepting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationView:
    """What the accept page shows about an invitation."""

    invitation: Invitation
    workspace_name: str
    inviter_name: str | None
    state: str  # pending | accepted | revoked | expired
    account_exists: bool


@contextlib.contextmanager
def _in_workspace(session: Session, tenant_id: uuid.UUID):
    """Scope the RLS context to exactly the invitation's workspace for the enclosed
    statements (keeping the user), then restore the caller's context."""
    ctx = get_context(session)
    set_context(session, TenantContext(tenant_id=tenant_id, user_id=ctx.user_id))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # an aborted transaction rolls back anyway
            set_context(session, ctx)


def _invitation_for(
    session: Session, tenant_id: uuid.UUID, token_hash: str, *, lock: bool = False
) -> tuple[Invitation, Tenant]:
    stmt = select(Invitation).where(
        Invitation.tenant_id == tenant_id, Invitation.token_hash == token_hash
    )
    inv = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if inv is None:
        # Revoked ones keep their hash; a missing one was replaced by a resend (or never was).
        raise InvalidLink(
            "This invitation link is no longer valid: a newer one may have been "
            "sent. Ask for a new invitation if you cannot find it.",
            code="invitation_invalid",
        )
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.status == "deleted":
        raise InvalidLink("This workspace no longer exists.", code="invitation_invalid")
    return inv, tenant


def view_invitation(session: Session, token: str) -> InvitationView:
    tenant_id, token_hash = _read_link_token(token)
    with _in_workspace(session, tenant_id):
        inv, tenant = _invitation_for(session, tenant_id, token_hash)
        inviter = _who(session, inv.invited_by) if inv.invited_by else None
        view = InvitationView(
            invitation=inv,
            workspace_name=tenant.name,
            inviter_name=inviter.name if inviter else None,
            state=invitation_state(inv),
            account_exists=auth.find_login(session, inv.email) is not None,
        )
    return view


def _check_open(inv: Invitation) -> None:
    state = invitation_state(inv)
    if state == "revoked":
        raise InvalidLink("This invitation was withdrawn.", code="invitation_revoked")
    if state == "expired":
        raise InvalidLink(
            "This invitation has expired. Ask for a new one.", code="invitation_expired"
        )
    if state == "accepted":
        raise InvalidLink("This invitation was already used.", code="invitation_used")


def _join(session: Session, inv: Invitation, user: User, *, new_account: bool) -> Membership:
    existing = session.scalar(
        select(Membership).where(
            Membership.tenant_id == inv.tenant_id, Membership.user_id == user.id
        )
    )
    inv.accepted_at = _now()
    membership = existing or Membership(tenant_id=inv.tenant_id, user_id=user.id, role=inv.role)
    if existing is None:
        session.add(membership)
    session.flush()
    audit.record(
        session,
        "teams.invite_accept",
        target_type="invitation",
        target_id=inv.id,
        tenant_id=inv.tenant_id,
        actor_user_id=user.id,
        details={
            "email": inv.email,
            "role": membership.role,
            "new_account": new_account,
            "already_member": existing is not None,
        },
    )
    return membership


def accept(session: Session, token: str, user: User) -> Membership:
    """The signed-in `user` accepts. Leaves the session's RLS context on the joined
    workspace."""
    tenant_id, token_hash = _read_link_token(token)
    set_context(session, TenantContext(tenant_id=tenant_id, user_id=user.id))
    inv, _ = _invitation_for(session, tenant_id, token_hash, lock=True)
    if inv.accepted_at is not None:
        mine = session.scalar(
            select(Membership).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user.id
            )
        )
        if mine is not None:
            return mine  # the link opened twice by the person who accepted it
    _check_open(inv)
    if user.email != inv.email:
        raise Forbidden(
            f"This invitation is for {inv.email}, but you are signed in as "
            f"{user.email}. Sign out and open the link again, or ask for an "
            "invitation to your own address.",
            code="invitation_email_mismatch",
        )
    if not user.email_verified:
        raise Forbidden(
            "Confirm your email address first (we sent you a link), then open "
            "the invitation again.",
            code="email_unverified",
        )
    return _join(session, inv, user, new_account=False)


def accept_as_new_user(
    session: Session, token: str, *, name: Any, password: Any
) -> tuple[User, Membership]:
    """Nobody is signed in and no account uses the invited address: create one (verified:
    the link reached that inbox) and join. Leaves the context on the new user and the
    joined workspace."""
    tenant_id, token_hash = _read_link_token(token)
    set_context(session, TenantContext(tenant_id=tenant_id))
    inv, tenant = _invitation_for(session, tenant_id, token_hash, lock=True)
    _check_open(inv)
    if auth.find_login(session, inv.email) is not None:
        raise Conflict(
            "An account with this email address already exists: log in to accept.",
            code="account_exists",
        )
    user = auth.create_account(
        session,
        email=inv.email,
        password=password,
        name=name,
        email_verified=True,
        tenant_id=tenant_id,
    )
    audit.record(
        session,
        "auth.register",
        target_type="user",
        target_id=user.id,
        tenant_id=None,
        actor_user_id=user.id,
        details={"via": "invitation", "workspace_id": str(tenant.id)},
    )
    return user, _join(session, inv, user, new_account=True)


# --- workspaces -------------------------------------------------------------------------------


def create_workspace(session: Session, user: User, name: Any) -> Workspace:
    """A new workspace owned by `user` (its own subscription, instances and spend cap).
    Leaves the session's RLS context on it."""
    name = clean_workspace_name(name)
    owned = (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Tenant)
            .where(
                Membership.user_id == user.id, Membership.role == OWNER, Tenant.status != "deleted"
            )
        )
        or 0
    )
    if owned >= MAX_OWNED_WORKSPACES:
        raise LimitExceeded(
            f"You already own {owned} workspaces, the most one person may. "
            "Delete one you no longer need."
        )
    set_context(session, TenantContext(user_id=user.id))
    tenant = workspaces.create_tenant(session, name=name, owner_id=user.id)
    audit.record(
        session,
        "teams.workspace_create",
        target_type="tenant",
        target_id=tenant.id,
        details={"name": name},
    )
    return Workspace(tenant=tenant, role=OWNER)


def rename_workspace(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, name: Any
) -> Tenant:
    authorize(workspace, "workspace.update")
    name = clean_workspace_name(name)
    ws = _acting(session, workspace, actor_id, "workspace.update")
    if ws.tenant.name != name:
        previous, ws.tenant.name = ws.tenant.name, name
        session.flush()
        audit.record(
            session,
            "teams.workspace_rename",
            target_type="tenant",
            target_id=ws.id,
            details={"from": previous, "to": name},
        )
    return ws.tenant


def require_two_factor(
    session: Session, workspace: Workspace | None, actor_id: uuid.UUID, required: bool
) -> Tenant:
    """Owners require two-factor sign-in of every member working in the workspace (members
    without it are sent to enrol). An owner turns it on only with 2FA of their own, so the
    switch cannot lock its own owner out."""
    ws = _acting(session, workspace, actor_id, "workspace.security")
    if required and not two_factor.is_enabled(session, actor_id):
        raise ValidationFailed(
            "Turn on two-factor sign-in for your own account first (on your account page).",
            details={"required": "Turn on two-factor sign-in for yourself first."},
        )
    if ws.tenant.require_two_factor != required:
        ws.tenant.require_two_factor = required
        session.flush()
        audit.record(
            session,
            "teams.require_two_factor",
            target_type="tenant",
            target_id=ws.id,
            details={"required": required},
        )
    return ws.tenant


def delete_workspace(
    session: Session,
    workspace: Workspace | None,
    actor_id: uuid.UUID,
    *,
    confirm_name: str | None = None,
) -> None:
    """Close a workspace: nothing may still run or bill in it. Rows are kept (status
    'deleted') for billing history and the audit log; members no longer see it."""
    ws = _acting(session, workspace, actor_id, "workspace.delete")
    if confirm_name is not None and confirm_name.strip() != ws.tenant.name:
        message = "Type the workspace's name exactly to confirm."
        raise ValidationFailed(message, details={"confirm_name": message})
    live = (
        session.scalar(
            select(func.count())
            .select_from(Instance)
            .where(Instance.tenant_id == ws.id, Instance.status != "deleted")
        )
        or 0
    )
    if live:
        raise Conflict(
            f"This workspace still has {live} instance(s): delete them first.",
            code="workspace_not_empty",
        )
    billing = (
        session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.tenant_id == ws.id, Subscription.status.in_(SUBSCRIPTION_OPEN))
        )
        or 0
    )
    if billing:
        raise Conflict(
            "This workspace still has a subscription: cancel it first.", code="workspace_subscribed"
        )
    session.execute(
        update(Invitation)
        .where(
            Invitation.tenant_id == ws.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=_now())
    )
    session.execute(
        update(ApiToken)
        .where(ApiToken.tenant_id == ws.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    ws.tenant.status = "deleted"
    session.flush()
    audit.record(
        session,
        "teams.workspace_delete",
        target_type="tenant",
        target_id=ws.id,
        details={"name": ws.tenant.name},
    )
