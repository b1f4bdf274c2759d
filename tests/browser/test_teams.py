"""Teams in a real browser: an owner invites a teammate from the members page (HTMX), the
teammate accepts from the emailed link on a phone, creates a workspace of their own, switches
back with the header's switcher, and as a viewer is offered nothing to change and no deploy
button, and is refused (403) when they try anyway."""

from __future__ import annotations

from railsaas.platform.captured_mail import links_in
from tests.support import DEFAULT_PASSWORD
from tests.support.browser import assert_no_horizontal_scroll


def _log_in(page, live_server, email, password):
    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")


def test_owner_invites_teammate_who_joins_switches_and_cannot_change_things(
    app, page, phone, live_server, celery_worker, mail_sink, committed_factory, shot
):
    owner, acme = committed_factory.workspace(name="Olivia Owner")
    ghost = committed_factory.template(name="Ghost", description="Publishing platform")
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Tenant

    with db.scope(SYSTEM) as s:
        s.get(Tenant, acme.id).name = "Acme"

    # The owner invites a viewer from the members page; htmx swaps the list in place.
    _log_in(page, live_server, owner.email, DEFAULT_PASSWORD)
    page.click("nav >> text=Members")
    page.wait_for_url("**/members")
    page.fill("#email", "teammate@example.com")
    page.select_option("#role", "viewer")
    page.click("[data-testid=invite-submit]")
    row = page.locator("[data-testid=invitation-row][data-email='teammate@example.com']")
    row.wait_for()
    assert page.locator("text=Invitation sent to teammate@example.com").is_visible()
    assert page.url.endswith("/members")  # swapped, not navigated
    shot(page, "owner-invited")

    # The teammate opens the emailed link on a phone and creates an account.
    message = mail_sink.wait_for(to="teammate@example.com", timeout=30)
    # Names people type stay out of subjects (they go to other people); the body names them.
    assert "Acme" not in str(message["Subject"])
    assert "Acme" in message.get_body(preferencelist=("plain",)).get_content()
    [link] = [u for u in links_in(message) if "/invitations/accept/" in u]
    mate = phone
    mate.goto(link)
    assert "Join Acme" in mate.inner_text("h1")
    assert_no_horizontal_scroll(mate)
    shot(mate, "invitation")
    mate.fill("#name", "Tess Teammate")
    mate.fill("#password", "a teammate's passphrase")
    mate.click("[data-testid=accept-invitation]")
    mate.wait_for_url("**/dashboard")
    assert mate.inner_text("[data-testid=workspace-name]") == "Acme"
    assert mate.locator("[data-testid=verify-banner]").count() == 0  # the link proved it
    shot(mate, "joined")

    # A workspace of their own, from the header's switcher.
    mate.click("[data-testid=workspace-switcher] summary")
    mate.click("[data-testid=new-workspace]")
    mate.fill("#name", "Tess's lab")
    mate.click("text=Create workspace")
    mate.wait_for_url("**/dashboard")
    assert mate.inner_text("[data-testid=workspace-name]") == "Tess's lab"
    mate.goto(live_server + "/members")
    assert mate.inner_text("[data-testid=my-role]") == "Owner"
    shot(mate, "own-workspace")
    assert_no_horizontal_scroll(mate)

    # Switch back to Acme.
    mate.click("[data-testid=workspace-switcher] summary")
    assert_no_horizontal_scroll(mate)
    shot(mate, "switcher-open")
    mate.click("[data-testid=switch-workspace]:has-text('Acme')")
    mate.wait_for_url("**/dashboard")
    assert mate.inner_text("[data-testid=workspace-name]") == "Acme"

    # As a viewer in Acme: the members page offers nothing to change...
    mate.goto(live_server + "/members")
    assert mate.inner_text("[data-testid=my-role]") == "Viewer"
    assert mate.locator("[data-testid=invite-form]").count() == 0
    assert mate.locator("[data-testid=remove-member]").count() == 0
    assert mate.locator("[data-testid=role-select]").count() == 0
    assert_no_horizontal_scroll(mate)
    shot(mate, "viewer-members")
    # ...and a hand-made request is refused.
    csrf = mate.get_attribute("meta[name=csrf-token]", "content")
    refused = mate.request.post(
        live_server + "/members/invite",
        form={"csrf_token": csrf, "email": "sneaky@example.com", "role": "admin"},
    )
    assert refused.status == 403

    # ...and a viewer cannot deploy: the catalog offers no button, the route says 403.
    mate.goto(live_server + "/instances/")
    assert mate.locator("text=Deploy a template").count() == 0
    mate.goto(live_server + f"/templates/{ghost.id}")
    assert mate.locator("[data-testid=deploy-not-allowed]").is_visible()
    assert mate.locator("[data-testid=deploy-button]").count() == 0
    assert_no_horizontal_scroll(mate)
    shot(mate, "viewer-cannot-deploy")
    csrf = mate.get_attribute("meta[name=csrf-token]", "content")
    refused = mate.request.post(
        live_server + f"/templates/{ghost.id}/deploy",
        form={"csrf_token": csrf, "name": "sneaky-blog"},
    )
    assert refused.status == 403
    assert mate.request.get(live_server + f"/templates/{ghost.id}/deploy").status == 403

    # The owner sees the teammate as a viewer, and may promote them; the owner can deploy.
    page.goto(live_server + f"/templates/{ghost.id}")
    assert page.locator("[data-testid=deploy-button]").is_visible()
    page.goto(live_server + "/members")
    mate_row = page.locator("[data-testid=member-row][data-email='teammate@example.com']")
    assert mate_row.get_attribute("data-role") == "viewer"
    assert page.locator("[data-testid=invitation-row]").count() == 0
    mate_row.locator("select").select_option("member")
    mate_row.locator("text=Change").click()
    page.locator(
        "[data-testid=member-row][data-email='teammate@example.com'][data-role=member]"
    ).wait_for()
    shot(page, "owner-promoted")
