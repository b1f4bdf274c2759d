"""Invitations: sent by email with a signed, expiring link whose token is stored only as a
hash; accepted by a new person (who gets an account) or by the signed-in owner of the
invited address; revoked, resent, expired and tampered links refused."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Invitation, Tenant, User
from railsaas.platform import mail
from tests.support import DEFAULT_PASSWORD, CsrfClient
from tests.support.teams import audits, emails_to, invitation_link, invitations, role_of


def _invite(pages, team, email="new@example.com", role="member"):
    owner = pages(team["owner"], team.tenant)
    resp = owner.post("/members/invite", {"email": email, "role": role})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return invitation_link(email.lower())


def test_an_invitation_emails_a_link_and_stores_only_the_tokens_hash(pages, team):
    link = _invite(pages, team, "New@Example.com", "viewer")
    [inv] = invitations(team.tenant.id)
    assert inv.email == "new@example.com"
    assert inv.role == "viewer"
    assert inv.invited_by == team["owner"].id
    token = link.rsplit("/", 1)[1]
    assert inv.token_hash not in link
    assert len(inv.token_hash) == 64
    assert inv.expires_at - datetime.now(UTC) > timedelta(days=6)
    [mail] = emails_to("new@example.com")
    # Typed names stay out of the subject (issue 14), and are quoted in the body.
    assert "Acme" not in mail.subject
    assert "Owner Person" not in mail.subject
    assert "Acme" in mail.text_body
    assert "Owner Person" in mail.text_body
    assert token in mail.text_body
    assert (
        audits(team.tenant.id, "teams.invite")[0].details.items()
        >= {"email": "new@example.com", "role": "viewer"}.items()
    )


def test_the_members_page_lists_pending_invitations(pages, team):
    _invite(pages, team, "pending@example.com")
    html = pages(team["admin"], team.tenant).get("/members").get_data(as_text=True)
    assert 'data-testid="invitation-row" data-email="pending@example.com"' in html


def test_a_new_person_accepts_by_creating_an_account(app, pages, team):
    link = _invite(pages, team, "newbie@example.com", "viewer")
    visitor = pages(None)
    page = visitor.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Join Acme" in html
    assert "Owner Person" in html
    assert "Viewer" in html

    resp = visitor.post(link, {"name": "Newbie", "password": "a long enough password"})
    assert resp.status_code == 303
    assert resp.location.endswith("/dashboard")
    with db.scope(SYSTEM) as s:
        user = s.query(User).filter_by(email="newbie@example.com").one()
        assert user.email_verified  # the link reached that inbox
    assert role_of(team.tenant.id, user.id) == "viewer"
    [inv] = invitations(team.tenant.id)
    assert inv.accepted_at is not None
    # Signed in, in the workspace they joined; no personal workspace was made for them.
    members = visitor.get("/members")
    assert members.status_code == 200
    assert 'data-testid="my-role">Viewer' in members.get_data(as_text=True)
    switcher = visitor.get("/workspaces").get_data(as_text=True)
    assert switcher.count('data-testid="workspace-item"') == 1
    accepted = audits(team.tenant.id, "teams.invite_accept")[0]
    assert accepted.actor_user_id == user.id
    assert accepted.details["new_account"] is True


def test_a_new_account_still_follows_the_password_policy(pages, team):
    link = _invite(pages, team)
    visitor = pages(None)
    resp = visitor.post(link, {"name": "Newbie", "password": "short"})
    assert resp.status_code == 200
    assert 'data-testid="error-password"' in resp.get_data(as_text=True)
    assert invitations(team.tenant.id)[0].accepted_at is None


def test_an_existing_account_is_asked_to_log_in_and_then_joins(pages, team, factory):
    person = factory.user(email="known@example.com")
    link = _invite(pages, team, "known@example.com", "member")
    anonymous = pages(None).get(link).get_data(as_text=True)
    assert 'data-testid="login-to-accept"' in anonymous
    # Posting a new account for a known address is refused, nothing changes.
    refused = pages(None).post(link, {"name": "Impostor", "password": "a long enough password"})
    assert refused.status_code == 200
    assert role_of(team.tenant.id, person.id) is None

    signed_in = pages(person)
    assert 'data-testid="accept-invitation"' in signed_in.get(link).get_data(as_text=True)
    resp = signed_in.post(link)
    assert resp.status_code == 303
    assert role_of(team.tenant.id, person.id) == "member"
    # The joined workspace is now the selected one.
    assert 'data-testid="my-role">Member' in signed_in.get("/members").get_data(as_text=True)
    # Opening the link again is harmless.
    again = signed_in.post(link)
    assert again.status_code == 303


def test_someone_signed_in_with_another_address_cannot_accept(pages, team, factory):
    link = _invite(pages, team, "intended@example.com")
    other = factory.user(email="someone-else@example.com")
    client = pages(other)
    page = client.get(link).get_data(as_text=True)
    assert 'data-testid="invitation-mismatch"' in page
    resp = client.post(link)
    assert resp.status_code == 403
    assert "intended@example.com" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, other.id) is None
    assert invitations(team.tenant.id)[0].accepted_at is None


def test_an_unverified_address_must_be_confirmed_before_accepting(pages, team, factory):
    person = factory.user(email="unconfirmed@example.com", email_verified=False)
    link = _invite(pages, team, "unconfirmed@example.com")
    resp = pages(person).post(link)
    assert resp.status_code == 403
    assert "Confirm your email address" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, person.id) is None


def test_an_expired_invitation_is_refused_and_can_be_resent(pages, team):
    link = _invite(pages, team, "late@example.com")
    with db.scope(SYSTEM) as s:
        s.execute(update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(hours=1)))
    page = pages(None).get(link)
    assert "expired" in page.get_data(as_text=True)
    resp = pages(None).post(link, {"name": "Late", "password": "a long enough password"})
    assert resp.status_code == 400
    assert "expired" in resp.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        assert s.query(User).filter_by(email="late@example.com").count() == 0

    [inv] = invitations(team.tenant.id)
    owner = pages(team["owner"], team.tenant)
    assert owner.post(f"/invitations/{inv.id}/resend").status_code == 303
    fresh = invitation_link("late@example.com")
    assert fresh != link
    assert (
        pages(None).post(fresh, {"name": "Late", "password": "a long enough password"}).status_code
        == 303
    )


def test_a_link_past_its_signed_lifetime_is_refused(app, pages, team, monkeypatch):
    link = _invite(pages, team)
    monkeypatch.setitem(app.config, "INVITATION_MAX_AGE", -1)
    resp = pages(None).get(link)
    assert resp.status_code == 400
    assert "expired" in resp.get_data(as_text=True)


def test_a_tampered_link_is_refused_before_any_lookup(pages, team):
    link = _invite(pages, team)
    token = link.rsplit("/", 1)[1]
    payload, stamp, signature = token.rsplit(".", 2)
    forged = f"{payload}.{stamp}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    for bad in (forged, "not-a-token", token[:-10]):
        resp = pages(None).get(f"/invitations/accept/{bad}")
        assert resp.status_code == 400, bad
        assert "invalid" in resp.get_data(as_text=True)
    assert invitations(team.tenant.id)[0].accepted_at is None


def test_a_link_signed_for_another_workspace_finds_nothing(app, pages, team):
    """Even a correctly signed link only reads the workspace it names, and must match a
    stored hash there."""
    link = _invite(pages, team)
    from railsaas.teams import service as teams

    with app.test_request_context():
        secret_part = teams._serializer().loads(link.rsplit("/", 1)[1])["t"]
        moved = teams._serializer().dumps({"w": str(team.other.id), "t": secret_part})
    resp = pages(None).get(f"/invitations/accept/{moved}")
    assert resp.status_code == 400
    assert "no longer valid" in resp.get_data(as_text=True)


def test_a_revoked_invitation_cannot_be_accepted(pages, team):
    link = _invite(pages, team, "revoked@example.com")
    [inv] = invitations(team.tenant.id)
    assert (
        pages(team["admin"], team.tenant).post(f"/invitations/{inv.id}/revoke").status_code == 303
    )
    resp = pages(None).post(link, {"name": "Gone", "password": "a long enough password"})
    assert resp.status_code == 400
    assert "withdrawn" in resp.get_data(as_text=True)
    assert audits(team.tenant.id, "teams.invite_revoke")


def test_resending_replaces_the_link(pages, team):
    old = _invite(pages, team, "again@example.com")
    [inv] = invitations(team.tenant.id)
    old_hash = inv.token_hash
    assert (
        pages(team["owner"], team.tenant).post(f"/invitations/{inv.id}/resend").status_code == 303
    )
    new = invitation_link("again@example.com")
    assert new != old
    assert invitations(team.tenant.id)[0].token_hash != old_hash
    assert pages(None).get(old).status_code == 400
    assert pages(None).get(new).status_code == 200
    assert audits(team.tenant.id, "teams.invite_resend")


def test_resending_is_throttled(pages, team):
    _invite(pages, team, "spam@example.com")
    [inv] = invitations(team.tenant.id)
    owner = pages(team["owner"], team.tenant)
    assert owner.post(f"/invitations/{inv.id}/resend").status_code == 303
    again = owner.post(f"/invitations/{inv.id}/resend")
    assert again.status_code == 200
    assert "just sent" in again.get_data(as_text=True)
    assert len(emails_to("spam@example.com")) == 2


def test_inviting_a_member_or_a_pending_address_again_is_refused(pages, team):
    owner = pages(team["owner"], team.tenant)
    resp = owner.post("/members/invite", {"email": team["viewer"].email, "role": "member"})
    assert resp.status_code == 200
    assert "already a member" in resp.get_data(as_text=True)
    _invite(pages, team, "twice@example.com")
    resp = owner.post("/members/invite", {"email": "twice@example.com", "role": "member"})
    assert "already has a pending invitation" in resp.get_data(as_text=True)
    assert len(invitations(team.tenant.id)) == 1


def test_invalid_invitation_input_is_shown_on_the_form(pages, team):
    owner = pages(team["owner"], team.tenant)
    resp = owner.post("/members/invite", {"email": "not an address", "role": "member"})
    assert resp.status_code == 200
    assert 'data-testid="error-email"' in resp.get_data(as_text=True)
    resp = owner.post("/members/invite", {"email": "ok@example.com", "role": "superuser"})
    assert 'data-testid="error-role"' in resp.get_data(as_text=True)
    assert invitations(team.tenant.id) == []


def test_only_owners_invite_owners(pages, team):
    admin = pages(team["admin"], team.tenant)
    assert (
        admin.post("/members/invite", {"email": "boss@example.com", "role": "owner"}).status_code
        == 403
    )
    owner = pages(team["owner"], team.tenant)
    assert (
        owner.post("/members/invite", {"email": "boss@example.com", "role": "owner"}).status_code
        == 303
    )


def test_an_unverified_inviter_cannot_send_invitations(pages, factory):
    user, tenant = factory.workspace(email_verified=False)
    resp = pages(user, tenant).post("/members/invite", {"email": "x@example.com", "role": "member"})
    assert resp.status_code == 403


def test_invitation_tokens_hash_to_the_stored_value(app, pages, team):
    link = _invite(pages, team)
    from railsaas.teams import service as teams

    with app.test_request_context():
        secret_part = teams._serializer().loads(link.rsplit("/", 1)[1])["t"]
    assert (
        invitations(team.tenant.id)[0].token_hash
        == hashlib.sha256(secret_part.encode()).hexdigest()
    )


def test_logging_in_from_the_invitation_comes_back_to_it(pages, team, factory):
    person = factory.user(email="returning@example.com")
    link = _invite(pages, team, "returning@example.com")
    visitor = pages(None)
    html = visitor.get(link).get_data(as_text=True)
    login_href = (
        re.search(r'href="([^"]+)" role="button" data-testid="login-to-accept"', html)
        .group(1)
        .replace("&amp;", "&")
    )
    resp = visitor.post(login_href, {"email": person.email, "password": DEFAULT_PASSWORD})
    assert resp.status_code == 303
    assert resp.location == link
    assert 'data-testid="accept-invitation"' in visitor.get(link).get_data(as_text=True)
    assert visitor.post(link).status_code == 303
    assert role_of(team.tenant.id, person.id) == "member"


def test_a_workspace_may_send_only_so_many_invitations_a_day(app, pages, team, monkeypatch):
    monkeypatch.setitem(app.config, "INVITATIONS_PER_DAY", 2)
    owner = pages(team["owner"], team.tenant)
    for n in range(2):
        assert (
            owner.post(
                "/members/invite", {"email": f"n{n}@example.com", "role": "viewer"}
            ).status_code
            == 303
        )
    resp = owner.post("/members/invite", {"email": "n2@example.com", "role": "viewer"})
    assert "Try again tomorrow" in resp.get_data(as_text=True)
    assert len(invitations(team.tenant.id)) == 2


LINKY = [
    "http://evil.example/x",
    "https://evil.example",
    "www.evil.example",
    "evil.com",
    "hxxp://evil",
    "evil.co/pay",
    "evil\uff0ecom",
    "ftp://evil",
]


def test_typed_names_reach_other_peoples_mail_without_links(app, factory):
    """Issue 14 §2.3: the inviter's and the workspace's names were quoted verbatim in mail to
    someone else. Links (and anything link-like) are taken out; the words stay."""
    inviter, tenant = factory.workspace(name="Bob " + " ".join(LINKY))
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).name = "Acme " + " ".join(LINKY)
    page = CsrfClient(app, app.test_client(), user=inviter, workspace=tenant)
    assert (
        page.post(
            "/members/invite", {"email": "victim@example.com", "role": "member"}, page="/members"
        ).status_code
        == 303
    )
    [mail] = emails_to("victim@example.com")
    assert "Bob" in mail.text_body
    assert "Acme" in mail.text_body
    for bad in ("evil", "http", "www.", "://"):
        assert bad not in mail.subject
        assert bad not in mail.text_body.replace(app.config["BASE_URL"], "")
    assert invitation_link("victim@example.com").startswith("/invitations/accept/")


def test_plain_text_removes_link_like_words_only():
    assert mail.plain_text("Ada Lovelace") == "Ada Lovelace"
    assert mail.plain_text("Acme Ltd. costs $19.00, e.g. ok") == "Acme Ltd. costs $19.00, e.g. ok"
    for bad in LINKY:
        assert mail.plain_text(f"go {bad} now") == f"go {mail.REMOVED} now"
