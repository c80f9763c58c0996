"""The input contract: one email message per record, and optional calendar events.

A record that breaks the contract raises InvalidRecord naming the record and the field, so a
user can find it in the source.
"""

from __future__ import annotations

import email.utils
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pendulum

EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ADDRESS_FIELDS = ("from", "to", "cc", "bcc", "reply_to")
# RFC 5322 caps a header line at 998 characters: a longer id is not a Message-ID.
MAX_ID_LENGTH = 998
# Email was born in 1971: an earlier date is a placeholder (0, -1), not when a message was sent.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
# Epoch numbers at or above this are milliseconds (as seconds they would be after the year 5000).
MILLISECONDS_FROM = 100_000_000_000
EPOCH = re.compile(r"^\d+(\.\d+)?$")
# RFC 2822 / 5322 date: [day-of-week,] day month year hh:mm[:ss] zone [(comment)]
RFC2822 = re.compile(
    r"^\s*(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"\s*(?P<zone>[+-]\d{4}|UT|GMT|[ECMP][SD]T|Z)?\s*(?:\(.*\))?\s*$"
)


class InvalidRecord(ValueError):
    def __init__(self, record_id: Any, field: str, problem: str) -> None:
        super().__init__(f"record {_shown(record_id)}: field '{field}' {problem}")
        self.record_id = record_id
        self.field = field


def _shown(value: Any) -> str:
    """A record id as an error names it: its repr, cut short when it is long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def repair_text(value: str) -> str:
    """Text as valid Unicode: a lone surrogate (half of an emoji cut in two) becomes U+FFFD,
    a surrogate pair becomes the character it encodes. Such text can not be sent as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]


@dataclass(frozen=True)
class Message:
    id: str
    thread_id: str
    subject: str
    snippet: str
    date: datetime
    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    in_reply_to: str | None

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc + self.bcc


@dataclass(frozen=True)
class Event:
    id: str
    title: str
    start: datetime
    participants: tuple[Address, ...]


def parse_time(value: Any, record_id: Any, field: str) -> datetime:
    """RFC 3339, RFC 2822 (the Date header) or a Unix epoch in seconds or milliseconds, as an
    aware UTC datetime. A time before 1971 (0, -1: placeholders) is refused."""
    if value is None or value == "":
        raise InvalidRecord(record_id, field, "is missing")
    try:
        when = _time(value)
    except (ValueError, TypeError, OverflowError, OSError, pendulum.parsing.exceptions.ParserError):
        when = None
    if when is None:
        raise InvalidRecord(record_id, field, f"is not a time: {_shown(value)}")
    if when.tzinfo is None:
        raise InvalidRecord(record_id, field, f"has no time zone: {_shown(value)}")
    if when < EARLIEST:
        raise InvalidRecord(
            record_id, field, f"is before 1971, not the date of an email: {_shown(value)}"
        )
    return when


def _time(value: Any) -> datetime | None:
    """The time `value` stands for (naive when it names no zone), or None."""
    if isinstance(value, datetime):  # the SDK parses a field its schema calls date-time
        return value if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    if isinstance(value, str):
        value = value.strip()
    if not isinstance(value, str) or EPOCH.match(value):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds <= 0:
            return None
        if seconds >= MILLISECONDS_FROM:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    if match := RFC2822.match(value):
        parts = email.utils.parsedate_tz(value)
        if parts is None:
            return None
        written = datetime(*parts[:6])  # a day or hour out of range raises here
        if not match.group("zone"):
            return written  # naive: the date names no zone
        return datetime.fromtimestamp(email.utils.mktime_tz(parts), UTC)
    parsed = pendulum.parse(value, tz=None)
    if not isinstance(parsed, datetime):
        return None
    if parsed.tzinfo is None:
        return parsed
    return datetime.fromtimestamp(parsed.timestamp(), UTC)


def parse_id(value: Any, record_id: Any, field: str, required: bool = False) -> str | None:
    """A message, thread or event id: text or a whole number, at most 998 characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRecord(None if field == "id" else record_id, field, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        kind = type(value).__name__
        raise InvalidRecord(record_id, field, f"must be text or a whole number, not a {kind}")
    text = repair_text(str(value))
    if len(text) > MAX_ID_LENGTH:
        raise InvalidRecord(
            record_id, field, f"is {len(text)} characters long (at most {MAX_ID_LENGTH})"
        )
    return text


def parse_text(value: Any, record_id: Any, field: str) -> str:
    """Free text (subject, snippet, a name): a string or a number; repaired to valid Unicode."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidRecord(record_id, field, f"must be text, not a {type(value).__name__}")
    return repair_text(str(value))


def parse_addresses(value: Any, record_id: Any, field: str) -> tuple[Address, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidRecord(record_id, field, "must be a list of {name, email}")
    out = []
    for item in value:
        address = (item.get("email") if isinstance(item, dict) else item) or ""
        if not isinstance(address, str):
            raise InvalidRecord(
                record_id, field, f"has an email that is not text: {_shown(address)}"
            )
        address = address.strip().lower()
        if not EMAIL.match(address) or repair_text(address) != address:
            raise InvalidRecord(
                record_id, field, f"has an invalid email address: {_shown(repair_text(address))}"
            )
        name = parse_text(item.get("name"), record_id, field) if isinstance(item, dict) else ""
        out.append(Address(name.strip(), address))
    return tuple(out)


def parse_message(record: dict[str, Any]) -> Message:
    record_id = record.get("id")
    message_id = parse_id(record_id, record_id, "id", required=True)
    assert message_id is not None
    senders = parse_addresses(record.get("from"), record_id, "from")
    if not senders:
        raise InvalidRecord(record_id, "from", "is missing")
    return Message(
        id=message_id,
        thread_id=parse_id(record.get("thread_id"), record_id, "thread_id") or message_id,
        subject=parse_text(record.get("subject"), record_id, "subject") or "(no subject)",
        snippet=parse_text(record.get("snippet"), record_id, "snippet"),
        date=parse_time(record.get("date"), record_id, "date"),
        sender=senders[0],
        to=parse_addresses(record.get("to"), record_id, "to"),
        cc=parse_addresses(record.get("cc"), record_id, "cc"),
        bcc=parse_addresses(record.get("bcc"), record_id, "bcc"),
        reply_to=parse_addresses(record.get("reply_to"), record_id, "reply_to"),
        in_reply_to=parse_id(record.get("in_reply_to"), record_id, "in_reply_to"),
    )


def parse_event(record: dict[str, Any]) -> Event:
    record_id = record.get("id")
    event_id = parse_id(record_id, record_id, "id", required=True)
    assert event_id is not None
    return Event(
        id=event_id,
        title=parse_text(record.get("title"), record_id, "title"),
        start=parse_time(record.get("start"), record_id, "start"),
        participants=parse_addresses(record.get("participants"), record_id, "participants"),
    )
