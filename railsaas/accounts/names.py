"""Names people type for themselves, their workspaces and their tokens: white space folds to
single spaces, and an empty or over-long name is refused with a message for its field."""

from __future__ import annotations

from typing import Any

from railsaas.errors import ValidationFailed


def clean_display_name(raw: Any, *, max_len: int, empty: str, field: str = "name") -> str:
    name = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not name:
        raise ValidationFailed(empty, details={field: empty})
    if len(name) > max_len:
        message = f"Use at most {max_len} characters."
        raise ValidationFailed(message, details={field: message})
    return name
