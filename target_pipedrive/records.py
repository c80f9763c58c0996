"""The input contract: one email message per record, and optional calendar events.

A record that breaks the contract raises InvalidRecord naming the record and the field, so a
user can find it in the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pendulum

EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ADDRESS_FIELDS = ("from", "to", "cc", "bcc", "reply_to")


class InvalidRecord(ValueError):
    def __init__(self, record_id: Any, field: str, problem: str) -> None:
        super().__init__(f"record {record_id!r}: field '{field}' {problem}")
        self.record_id = record_id
        self.field = field


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
    """RFC 3339 or Unix seconds, as an aware UTC datetime."""
    if isinstance(value, bool) or value in (None, ""):
        raise InvalidRecord(record_id, field, "is missing")
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = pendulum.parse(str(value), tz=None)
    except (ValueError, TypeError, OverflowError, pendulum.parsing.exceptions.ParserError):
        raise InvalidRecord(record_id, field, f"is not a time: {value!r}") from None
    if not isinstance(parsed, datetime):
        raise InvalidRecord(record_id, field, f"is not a time: {value!r}")
    if parsed.tzinfo is None:
        raise InvalidRecord(record_id, field, f"has no time zone: {value!r}")
    return datetime.fromtimestamp(parsed.timestamp(), UTC)


def parse_addresses(value: Any, record_id: Any, field: str) -> tuple[Address, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidRecord(record_id, field, "must be a list of {name, email}")
    out = []
    for item in value:
        email = (item.get("email") if isinstance(item, dict) else item) or ""
        email = str(email).strip().lower()
        if not EMAIL.match(email):
            raise InvalidRecord(record_id, field, f"has an invalid email address: {email!r}")
        name = str(item.get("name") or "").strip() if isinstance(item, dict) else ""
        out.append(Address(name, email))
    return tuple(out)


def parse_message(record: dict[str, Any]) -> Message:
    record_id = record.get("id")
    if record_id in (None, ""):
        raise InvalidRecord(None, "id", "is missing")
    senders = parse_addresses(record.get("from"), record_id, "from")
    if not senders:
        raise InvalidRecord(record_id, "from", "is missing")
    return Message(
        id=str(record_id),
        thread_id=str(record.get("thread_id") or record_id),
        subject=str(record.get("subject") or "(no subject)"),
        snippet=str(record.get("snippet") or ""),
        date=parse_time(record.get("date"), record_id, "date"),
        sender=senders[0],
        to=parse_addresses(record.get("to"), record_id, "to"),
        cc=parse_addresses(record.get("cc"), record_id, "cc"),
        bcc=parse_addresses(record.get("bcc"), record_id, "bcc"),
        reply_to=parse_addresses(record.get("reply_to"), record_id, "reply_to"),
        in_reply_to=str(record["in_reply_to"]) if record.get("in_reply_to") else None,
    )


def parse_event(record: dict[str, Any]) -> Event:
    record_id = record.get("id")
    if record_id in (None, ""):
        raise InvalidRecord(None, "id", "is missing")
    return Event(
        id=str(record_id),
        title=str(record.get("title") or ""),
        start=parse_time(record.get("start"), record_id, "start"),
        participants=parse_addresses(record.get("participants"), record_id, "participants"),
    )
