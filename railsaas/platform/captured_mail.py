"""Reading the mail the development SMTP sink captured (devtools.devmail writes one .eml
file per message into MAIL_CAPTURE_DIR): the `/dev/mail` page lists it, so a verification
or reset link can be clicked without a real mailbox. Standard library only: production
carries this reader, never the sink.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

LINK = re.compile(r"https?://[^\s<>\"']+")


def read_messages(directory: str | Path) -> list[EmailMessage]:
    """Captured messages, oldest first."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(path.glob("*.eml"))
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def links_in(message: EmailMessage) -> list[str]:
    return LINK.findall(text_of(message))


def split_links(text: str) -> list[tuple[str, bool]]:
    """Text cut into (piece, is_link) so a template can make links clickable safely."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in LINK.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], False))
        parts.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], False))
    return parts
