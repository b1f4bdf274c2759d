"""A custom domain's DNS records, exactly as Railway gives them.

Railway answers `customDomainCreate` with the records the customer must set for that domain
(a CNAME to a target of Railway's choosing, not the service's `*.up.railway.app` domain, and
a TXT ownership record) and verifies the domain against those. The domain step stores
Railway's answer in `Instance.custom_domain_dns` (`from_railway`); the poll refreshes it,
with one batched request per round, for the instances it claims whose domain is not verified
yet (`refresh`). What the Settings tab and the API show comes only from that column
(`instructions`): before Railway has answered there is a message, never a guessed record.

Stored shape (JSONB): {"domain", "railway_id", "verified", "certificate", "checked_at",
"records": [{"type", "name", "value", "status", "purpose"}]}, with a record's status
"verified" or "pending" and the certificate "issued", "issuing", "failed" or "pending".
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import update

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.instances.cadence import now
from railsaas.models import Instance
from railsaas.railway import errors as rw
from railsaas.railway.client import RailwayClient
from railsaas.railway.types import CustomDomain

log = logging.getLogger(__name__)

_CERTIFICATE = {
    "CERTIFICATE_STATUS_TYPE_VALID": "issued",
    "CERTIFICATE_STATUS_TYPE_ISSUING": "issuing",
    "CERTIFICATE_STATUS_TYPE_ISSUE_FAILED": "failed",
}


def from_railway(cd: CustomDomain) -> dict[str, Any]:
    """What Railway said about a custom domain, in the stored shape."""
    records = [
        {
            "type": r.type_name,
            "name": r.fqdn,
            "value": r.required_value,
            "status": "verified" if r.status == "DNS_RECORD_STATUS_PROPAGATED" else "pending",
            "purpose": r.purpose.removeprefix("DNS_RECORD_PURPOSE_"),
        }
        for r in cd.dns_records
    ]
    # Railway also names its ownership record on its own (verificationDnsHost/Token); show
    # it when the record list does not already carry it.
    if (
        cd.verification_host
        and cd.verification_token
        and not any(r["value"] == cd.verification_token for r in records)
    ):
        records.append(
            {
                "type": "TXT",
                "name": cd.verification_host,
                "value": cd.verification_token,
                "status": "verified" if cd.verified else "pending",
                "purpose": "VERIFICATION",
            }
        )
    return {
        "domain": cd.domain,
        "railway_id": cd.id,
        "verified": cd.verified,
        "certificate": _CERTIFICATE.get(cd.certificate_status or "", "pending"),
        "checked_at": now().isoformat(),
        "records": records,
    }


def store(instance_id: uuid.UUID, cd: CustomDomain) -> bool:
    """Keep Railway's answer for the instance's custom domain, unless the customer has
    changed the domain since (the answer is then about the old one)."""
    with db.scope(SYSTEM) as s:
        done = s.execute(
            update(Instance)
            .where(Instance.id == instance_id, Instance.custom_domain == cd.domain)
            .values(custom_domain_dns=from_railway(cd))
        )
        return bool(done.rowcount)


def needs_refresh(inst: Instance) -> bool:
    """A custom domain Railway has not verified, or whose certificate is not issued yet."""
    if inst.status in ("deleting", "deleted") or not (
        inst.custom_domain
        and inst.railway_project_id
        and inst.railway_environment_id
        and inst.railway_service_id
    ):
        return False
    dns = inst.custom_domain_dns or {}
    if dns.get("domain") != inst.custom_domain:
        return True  # no answer kept (yet): Railway may have the domain all the same
    return not (dns.get("verified") and dns.get("certificate") == "issued")


def refresh(rc: RailwayClient, pending: Iterable[tuple[uuid.UUID, str, str, str, str]]) -> int:
    """One batched request for every (instance, project, environment, service, domain)
    given; stores what Railway says. Returns how many instances were updated."""
    items = list(pending)
    if not items:
        return 0
    try:
        found = rc.custom_domain_statuses([(p, e, s) for _i, p, e, s, _d in items])
    except rw.RailwayError as exc:
        log.warning("custom domain refresh failed: %s", exc)
        return 0
    updated = 0
    for instance_id, p, e, s, domain in items:
        for cd in found.get((p, e, s)) or ():
            if cd.domain == domain:
                updated += store(instance_id, cd)
    return updated


def instructions(inst: Instance) -> dict[str, Any] | None:
    """What the customer sets at their DNS provider for the instance's custom domain, from
    Railway's own answer only. None without a custom domain. `state`: "waiting" (Railway
    has not answered: no records yet), "pending" (records to set or still propagating),
    "verified"."""
    if not inst.custom_domain:
        return None
    dns = inst.custom_domain_dns or {}
    if dns.get("domain") != inst.custom_domain or not dns.get("records"):
        return {
            "domain": inst.custom_domain,
            "state": "waiting",
            "verified": False,
            "certificate": None,
            "records": [],
            "checked_at": None,
            "message": (
                "Waiting for Railway to add the domain and say which DNS records to set. "
                "They appear here shortly."
            ),
        }
    verified = bool(dns.get("verified"))
    certificate = dns.get("certificate") or "pending"
    if verified and certificate == "issued":
        message = "Railway verified the domain and issued its certificate."
    elif verified and certificate == "failed":
        message = "Railway verified the domain but could not issue its HTTPS certificate."
    elif verified:
        message = "Railway verified the domain; its HTTPS certificate is being issued."
    else:
        message = (
            "Set these records at your DNS provider. Railway checks them and marks each "
            "verified once it sees it (DNS changes can take a while to propagate)."
        )
    return {
        "domain": inst.custom_domain,
        "state": "verified" if verified else "pending",
        "verified": verified,
        "certificate": certificate,
        "records": [
            {k: r.get(k) for k in ("type", "name", "value", "status")}
            for r in dns.get("records") or []
        ],
        "checked_at": dns.get("checked_at"),
        "message": message,
    }
