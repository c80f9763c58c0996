"""What the target sends: names, titles and subjects within Pipedrive's limits, and the activity
of a message, whose note carries the message id (the marker) so that a rerun, or a ledger that
lost it, recognises the activity as ours."""

from __future__ import annotations

import html
import re
from typing import Any

from .engagement import Counterpart
from .records import Message

# Pipedrive's limits. The OpenAPI description gives none for these fields: 255 characters is
# Pipedrive's documented limit of a text (varchar) field, ~100,000 characters or 100 KB that of a
# note; the note is kept under 100,000 bytes of UTF-8.
MAX_NAME = 255
MAX_NOTE_BYTES = 100_000
MARKER = re.compile(r"<p>Email id: (.*?)</p>")


def activity_body(message: Message, links: dict[str, Any], participants: list[Any]) -> dict:
    body: dict[str, Any] = {
        "subject": clip(message.subject, MAX_NAME),
        "type": "email",
        "done": True,
        "due_date": message.date.strftime("%Y-%m-%d"),
        "due_time": message.date.strftime("%H:%M"),
        "person_id": links["person_id"],
        "participants": [{"person_id": p, "primary": i == 0} for i, p in enumerate(participants)],
        "note": note(message),
    }
    for key in ("org_id", "deal_id", "lead_id"):
        if links.get(key):
            body[key] = links[key]
    return body


def marker(message: Message) -> str:
    """The message id inside the activity note: how a rerun recognises its own activity."""
    return f"<p>Email id: {html.escape(message.id)}</p>"


def message_id_in(text: Any) -> str | None:
    """The message id that `marker` put into an activity note, if there is one."""
    found = MARKER.search(text) if isinstance(text, str) else None
    return html.unescape(found.group(1)) if found else None


def note(message: Message) -> str:
    """The escaped snippet and the marker, under Pipedrive's note size; only the snippet is cut
    (the marker is how a rerun finds the activity), never inside an HTML entity."""
    mark = marker(message)
    room = MAX_NOTE_BYTES - len(f"<p>...</p>{mark}".encode())
    text = html.escape(message.snippet)
    if len(text.encode()) > room:
        text = text.encode()[:room].decode("utf-8", "ignore")
        text = re.sub(r"&[#\w]*$", "", text) + "..."
    return f"<p>{text}</p>{mark}"


def title(template: str, person: Counterpart, org_id: Any) -> str:
    """A Lead or Deal title from its template setting."""
    organization = person.domain if org_id else (person.name or person.email)
    text = template.format(
        organization=organization,
        person=person.name or person.email,
        email=person.email,
        domain=person.domain,
    )
    return clip(text, MAX_NAME)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters (Pipedrive refuses longer names, subjects and titles)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
