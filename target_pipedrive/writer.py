"""Turns a batch of messages or events into Pipedrive writes: the order of the steps, and what
the ledger records when each message is done. The steps themselves live elsewhere: start-up
checks in `setup`, finding persons and organizations in `lookup`, what a counterpart calls for in
`settle`, create-once in `once`, the custom person fields in `signals`, and what a new or behind
ledger takes from Pipedrive in `reconcile`.

A batch of messages is handled in four steps:

1. Engagement first, in memory: every new message is counted into its counterparts, so each
   counterpart is classified once, on where the whole batch leaves it. Someone who writes five
   times in one batch gets a Deal straight away, not a Lead that is converted four messages
   later.
2. Persons and organizations are found before they are made: from the ledger, else from one
   bulk listing when that costs fewer API tokens than searching one by one, else by exact
   search. Found ids are cached for the run and remembered in the ledger.
3. The organization, person and lead or deal each counterpart calls for are settled.
4. One activity per message, then, in one ledger transaction, the message's counters and its
   `done` mark. Custom person fields are updated at the end of the batch for the persons whose
   counters moved.

A write that Pipedrive refuses (a 4xx: the record, not the run, is wrong) rejects the message:
with `skip_rejected` it is recorded as `rejected` in the ledger with the error and the run goes
on; otherwise the run stops with one line naming the message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipedrive_client import PipedriveClient, PipedriveError

from .classify import Thresholds
from .dry_run import DryRun
from .engagement import (
    Counterpart,
    OwnSide,
    ThreadMemory,
    apply_event,
    apply_message,
    counterparts_of,
)
from .ledger import Ledger
from .lookup import Lookup
from .once import Once
from .reconcile import Reconciler
from .records import Event, Message
from .refused import Refused, RejectedMessage, unless_refused
from .settings import shipped_free_mail
from .settle import Settler
from .setup import FIELD_TYPES, Setup, set_up
from .signals import Signals

logger = logging.getLogger("target-pipedrive")

# Ledger statuses of a message that is settled: written, or refused by Pipedrive and recorded.
SETTLED = ("done", "rejected")


@dataclass(frozen=True)
class WriterSettings:
    """The settings the writer works by, read from the config (the SDK has filled in every
    default of the settings schema)."""

    own: OwnSide
    pipeline_name: str | None
    stage_name: str
    deal_title: str
    lead_title: str
    thresholds: Thresholds
    free_mail_domains: frozenset[str]
    field_names: dict[str, str]  # purpose -> name of the custom person field
    skip_rejected: bool  # a message whose write Pipedrive refuses is recorded, and the run goes on

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WriterSettings:
        own = OwnSide(
            emails=frozenset(e.lower() for e in config["own_emails"]),
            domains=frozenset(d.lower() for d in config["own_domains"]),
            ignore_patterns=tuple(config["ignore_patterns"]),
            ignore_emails=frozenset(e.lower() for e in config["ignore_emails"]),
        )
        if not own.emails and not own.domains:
            raise PipedriveError(
                "own_emails or own_domains is missing: the target must know "
                "which side of each message is ours."
            )
        return cls(
            own=own,
            pipeline_name=config.get("pipeline_name"),
            stage_name=config["stage_name"],
            deal_title=config["deal_title"],
            lead_title=config["lead_title"],
            thresholds=Thresholds(
                deal_messages=config["deal_min_messages"],
                deal_replies=config["deal_min_replies"],
                deal_meetings=config["deal_min_meetings"],
                lead_messages=config["lead_min_messages"],
                existing_person_deal_messages=config["existing_person_deal_messages"],
            ),
            free_mail_domains=shipped_free_mail()
            | {d.lower() for d in config["free_mail_domains"]},
            field_names={purpose: config[f"field_{purpose}"] for purpose in FIELD_TYPES},
            skip_rejected=config["on_invalid_record"] == "skip",
        )


@dataclass
class _Step:
    """One message of a batch, with the counters it leaves behind."""

    message: Message
    emails: list[str]
    people: dict[str, dict]
    thread: dict


class Writer:
    def __init__(
        self,
        client: PipedriveClient,
        ledger: Ledger,
        settings: WriterSettings,
        dry_run: DryRun | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.settings = settings
        self.dry_run = dry_run
        self.once = Once(ledger, dry_run)
        self.lookup = Lookup(client, ledger, settings.free_mail_domains)
        self.rejected: list[str] = []  # "id: error" of the messages refused this run

    @property
    def created(self) -> dict[str, int]:
        """What this run made, by kind."""
        return self.once.created

    @property
    def field_codes(self) -> dict[str, str]:
        return self.setup.field_codes

    def start(self) -> None:
        """Check the settings against Pipedrive (see `setup`); then the writer is ready."""
        self.setup: Setup = set_up(self.client, self.settings, self.dry_run)
        self.signals = Signals(
            self.client,
            self.ledger,
            self.setup.field_codes,
            dry_run=self.dry_run,
            skip_rejected=self.settings.skip_rejected,
            created=self.once.created,
        )
        self.reconciler = Reconciler(
            self.client, self.ledger, self.signals, dry_run=self.dry_run is not None
        )
        self.settler = Settler(
            self.client,
            self.ledger,
            self.settings,
            self.setup,
            lookup=self.lookup,
            once=self.once,
            signals=self.signals,
            reconciler=self.reconciler,
        )

    # -- messages -----------------------------------------------------------------------------

    def write_messages(self, messages: Iterable[Message]) -> None:
        unique = {m.id: m for m in messages}
        todo = [
            m
            for m in sorted(unique.values(), key=lambda m: (m.date, m.id))
            if self.ledger.message_status(m.id) not in SETTLED
        ]
        self.reconciler.reconcile(todo)
        steps, final = self._count(todo)
        self.lookup.preload(final)
        self.lookup.preload_open_deals(list(final))
        links: dict[str, dict[str, Any] | Refused] = {}
        for email, person in final.items():
            links[email] = unless_refused(lambda person=person: self.settler.settle(person))
        for step in steps:
            self._write_step(step, links)
        self.reconciler.mark_seen_from_own_writes()
        self.signals.flush()

    def _count(self, todo: list[Message]) -> tuple[list[_Step], dict[str, Counterpart]]:
        """Engagement of the batch, message by message, without writing anything."""
        people: dict[str, Counterpart] = {}
        threads: dict[str, ThreadMemory] = {}
        steps = []
        for message in todo:
            thread = threads.get(message.thread_id) or self.ledger.thread(message.thread_id)
            threads[message.thread_id] = thread
            for address in counterparts_of(message, self.settings.own)[1]:
                if address.email not in people:
                    people[address.email] = self.ledger.counterpart(address.email) or (
                        Counterpart(address.email, address.name)
                    )
            touched = apply_message(message, self.settings.own, people, thread)
            steps.append(
                _Step(
                    message,
                    [p.email for p in touched],
                    {p.email: p.to_json() for p in touched},
                    thread.to_json(),
                )
            )
        final = {email: people[email] for step in steps for email in step.emails}
        return steps, final

    def _write_step(self, step: _Step, links: dict[str, dict[str, Any] | Refused]) -> None:
        message = step.message
        activity_id = None
        refused = next((r for e in step.emails if isinstance(r := links[e], Refused)), None)
        if step.emails and refused is None:
            ok: list[dict[str, Any]] = [links[e] for e in step.emails]  # type: ignore[misc]
            result = unless_refused(lambda: self.settler.activity(message, ok))
            if isinstance(result, Refused):
                refused = result
            else:
                activity_id = result
        status, detail = "done", {"activity": activity_id, "counterparts": step.emails}
        if refused is not None:
            self._reject(message.id, refused)
            status, detail = "rejected", {"error": refused.error, "counterparts": step.emails}
        with self.ledger.transaction():
            for email, data in step.people.items():
                self.ledger.save_counterpart(Counterpart.from_json(data))
                self.ledger.save_object("dirty", email, message.id)
            self.ledger.save_thread(message.thread_id, ThreadMemory.from_json(step.thread))
            self.ledger.mark_message(message.id, status, detail)

    # -- events -------------------------------------------------------------------------------

    def write_events(self, events: Iterable[Event]) -> None:
        """Meetings count into the counterparts; those that now call for a Deal get one."""
        for event in {e.id: e for e in events}.values():
            key = f"event:{event.id}"
            if self.ledger.message_status(key) in SETTLED:
                continue
            people = {
                a.email: self.ledger.counterpart(a.email) or Counterpart(a.email, a.name)
                for a in event.participants
            }
            touched = apply_event(event, self.settings.own, people)
            self.lookup.preload({p.email: p for p in touched})
            refused = None
            for person in touched:
                result = unless_refused(lambda person=person: self.settler.settle(person))
                refused = refused or (result if isinstance(result, Refused) else None)
            status, detail = "done", None
            if refused is not None:
                self._reject(key, refused)
                status, detail = "rejected", {"error": refused.error}
            with self.ledger.transaction():
                for person in touched:
                    self.ledger.save_counterpart(person)
                    self.ledger.save_object("dirty", person.email, key)
                self.ledger.mark_message(key, status, detail)
        self.signals.flush()

    def _reject(self, record_id: str, refused: Refused) -> None:
        """Stop the run naming the record, or (skip_rejected) log it and go on."""
        if not self.settings.skip_rejected:
            raise RejectedMessage(record_id, refused.error)
        logger.warning("Rejected by Pipedrive (in the ledger): %r: %s", record_id, refused.error)
        self.rejected.append(f"{record_id!r}: {refused.error}")
