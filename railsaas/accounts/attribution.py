"""Where a sign-up came from: the utm_source / utm_medium / utm_campaign of the first page a
visitor opened (first touch), kept in their session until they register, then stored on the
new user and their personal workspace. The workspace's source is its acquisition channel,
which reporting.business compares with the admins' acquisition spend to compute CAC.

Values are tracking data from anyone's URL: never an error, only cleaned. Control characters
and anything outside a plain set are dropped, sources and mediums are lower-cased (so
"Google" and "google" are one channel), and each is cut to 100 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FIELDS = ("utm_source", "utm_medium", "utm_campaign")
MAX_LENGTH = 100
# What a channel may be made of (acquisition spend is entered under the same names).
CHANNEL_CHARS = re.compile(r"[^a-z0-9 ._+\-]")
_CAMPAIGN_CHARS = re.compile(r"[^A-Za-z0-9 ._+\-/:]")


def normalize_channel(value: Any) -> str | None:
    """A source or medium as stored and compared: lower-case, plain characters, trimmed."""
    if not isinstance(value, str):
        return None
    cleaned = CHANNEL_CHARS.sub("", value.strip().lower())
    cleaned = " ".join(cleaned.split())[:MAX_LENGTH].strip()
    return cleaned or None


def _campaign(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = " ".join(_CAMPAIGN_CHARS.sub("", value).split())[:MAX_LENGTH].strip()
    return cleaned or None


def clean(values: Mapping[str, Any] | None) -> dict[str, str]:
    """The UTM fields worth keeping from `values` (a query string, a session, an API body);
    empty when there are none."""
    if not values:
        return {}
    out = {
        "utm_source": normalize_channel(values.get("utm_source")),
        "utm_medium": normalize_channel(values.get("utm_medium")),
        "utm_campaign": _campaign(values.get("utm_campaign")),
    }
    return {k: v for k, v in out.items() if v}


def first_touch(kept: Mapping[str, Any] | None, incoming: Mapping[str, Any]) -> dict | None:
    """What the session should keep: nothing new once a first touch is kept, else the
    incoming request's UTM fields (None when there is nothing to change)."""
    if kept:
        return None
    found = clean(incoming)
    return found or None


def apply(row: Any, utm: Mapping[str, Any] | None) -> None:
    """Set the cleaned UTM fields on a user or workspace."""
    for key, value in clean(utm).items():
        setattr(row, key, value)
