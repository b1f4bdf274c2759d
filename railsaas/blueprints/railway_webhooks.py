"""Railway's project webhook: `/webhooks/railway/<secret>`.

Railway signs nothing (API_BRIEF 5.12), so the path carries a secret, compared in constant
time. The payload only says which project to look at: the named instances are polled at
once, and their status comes from Railway's API, never from the payload.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request

from railsaas.instances.poll import refresh_from_webhook
from railsaas.platform import audit

bp = Blueprint("railway_webhooks", __name__, url_prefix="/webhooks/railway")


@bp.post("/<secret>")
@audit.exempt("Railway asking us to look again: the refresh reads Railway's state, nobody acts")
def receive(secret: str):
    expected = current_app.config.get("RAILWAY_WEBHOOK_SECRET") or ""
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        abort(404)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"received": False, "error": "expected a JSON object"}), 400
    return jsonify({"received": True, "instances": refresh_from_webhook(payload)})
