"""Development-only pages (404 unless DEBUG): captured mail from the dev SMTP sink."""

from __future__ import annotations

from email.utils import parseaddr

from flask import Blueprint, abort, current_app, render_template

from railsaas.platform import captured_mail as devmail

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def _debug_only() -> None:
    # The DEBUG setting (railsaas.config), which `flask run` cannot undo: it resets app.debug
    # (config["DEBUG"]) from FLASK_DEBUG, so `make dev`'s web server had /dev/mail answer 404.
    # `flask --debug` (app.debug) turns the pages on too.
    if not (current_app.config["SETTINGS"].DEBUG or current_app.config.get("DEBUG")):
        abort(404)


@bp.get("/mail")
def mail():
    directory = current_app.config.get("MAIL_CAPTURE_DIR") or ""
    messages = []
    for m in reversed(devmail.read_messages(directory) if directory else []):
        messages.append(
            {
                "subject": str(m.get("Subject", "")),
                "to": str(m.get("To", "")),
                "sender": parseaddr(str(m.get("From", "")))[1],
                "date": str(m.get("Date", "")),
                "parts": devmail.split_links(devmail.text_of(m)),
            }
        )
    return render_template("dev/mail.html", messages=messages, directory=directory)
