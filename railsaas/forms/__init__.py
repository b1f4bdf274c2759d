"""flask-wtf forms, one module per area, and helpers shared by their views."""

from __future__ import annotations

from flask_wtf import FlaskForm

from railsaas.errors import ServiceError


def apply_errors(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's refusal on the form: each `details` entry under its field, the rest
    (or a bare message) above the form."""
    details = exc.details if isinstance(exc.details, dict) else {}
    placed = False
    for name, message in details.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, str(message)]
            placed = True
    if not placed:
        form.form_errors.append(exc.message)
