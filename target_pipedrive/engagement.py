"""Per-counterpart engagement: messages, threads, replies, meetings, last contact and average
response hours. Counts accumulate across runs; a message id is counted once, ever (the ledger
remembers which ones were seen)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .records import Address, Event, Message

# Automated senders never become contacts.
AUTOMATED_LOCAL_PARTS = (
    "no-reply",
    "noreply",
    "do-not-reply",
    "donotreply",
    "mailer-daemon",
    "postmaster",
    "notifications",
    "notification",
    "bounce",
    "bounces",
)


@dataclass
class Counterpart:
    email: str
    name: str = ""
    messages: int = 0
    threads: set[str] = field(default_factory=set)
    replies: int = 0
    meetings: int = 0
    last_contact: str | None = None  # RFC 3339 UTC
    response_hours_total: float = 0.0
    responses: int = 0

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]

    @property
    def average_response_hours(self) -> float | None:
        return round(self.response_hours_total / self.responses, 2) if self.responses else None

    def touch(self, when: datetime) -> None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.last_contact is None or stamp > self.last_contact:
            self.last_contact = stamp

    def to_json(self) -> dict:
        return {**self.__dict__, "threads": sorted(self.threads)}

    @classmethod
    def from_json(cls, data: dict) -> Counterpart:
        return cls(**{**data, "threads": set(data.get("threads", []))})


@dataclass
class OwnSide:
    emails: frozenset[str]
    domains: frozenset[str]
    ignore_patterns: tuple[str, ...] = AUTOMATED_LOCAL_PARTS
    ignore_emails: frozenset[str] = frozenset()

    def is_ours(self, address: Address) -> bool:
        return address.email in self.emails or address.domain in self.domains

    def is_ignored(self, address: Address) -> bool:
        local = address.email.split("@", 1)[0]
        return address.email in self.ignore_emails or any(p in local for p in self.ignore_patterns)


@dataclass
class ThreadMemory:
    """What we need to know about a thread to spot replies: when we last wrote in it, the ids of
    our messages (for in_reply_to), and whom we wrote to and still wait for."""

    last_ours: str | None = None
    our_ids: set[str] = field(default_factory=set)
    awaiting: set[str] = field(default_factory=set)

    def to_json(self) -> dict:
        return {
            "last_ours": self.last_ours,
            "our_ids": sorted(self.our_ids),
            "awaiting": sorted(self.awaiting),
        }

    @classmethod
    def from_json(cls, data: dict) -> ThreadMemory:
        return cls(
            last_ours=data.get("last_ours"),
            our_ids=set(data.get("our_ids", [])),
            awaiting=set(data.get("awaiting", [])),
        )


def counterparts_of(message: Message, own: OwnSide) -> tuple[bool, list[Address]]:
    """(outbound?, the other side): the sender of an inbound message, the recipients of an
    outbound one; never ourselves, never automated senders."""
    outbound = own.is_ours(message.sender)
    people = message.recipients if outbound else (message.sender,)
    seen, out = set(), []
    for person in people:
        if own.is_ours(person) or own.is_ignored(person) or person.email in seen:
            continue
        seen.add(person.email)
        out.append(person)
    return outbound, out


def apply_message(
    message: Message, own: OwnSide, people: dict[str, Counterpart], thread: ThreadMemory
) -> list[Counterpart]:
    """Count one (new) message into the counterparts it involves; return them."""
    outbound, others = counterparts_of(message, own)
    stamp = message.date.strftime("%Y-%m-%dT%H:%M:%SZ")
    touched = []
    for address in others:
        person = people.setdefault(address.email, Counterpart(address.email, address.name))
        person.name = person.name or address.name
        person.messages += 1
        person.threads.add(message.thread_id)
        person.touch(message.date)
        if not outbound:
            by_header = message.in_reply_to is not None and message.in_reply_to in thread.our_ids
            # their message after ours in a thread where we wrote to them and wait for an answer
            in_turn = (
                address.email in thread.awaiting
                and thread.last_ours is not None
                and thread.last_ours <= stamp
            )
            if by_header or in_turn:
                person.replies += 1
            if in_turn and thread.last_ours is not None:
                ours = datetime.strptime(thread.last_ours, "%Y-%m-%dT%H:%M:%SZ")
                hours = (message.date.replace(tzinfo=None) - ours).total_seconds() / 3600
                person.response_hours_total += hours
                person.responses += 1
                thread.awaiting.discard(address.email)
        touched.append(person)
    if outbound:
        thread.our_ids.add(message.id)
        if thread.last_ours is None or stamp > thread.last_ours:
            thread.last_ours = stamp
        thread.awaiting = {a.email for a in others}
    return touched


def apply_event(event: Event, own: OwnSide, people: dict[str, Counterpart]) -> list[Counterpart]:
    touched = []
    for address in event.participants:
        if own.is_ours(address) or own.is_ignored(address):
            continue
        person = people.setdefault(address.email, Counterpart(address.email, address.name))
        person.meetings += 1
        person.touch(event.start)
        touched.append(person)
    return touched
