"""Email delivery, retried with backoff while the mail server is unreachable."""

from __future__ import annotations

import uuid

from celery import shared_task
from flask import current_app

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.platform import mail
from railsaas.tasks import capped_countdown


class DeliveryFailed(Exception):
    pass


@shared_task(name="mail.deliver", bind=True, max_retries=8)
def deliver(self, email_id: str) -> str:
    with db.scope(SYSTEM) as session:  # commits the attempt count and error either way
        result = mail.deliver(session, uuid.UUID(email_id))
    if result == "failed":
        backoff = capped_countdown(min(600, 5 * 2**self.request.retries))
        raise self.retry(exc=DeliveryFailed(email_id), countdown=backoff)
    return result


@shared_task(name="mail.scrub_bodies")
def scrub_bodies() -> int:
    """Beat, hourly: blank the bodies (and their links) of emails that no longer need them."""
    with db.scope(SYSTEM) as session:
        return mail.scrub_bodies(session, current_app.config["EMAIL_UNSENT_BODY_DAYS"])
