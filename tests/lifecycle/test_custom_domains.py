"""A custom domain's DNS records are Railway's own (kept from customDomainCreate, refreshed
by the poll until verified), on the Settings tab and in the API, against the emulator."""

from __future__ import annotations

import re
import uuid

from railsaas.instances import poll
from railsaas.instances.steps import client as railway
from tests.support import login_as, wait_until
from tests.support.api import auth_header

DOMAIN = "blog.example.com"


def _dns_section(html: str) -> str:
    m = re.search(r'<div data-testid="custom-domain-dns".*?</div>', html, re.S)
    return m.group(0) if m else ""


def _rows(html: str) -> list[tuple[str, str, str, str]]:
    return re.findall(
        r'<tr data-testid="dns-record"><td>(\w+)</td><td><code>([^<]*)</code></td>'
        r"<td><code>([^<]*)</code></td><td>(\w+)</td></tr>",
        _dns_section(html),
    )


def _railway_records(lc, inst) -> list[tuple[str, str, str]]:
    with lc.app.app_context():
        (cd,) = (
            railway()
            .domains(inst.railway_project_id, inst.railway_environment_id, inst.railway_service_id)
            .custom_domains
        )
    return sorted((r.type_name, r.fqdn, r.required_value) for r in cd.dns_records)


def _poll_one(lc, iid: str) -> dict:
    with lc.app.app_context():
        return poll.poll(only=[uuid.UUID(iid)])


def test_the_records_shown_are_railways_and_follow_its_verification(lifecycle):
    lc = lifecycle
    iid = lc.deploy("blog")
    lc.wait_for(iid, "running")
    inst = lc.instance(iid)
    settings = f"/instances/{iid}/settings"
    api = lc.app.test_client()
    auth = auth_header(api, lc.user)

    # No custom domain: no records anywhere, and the poll asks Railway nothing about it.
    assert 'data-testid="custom-domain-dns"' not in lc.browser.get(settings).get_data(as_text=True)
    assert api.get(f"/api/instances/{iid}", headers=auth).json["custom_domain_dns"] is None
    lc.emulator.clear_requests()
    _poll_one(lc, iid)
    assert lc.emulator.count("CustomDomainStatuses") == 0

    resp = lc.browser.post(
        f"/instances/{iid}/domain", headers={"X-CSRFToken": lc.csrf()}, data={"domain": DOMAIN}
    )
    assert resp.status_code == 303
    wait_until(
        lambda: lc.steps(iid)[-1] == ("domain", "succeeded"),
        timeout=20,
        interval=0.2,
        message="the domain step succeeded",
    )

    # Railway's records, as customDomainCreate gave them: its CNAME target, not the
    # service domain, and the TXT ownership record.
    expected = _railway_records(lc, inst)
    assert {t for t, _n, _v in expected} == {"CNAME", "TXT"}
    cname_target = next(v for t, _n, v in expected if t == "CNAME")
    assert cname_target != inst.domain
    html = lc.browser.get(settings).get_data(as_text=True)
    rows = _rows(html)
    assert sorted((t, n, v) for t, n, v, _s in rows) == expected
    assert {s for *_x, s in rows} == {"Pending"}
    assert inst.domain not in _dns_section(html)
    txt = next(r for r in rows if r[0] == "TXT")
    assert txt[1].startswith("_railway-verify.")
    assert txt[2].startswith("railway-verify=")
    body = api.get(f"/api/instances/{iid}", headers=auth).json["custom_domain_dns"]
    assert body["state"] == "pending"
    assert body["verified"] is False
    assert sorted((r["type"], r["name"], r["value"]) for r in body["records"]) == expected
    assert {r["status"] for r in body["records"]} == {"pending"}

    # The old advice (a CNAME to the service domain) does not verify anything.
    lc.emulator.set_domain_dns(DOMAIN, {"CNAME": inst.domain})
    lc.emulator.clear_requests()
    _poll_one(lc, iid)
    assert lc.emulator.count("CustomDomainStatuses") == 1
    assert {s for *_x, s in _rows(lc.browser.get(settings).get_data(as_text=True))} == {"Pending"}

    # The CNAME set as Railway asked: that record verifies, the domain does not yet.
    lc.emulator.set_domain_dns(DOMAIN, {"CNAME": cname_target})
    _poll_one(lc, iid)
    status = {t: s for t, _n, _v, s in _rows(lc.browser.get(settings).get_data(as_text=True))}
    assert status == {"CNAME": "Verified", "TXT": "Pending"}
    assert api.get(f"/api/instances/{iid}", headers=auth).json["custom_domain_dns"]["state"] == (
        "pending"
    )

    # Every record set: verified, the certificate being issued, then issued.
    lc.emulator.verify_domain(DOMAIN)
    _poll_one(lc, iid)
    body = api.get(f"/api/instances/{iid}", headers=auth).json["custom_domain_dns"]
    assert (body["state"], body["verified"], body["certificate"]) == ("verified", True, "issuing")
    assert {r["status"] for r in body["records"]} == {"verified"}
    html = lc.browser.get(settings).get_data(as_text=True)
    assert {s for *_x, s in _rows(html)} == {"Verified"}
    assert "certificate is being issued" in html
    lc.emulator.advance(60)
    _poll_one(lc, iid)
    body = api.get(f"/api/instances/{iid}", headers=auth).json["custom_domain_dns"]
    assert body["certificate"] == "issued"

    # Verified with a certificate: the poll stops asking about the domain.
    lc.emulator.clear_requests()
    _poll_one(lc, iid)
    assert lc.emulator.count("CustomDomainStatuses") == 0

    # Another workspace cannot see the instance or its records.
    other_user, _tenant = lc.factory.workspace()
    outsider = lc.app.test_client()
    other = auth_header(outsider, other_user)
    assert outsider.get(f"/api/instances/{iid}", headers=other).status_code == 404
    login_as(lc.app, outsider, other_user)
    assert outsider.get(settings).status_code == 404


def test_a_changed_domain_drops_the_old_records_until_railway_answers(lifecycle):
    lc = lifecycle
    iid = lc.deploy("blog")
    lc.wait_for(iid, "running")
    csrf = lc.csrf()
    lc.browser.post(
        f"/instances/{iid}/domain", headers={"X-CSRFToken": csrf}, data={"domain": DOMAIN}
    )
    wait_until(
        lambda: lc.steps(iid)[-1] == ("domain", "succeeded"),
        timeout=20,
        interval=0.2,
        message="the first domain step succeeded",
    )
    old = _rows(lc.browser.get(f"/instances/{iid}/settings").get_data(as_text=True))
    assert old
    # The next step waits for the worker: until it runs, the page says so and shows none.
    lc.emulator.script("slow", times=1, operation="CustomDomainCreate", seconds=3)
    lc.browser.post(
        f"/instances/{iid}/domain",
        headers={"X-CSRFToken": csrf},
        data={"domain": "www.example.com"},
    )
    html = lc.browser.get(f"/instances/{iid}/settings").get_data(as_text=True)
    section = _dns_section(html)
    assert 'data-state="waiting"' in section
    assert "Waiting for Railway" in section
    assert _rows(html) == []
    wait_until(
        lambda: lc.steps(iid)[-1] == ("domain", "succeeded"),
        timeout=30,
        interval=0.2,
        message="the second domain step succeeded",
    )
    new = _rows(lc.browser.get(f"/instances/{iid}/settings").get_data(as_text=True))
    assert {n for _t, n, _v, _s in new} >= {"www.example.com"}
    assert not {v for *_x, v, _s in new} & {v for *_x, v, _s in old}
