"""Email: rendered from templates/email/<kind>.txt (and .html when present) when queued,
stored in `emails`, and sent over SMTP by the `mail.deliver` task after commit.

Names people type (a user's or workspace's name, a token's) end up in mail to other people
(an invitation quotes the inviter and the workspace). Our mail must not carry an attacker's
link under our name, so every template value passes through `plain_text` in `queue`: URLs
and anything link-like (`http`, `www.`, `://`, domain-looking words) are removed. Only our
own links (context keys `link`, `*_link`, `*_url`) and addresses (`*email*`) are left as
they are. Subjects are our fixed words: never put a typed name in one.

Bodies carry sign-in, reset, verification and invitation links, so they are not kept: the
hourly `mail.scrub_bodies` blanks the body of every sent email, and of an unsent one after
EMAIL_UNSENT_BODY_DAYS (time for retries and for support to see why). Subject, recipient,
kind, attempts, error and timestamps stay: what support needs to answer "did it go out?"."""

from __future__ import annotations

import re
import smtplib
import ssl
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from jinja2 import TemplateNotFound
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from railsaas.models import Email
from railsaas.platform import outbox, unscoped

# A word is link-like when it has a scheme, "www.", "http" or looks like a domain
# (label.label with a final label that starts with a letter: "evil.com", "x.co/a").
_LINK_LIKE = re.compile(r"(?i)(?:://|www\.|http|hxxp|[a-z0-9-]\.[a-z][a-z0-9-]+)")
_WORD = re.compile(r"\S+")
REMOVED = "[link removed]"


def plain_text(value: str) -> str:
    """`value` without URLs or link-like words (see the module docstring), for quoting text
    someone typed in an email. Compatibility forms (fullwidth dots, ligatures) are folded
    first, so "evil．com" is caught too."""
    folded = unicodedata.normalize("NFKC", value)
    cleaned = _WORD.sub(lambda m: REMOVED if _LINK_LIKE.search(m.group(0)) else m.group(0), folded)
    return cleaned


def _ours(key: str) -> bool:
    """Context values we build ourselves: links to this site and email addresses."""
    return key in ("link", "base_url") or key.endswith(("_link", "_url")) or "email" in key


def clean_context(value: Any, key: str = "") -> Any:
    """Every string of a template's context through plain_text, except our own links and
    addresses (by key), into lists and dicts."""
    if isinstance(value, str):
        return value if _ours(key) else plain_text(value)
    if isinstance(value, dict):
        return {k: clean_context(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_context(v, key) for v in value]
    return value


def queue(
    session: Session,
    *,
    to: str,
    kind: str,
    subject: str,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    **context,
) -> Email:
    """Render and store an email; it is sent after the caller's transaction commits."""
    subject = plain_text(subject)
    context = {"base_url": current_app.config["BASE_URL"].rstrip("/"), **clean_context(context)}
    text_body = render_template(f"email/{kind}.txt", **context)
    try:
        html_body = render_template(f"email/{kind}.html", **context)
    except TemplateNotFound:
        html_body = None
    email = Email(
        to_address=to,
        subject=subject,
        kind=kind,
        text_body=text_body,
        html_body=html_body,
        tenant_id=tenant_id,
        user_id=user_id,
    )
    if tenant_id is None:
        unscoped.insert_row(session, email)  # a row of no workspace: see platform/unscoped.py
    else:
        session.add(email)
        session.flush()
    outbox.enqueue(session, "mail.deliver", tenant_id=tenant_id, email_id=email.id)
    return email


def build_message(email: Email, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = email.to_address
    msg["Subject"] = email.subject
    msg["Message-ID"] = f"<{email.id}@railsaas>"
    msg["Date"] = formatdate(usegmt=True)
    msg.set_content(email.text_body)
    if email.html_body:
        msg.add_alternative(email.html_body, subtype="html")
    return msg


def smtp_send(smtp_url: str, msg: EmailMessage, timeout: float = 15) -> None:
    """Send over SMTP. smtp://host:port (STARTTLS when offered), smtps:// for implicit TLS."""
    parts = urlsplit(smtp_url)
    host, port = parts.hostname or "localhost", parts.port
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(
            host, port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port or 25, timeout=timeout)
    with client:
        client.ehlo()  # has_extn() only knows the server's extensions after EHLO
        if parts.scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(msg)


def deliver(session: Session, email_id: uuid.UUID) -> str:
    """Send one queued email unless already sent: 'sent', 'skipped' or 'failed' (the error
    is kept on the row; the caller retries)."""
    email = session.get(Email, email_id, with_for_update=True)
    if email is None or email.sent_at is not None or not email.text_body:
        return "skipped"  # a scrubbed body is gone: sending it now would send nothing
    email.attempts += 1
    try:
        smtp_send(
            current_app.config["SMTP_URL"], build_message(email, current_app.config["MAIL_FROM"])
        )
    except (OSError, smtplib.SMTPException) as exc:
        email.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        return "failed"
    email.sent_at = datetime.now(UTC)
    email.last_error = None
    return "sent"


def scrub_bodies(session: Session, unsent_days: int, now: datetime | None = None) -> int:
    """Blank the bodies of sent emails, and of unsent ones queued more than `unsent_days`
    ago; how many were blanked. Runs as the system role (rows of every workspace)."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=unsent_days)
    result = session.execute(
        update(Email)
        .where(Email.text_body != "", or_(Email.sent_at.is_not(None), Email.created_at < cutoff))
        .values(text_body="", html_body=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
