"""Email: rendered from templates/email/<kind>.txt (and .html when present) when queued,
stored in `emails`, and sent over SMTP by the `mail.deliver` task after commit."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from jinja2 import TemplateNotFound
from sqlalchemy.orm import Session

from railsaas.models import Email
from railsaas.platform import outbox, unscoped


def queue(session: Session, *, to: str, kind: str, subject: str,
          tenant_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None,
          **context) -> Email:
    """Render and store an email; it is sent after the caller's transaction commits."""
    context = {"base_url": current_app.config["BASE_URL"].rstrip("/"), **context}
    text_body = render_template(f"email/{kind}.txt", **context)
    try:
        html_body = render_template(f"email/{kind}.html", **context)
    except TemplateNotFound:
        html_body = None
    email = Email(to_address=to, subject=subject, kind=kind, text_body=text_body,
                  html_body=html_body, tenant_id=tenant_id, user_id=user_id)
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
        client = smtplib.SMTP_SSL(host, port or 465, timeout=timeout,
                                  context=ssl.create_default_context())
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
    if email is None or email.sent_at is not None:
        return "skipped"
    email.attempts += 1
    try:
        smtp_send(current_app.config["SMTP_URL"],
                  build_message(email, current_app.config["MAIL_FROM"]))
    except (OSError, smtplib.SMTPException) as exc:
        email.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        return "failed"
    email.sent_at = datetime.now(UTC)
    email.last_error = None
    return "sent"
