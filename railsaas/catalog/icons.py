"""Template logos: which icon values are safe to show.

A template's `icon` is either one of our own static files (`/static/...`) or an image on
https. Anything else (`javascript:`, `data:`, plain http, a URL with credentials, control
characters or quotes) is refused when an admin saves it (form and API), and guarded again when
rendered, so a row written before this rule existed shows the initials instead.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_LENGTH = 255
# Printable ASCII without quotes, angle brackets, backslash or spaces: nothing that could end
# an attribute or be read differently by a browser than by this check.
_SAFE_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_STATIC = re.compile(r"/static/[A-Za-z0-9\-_/]+\.(svg|png|webp|jpg|jpeg|gif)")

PROBLEM = "must be an https:// image URL (or one of our /static/ files)"


def icon_problem(value: str) -> str | None:
    """Why `value` is not an acceptable icon, or None when it is."""
    if len(value) > MAX_LENGTH or not _SAFE_CHARS.fullmatch(value):
        return PROBLEM
    if value.startswith("/"):
        return None if _STATIC.fullmatch(value) and ".." not in value else PROBLEM
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return PROBLEM
    return None


def safe_icon_url(value: str | None) -> str | None:
    """The icon to render, or None (show initials)."""
    if not value or not isinstance(value, str):
        return None
    return None if icon_problem(value) else value


def initials(name: str | None) -> str:
    """Up to two letters for a logo's fallback: "Uptime Kuma" -> "UK", "n8n" -> "N"."""
    words = [w for w in re.split(r"[\s\-_]+", name or "") if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"
