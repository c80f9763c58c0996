"""Turns engagement decisions into Pipedrive writes through the shared client.

A batch is handled in four steps:

1. Engagement first, in memory: every new message is counted into its counterparts, so each
   counterpart is classified once, on where the whole batch leaves it. Someone who writes five
   times in one batch gets a Deal straight away, not a Lead that is converted four messages
   later.
2. Persons and organizations are found before they are made: from the ledger, else from one
   bulk listing when that costs fewer API tokens than searching one by one, else by exact
   search. Found ids are cached for the run and remembered in the ledger.
3. The organization, person and lead or deal each counterpart calls for are settled; a Lead
   that crosses the deal threshold is converted through the API, never doubled by a new Deal.
4. One activity per message, then, in one ledger transaction, the message's counters and its
   `done` mark. Custom person fields are updated at the end of the batch for the persons whose
   counters moved (remembered as dirty in the ledger, so a crash does not lose the update).

Every create goes through `_create_once`: a `pending` mark is written first, so a run that died
after the POST looks the object up instead of making a second one. A POST whose outcome is
unknown (`WriteOutcomeUnknown`) is looked up and written again only if it is not there (at most
three tries; then the run stops and the pending mark makes the next run look first).

A ledger that is new (a lost file, a fresh container) or behind (runs it has no record of) does
not double anything: when a batch holds messages the ledger does not know, the email activities
of the token's user are listed once per run (all of them for a new ledger, those updated since
the last listing otherwise) and the message id in each note is taken into the ledger, so a
message Pipedrive already has is not written again. The custom person fields are counters that
never go down: what Pipedrive shows for a person the ledger did not know (or that a run unknown
to the ledger touched) is kept as a floor, and the values written are at least that.

A write that Pipedrive refuses (a 4xx: the record, not the run, is wrong) rejects the message:
with `skip_rejected` it is recorded as `rejected` in the ledger with the error and the run goes
on; otherwise the run stops with one line naming the message.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipedrive_client import (
    ApiError,
    ConfigError,
    NotFoundError,
    Page,
    PipedriveClient,
    PipedriveError,
    WriteOutcomeUnknown,
)

from .classify import Outcome, Thresholds, classify
from .dry_run import DryRun
from .engagement import Counterpart, OwnSide, ThreadMemory, apply_event, apply_message
from .ledger import Ledger
from .records import Event, Message
from .settings import shipped_free_mail

logger = logging.getLogger("target-pipedrive")

# Token costs that decide between listing and searching: one search, one 500-record page.
SEARCH_TOKENS, LIST_PAGE_TOKENS = 20, 10
# A create whose outcome stays unknown: look it up and write it again at most this many times.
UNSURE_WRITE_ATTEMPTS = 3
# Answers that refuse the record itself (bad or stale values), not the run (401, 403, 429, 5xx).
REFUSED = frozenset({400, 404, 409, 410, 413, 422})
# Pipedrive's limits. The OpenAPI description gives none for these fields: 255 characters is
# Pipedrive's documented limit of a text (varchar) field, ~100,000 characters or 100 KB that of a
# note; the note is kept under 100,000 bytes of UTF-8.
MAX_NAME = 255
MAX_NOTE_BYTES = 100_000
# The listing of our activities re-reads this far before its last mark (late writes, clocks).
SEEN_OVERLAP = timedelta(minutes=1)
MARKER = re.compile(r"<p>Email id: (.*?)</p>")
# Persons whose fields are read one by one up to this many; more are read 100 to a page.
PERSON_GETS = 10
# Ledger statuses of a message that is settled: written, or refused by Pipedrive and recorded.
SETTLED = ("done", "rejected")
FIELD_TYPES = {"thread_count": "double", "last_contact": "date", "avg_response_hours": "double"}


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


class RejectedMessage(PipedriveError):
    """Pipedrive refused a write that a message needs (on_invalid_record: fail)."""

    def __init__(self, message_id: str, error: str) -> None:
        super().__init__(
            f"message {message_id!r} was refused by Pipedrive: {error} Set on_invalid_record: "
            "skip to record such a message as rejected in the ledger and go on."
        )
        self.message_id = message_id


@dataclass(frozen=True)
class Refused:
    """A counterpart whose organization, person, lead or deal Pipedrive refused to write."""

    error: str


@dataclass(frozen=True)
class PersonRef:
    id: Any
    existing: bool  # in Pipedrive before this target saw the address
    org_id: Any | None


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
        self.pipeline_id: Any = None
        self.stage_id: Any = None
        self.field_codes: dict[str, str] = {}
        self._open_deals: dict[str, Any] = {}
        self._persons_by_email: dict[str, dict] = {}
        self._orgs_by_domain: dict[str, Any] = {}
        self._listed: set[str] = set()  # kinds listed in full this run: a miss is a miss
        self._reconciled = False  # our activities were listed this run
        self._owner: Any = None  # the token's user, owner of the activities we make
        self._first_made: str | None = None  # update_time of the first activity made this run
        self._our_leads: dict[str, Any] = {}  # person id -> the Lead our activities link to
        self.rejected: list[str] = []  # "id: error" of the messages refused this run
        self.created: dict[str, int] = dict.fromkeys(
            ("organization", "person", "lead", "deal", "conversion", "activity", "person_update"),
            0,
        )

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Look up the pipeline and stage by name; find the custom person fields by name and
        create the missing ones."""
        for setting in ("deal_title", "lead_title"):
            template = getattr(self.settings, setting)
            try:
                template.format(organization="o", person="p", email="e", domain="d")
            except (KeyError, IndexError, ValueError) as error:
                raise ConfigError(
                    f"{setting} '{template}' is not a valid template ({error!r}): use "
                    "{organization}, {person}, {email} and {domain}."
                ) from None
        pipelines = list(self._records("pipelines"))
        stages = list(self._records("stages"))
        by_pipeline = {
            p["id"]: [s for s in stages if s["pipeline_id"] == p["id"]] for p in pipelines
        }
        wanted = self.settings.pipeline_name
        if wanted and not any(p["name"] == wanted for p in pipelines):
            raise ConfigError(
                f"pipeline '{wanted}' not found (setting pipeline_name). Pipelines: "
                f"{', '.join(repr(p['name']) for p in pipelines) or 'none'}."
            )
        for pipeline in pipelines:
            if wanted and pipeline["name"] != wanted:
                continue
            stage = next(
                (s for s in by_pipeline[pipeline["id"]] if s["name"] == self.settings.stage_name),
                None,
            )
            if stage:
                self.pipeline_id, self.stage_id = pipeline["id"], stage["id"]
                break
        if self.stage_id is None:
            existing = "; ".join(
                f"{p['name']}: {', '.join(s['name'] for s in by_pipeline[p['id']])}"
                for p in pipelines
                if not wanted or p["name"] == wanted
            )
            where = f"pipeline '{wanted}'" if wanted else "any pipeline"
            raise ConfigError(
                f"stage '{self.settings.stage_name}' not found in {where} (setting stage_name). "
                f"Stages by pipeline: {existing or 'none'}."
            )
        fields = {f["field_name"]: f["field_code"] for f in self._records("personFields")}
        for purpose, name in self.settings.field_names.items():
            if name in fields:
                self.field_codes[purpose] = fields[name]
            elif self.dry_run:
                self.field_codes[purpose] = self.dry_run.intend(
                    "create_person_field", name=name, field_type=FIELD_TYPES[purpose]
                )
            else:
                self.field_codes[purpose] = self._create_person_field(name, FIELD_TYPES[purpose])
                logger.info("Created the custom person field '%s'.", name)

    def _create_person_field(self, name: str, field_type: str) -> str:
        for attempt in range(1, UNSURE_WRITE_ATTEMPTS + 1):
            try:
                return self.client.create_person_field(name, field_type)["field_code"]
            except WriteOutcomeUnknown:
                if attempt == UNSURE_WRITE_ATTEMPTS:
                    raise
                for existing in self._records("personFields"):
                    if existing["field_name"] == name:
                        return existing["field_code"]
        raise AssertionError("unreachable")

    # -- messages -----------------------------------------------------------------------------

    def write_messages(self, messages: Iterable[Message]) -> None:
        unique = {m.id: m for m in messages}
        todo = [
            m
            for m in sorted(unique.values(), key=lambda m: (m.date, m.id))
            if self.ledger.message_status(m.id) not in SETTLED
        ]
        self._reconcile_activities(todo)
        steps, final = self._count(todo)
        self._preload(final)
        self._preload_open_deals(list(final))
        links: dict[str, dict[str, Any] | Refused] = {}
        for email, person in final.items():
            links[email] = self._unless_refused(lambda person=person: self._settle(person))
        for step in steps:
            self._write_step(step, links)
        self._mark_seen_from_own_writes()
        self.flush_signals()

    def _count(self, todo: list[Message]) -> tuple[list[_Step], dict[str, Counterpart]]:
        """Engagement of the batch, message by message, without writing anything."""
        people: dict[str, Counterpart] = {}
        threads: dict[str, ThreadMemory] = {}
        steps = []
        for message in todo:
            thread = threads.get(message.thread_id) or self.ledger.thread(message.thread_id)
            threads[message.thread_id] = thread
            for address in _others(message, self.settings.own):
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
            first = ok[0]
            participants = list(dict.fromkeys(link["person_id"] for link in ok))
            body = _activity_body(message, first, participants)
            result = self._unless_refused(
                lambda: self._create_once(
                    "activity",
                    message.id,
                    body,
                    lambda: self._made_activity(self.client.create_activity(**body)),
                    lambda: self._find_activity(message, first["person_id"]),
                )
            )
            if isinstance(result, Refused):
                refused = result
            else:
                activity_id = result
        status, detail = "done", {"activity": activity_id, "counterparts": step.emails}
        if refused is not None:
            if not self.settings.skip_rejected:
                raise RejectedMessage(message.id, refused.error)
            status, detail = "rejected", {"error": refused.error, "counterparts": step.emails}
            self._reject(message.id, refused)
        with self.ledger.transaction():
            for email, data in step.people.items():
                self.ledger.save_counterpart(Counterpart.from_json(data))
                self.ledger.save_object("dirty", email, message.id)
            self.ledger.save_thread(message.thread_id, ThreadMemory.from_json(step.thread))
            self.ledger.mark_message(message.id, status, detail)

    def _unless_refused(self, write: Callable[[], Any]) -> Any:
        """The result of `write`, or Refused when Pipedrive refuses the record (a 4xx)."""
        try:
            return write()
        except ApiError as error:
            if error.status not in REFUSED or isinstance(error, WriteOutcomeUnknown):
                raise
            return Refused(str(error))

    def _reject(self, record_id: str, refused: Refused) -> None:
        logger.warning("Rejected by Pipedrive (in the ledger): %r: %s", record_id, refused.error)
        self.rejected.append(f"{record_id!r}: {refused.error}")

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
            self._preload({p.email: p for p in touched})
            refused = None
            for person in touched:
                result = self._unless_refused(lambda person=person: self._settle(person))
                refused = refused or (result if isinstance(result, Refused) else None)
            status, detail = "done", None
            if refused is not None:
                if not self.settings.skip_rejected:
                    raise RejectedMessage(key, refused.error)
                status, detail = "rejected", {"error": refused.error}
                self._reject(key, refused)
            with self.ledger.transaction():
                for person in touched:
                    self.ledger.save_counterpart(person)
                    self.ledger.save_object("dirty", person.email, key)
                self.ledger.mark_message(key, status, detail)
        self.flush_signals()

    # -- settling a counterpart ---------------------------------------------------------------

    def _settle(self, person: Counterpart) -> dict[str, Any]:
        """Make sure the organization, person and lead or deal that this engagement calls for
        exist; return the ids an activity links to."""
        ref = self._person(person)
        deal_id = self._ledger_id("deal", person.email)
        lead_id = self._ledger_id("lead", person.email)
        open_deal = self._open_deal(ref.id) if ref.existing and not deal_id else None
        outcome = classify(
            person, self.settings.thresholds, ref.existing, bool(deal_id or open_deal)
        )
        if outcome is Outcome.DEAL and not deal_id:
            deal_id = self._deal(person, ref, lead_id)
        elif outcome is Outcome.LEAD and not deal_id and not lead_id:
            lead_id = self._lead(person, ref)
        deal_id = deal_id or open_deal
        return {
            "person_id": ref.id,
            "org_id": ref.org_id,
            "deal_id": deal_id,
            "lead_id": None if deal_id else lead_id,
        }

    def _person(self, person: Counterpart) -> PersonRef:
        email = person.email
        known = self._ledger_id("person", email)
        if known:
            return PersonRef(
                known,
                self.ledger.object_id("person_existing", email) == "1",
                self._ledger_id("person_org", email),
            )
        # A pending mark means a run of ours asked for this person: found now, it is still ours
        # (not a person that was in Pipedrive before), so the create path below looks it up.
        found = None if self.ledger.object_id("pending:person", email) else self._find_person(email)
        if found:
            org_id = _org_of(found) or self._organization(person.domain)
            # What Pipedrive shows in our fields (a run the ledger lost may have written them)
            # is a floor: the counters written for this person never go below it.
            self._raise_floor(email, self._with_fields(found))
            with self.ledger.transaction():
                lead = self._our_leads.get(str(found["id"]))
                if lead and not self.ledger.object_id("lead", email):
                    # our activities link this person to a Lead of ours (a ledger lost it): it
                    # is kept, and converted at the deal threshold rather than doubled by a Deal
                    self.ledger.save_object("lead", email, lead)
                self.ledger.save_object("person", email, found["id"])
                self.ledger.save_object("person_existing", email, "1")
                self.ledger.save_object("person_org", email, org_id or "")
            return PersonRef(found["id"], True, org_id)
        org_id = self._organization(person.domain)
        signals = self._signal_values(person)
        body: dict[str, Any] = {
            "name": _clip(person.name or email, MAX_NAME),
            "emails": [{"value": email, "primary": True, "label": "work"}],
            "custom_fields": signals,  # written with the person: no update needed this run
        }
        if org_id:
            body["org_id"] = org_id

        def create() -> Any:
            made = self.client.add_person(**body)
            self._persons_by_email[email] = made
            return made["id"]

        def find() -> Any:
            hit = self._search_person(email)
            return hit["id"] if hit else None

        person_id = self._create_once("person", email, body, create, find)
        with self.ledger.transaction():
            self.ledger.save_object("person_org", email, org_id or "")
            self.ledger.save_object("signals", email, json.dumps(signals, sort_keys=True))
        return PersonRef(person_id, False, org_id)

    def _organization(self, domain: str) -> Any:
        if domain in self.settings.free_mail_domains:
            return None
        known = self._ledger_id("organization", domain)
        if known:
            return known
        found = self._find_organization(domain)
        if found:
            self.ledger.save_object("organization", domain, found)
            return found
        body = {"name": domain}
        return self._create_once(
            "organization",
            domain,
            body,
            lambda: self.client.create_organization(**body)["id"],
            lambda: self._search_organization(domain),
        )

    def _lead(self, person: Counterpart, ref: PersonRef) -> Any:
        body: dict[str, Any] = {
            "title": self._title(self.settings.lead_title, person, ref.org_id),
            "person_id": ref.id,
        }
        if ref.org_id:
            body["organization_id"] = ref.org_id

        def find() -> Any:
            for lead in self.client.v1_list("/api/v1/leads", person_id=ref.id):
                if lead.get("person_id") == ref.id and lead.get("title") == body["title"]:
                    return lead["id"]
            return None

        return self._create_once(
            "lead", person.email, body, lambda: self.client.create_lead(**body)["id"], find
        )

    def _deal(self, person: Counterpart, ref: PersonRef, lead_id: Any) -> Any:
        title = self._title(self.settings.deal_title, person, ref.org_id)
        stage = {"pipeline_id": self.pipeline_id, "stage_id": self.stage_id}
        body: dict[str, Any] = {"title": title, "person_id": ref.id, **stage}
        if ref.org_id:
            body["org_id"] = ref.org_id

        def find() -> Any:
            for deal in self._records("deals", person_id=ref.id):
                if (lead_id and deal.get("source_lead_id") == lead_id) or deal.get(
                    "title"
                ) == title:
                    return deal["id"]
            return None

        if lead_id:
            # The Lead becomes the Deal: Pipedrive's conversion keeps its history in one record.
            def convert() -> Any:
                try:
                    deal_id = self.client.convert_lead_to_deal(str(lead_id), **stage)
                except NotFoundError:
                    # Converted by a run that died before remembering it, or deleted by a user.
                    deal_id = find() or self.client.create_deal(**body)["id"]
                self.created["conversion"] += 1
                return deal_id

            operation: dict[str, Any] = {"convert_lead": lead_id, **stage}
            deal_id = self._create_once("deal", person.email, operation, convert, find)
        else:
            deal_id = self._create_once(
                "deal", person.email, body, lambda: self.client.create_deal(**body)["id"], find
            )
        self._open_deals[str(ref.id)] = deal_id
        return deal_id

    def _open_deal(self, person_id: Any) -> Any:
        """The id of an open deal of an existing person, if there is one (cached for the run)."""
        key = str(person_id)
        if key not in self._open_deals:
            self._open_deals[key] = next(
                (d["id"] for d in self._records("deals", person_id=person_id, status="open")),
                None,
            )
        return self._open_deals[key]

    def _title(self, template: str, person: Counterpart, org_id: Any) -> str:
        organization = person.domain if org_id else (person.name or person.email)
        title = template.format(
            organization=organization,
            person=person.name or person.email,
            email=person.email,
            domain=person.domain,
        )
        return _clip(title, MAX_NAME)

    def _find_activity(self, message: Message, person_id: Any) -> Any:
        marker = _marker(message)
        for activity in self._records("activities", person_id=person_id):
            if marker in (activity.get("note") or ""):
                return activity["id"]
        return None

    # -- custom person fields -----------------------------------------------------------------

    def flush_signals(self) -> None:
        """Write the custom person fields of every person whose counters moved."""
        for email, last_record in self.ledger.objects("dirty"):
            person = self.ledger.counterpart(email)
            person_id = self._ledger_id("person", email)
            if person is None or not person_id:
                self.ledger.forget_object("dirty", email)
                continue
            values = self._signal_values(person)
            written = json.dumps(values, sort_keys=True)
            if self.ledger.object_id("signals", email) != written:
                if self.dry_run:
                    self.dry_run.intend("update_person", person_id=person_id, custom_fields=values)
                else:
                    result = self._unless_refused(
                        lambda person_id=person_id, values=values: self.client.update_person(
                            person_id, custom_fields=values
                        )
                    )
                    if isinstance(result, Refused):
                        # A person deleted in Pipedrive (and purged) keeps no counters.
                        error = f"the email counters of person {person_id}: {result.error}"
                        if not self.settings.skip_rejected:
                            # (a ledger from before this mark names no record: "1")
                            raise RejectedMessage(last_record if last_record != "1" else "?", error)
                        logger.warning("Pipedrive refused %s", error)
                        written = f"refused: {result.error}"
                    else:
                        self.created["person_update"] += 1
            with self.ledger.transaction():
                self.ledger.save_object("signals", email, written)
                self.ledger.forget_object("dirty", email)

    def _signal_values(self, person: Counterpart) -> dict[str, Any]:
        """The custom field values of a person: the ledger's counters, never below the floor
        that Pipedrive showed (a lost ledger starts counting again from nothing)."""
        floor = json.loads(self.ledger.object_id("signal_floor", person.email) or "{}")
        mine = {
            "thread_count": len(person.threads),
            "last_contact": (person.last_contact or "")[:10] or None,
            "avg_response_hours": person.average_response_hours,
        }
        return {self.field_codes[k]: _at_least(v, floor.get(k)) for k, v in mine.items()}

    def _with_fields(self, record: dict) -> dict:
        """A person record with its custom field values (a search hit has only their names)."""
        if isinstance(record.get("custom_fields"), dict):
            return record
        return self.client.get_person(record["id"])

    def _raise_floor(self, email: str, record: dict) -> None:
        """Keep what Pipedrive shows in our fields of a person as the floor of its counters, and
        as what is written there (so an unchanged value is not written again)."""
        shown = record.get("custom_fields") or {}
        old = json.loads(self.ledger.object_id("signal_floor", email) or "{}")
        floor = {
            purpose: _at_least(_field_value(purpose, shown.get(code)), old.get(purpose))
            for purpose, code in self.field_codes.items()
        }
        current = {
            code: _field_value(purpose, shown.get(code))
            for purpose, code in self.field_codes.items()
        }
        with self.ledger.transaction():
            self.ledger.save_object("signal_floor", email, json.dumps(floor, sort_keys=True))
            self.ledger.save_object("signals", email, json.dumps(current, sort_keys=True))

    # -- activities the ledger does not know ----------------------------------------------------

    def _reconcile_activities(self, todo: list[Message]) -> None:
        """Once per run, when the batch holds messages the ledger has no activity for: list the
        activities of the token's user (all of them for a ledger that never listed them, else
        those updated since the last listing) and take the message id of each of ours into the
        ledger. A message that Pipedrive already has is then not written again, whether the
        ledger was lost or a run it has no record of wrote it."""
        if self._reconciled or all(self.ledger.object_id("activity", m.id) for m in todo):
            return
        self._reconciled = True
        self._owner = self.client.current_user()["id"]
        since = self.ledger.object_id("activities_seen", str(self._owner))
        params: dict[str, Any] = {"owner_id": self._owner}
        if since:
            params["updated_since"] = since
        latest, taken, touched = None, 0, set()
        for page in self._pages("activities", **params):
            with self.ledger.transaction():
                for activity in page.records:
                    stamp = activity.get("update_time")
                    if stamp and (latest is None or stamp > latest):
                        latest = stamp
                    message_id = _message_id_in(activity.get("note"))
                    if message_id is None:
                        continue
                    if activity.get("lead_id") and activity.get("person_id"):
                        self._our_leads[str(activity["person_id"])] = activity["lead_id"]
                    if self.ledger.object_id("activity", message_id):
                        continue
                    self.ledger.save_object("activity", message_id, activity["id"])
                    self.ledger.forget_object("pending:activity", message_id)
                    taken += 1
                    if activity.get("person_id"):
                        touched.add(str(activity["person_id"]))
        if taken:
            logger.info(
                "Pipedrive has %d email activities of ours that the ledger did not know (a new "
                "or older ledger): they are not written again.",
                taken,
            )
            self._raise_floors(touched)
        if latest:
            self.ledger.save_object("activities_seen", str(self._owner), _earlier(latest))

    def _raise_floors(self, person_ids: set[str]) -> None:
        """Persons the ledger knows whose activities a run unknown to it wrote: that run may
        have written higher counters, which become their floor."""
        emails = {pid: email for email, pid in self.ledger.objects("person") if pid in person_ids}
        if not emails:
            return
        ids = sorted(emails, key=int) if all(i.isdigit() for i in emails) else sorted(emails)
        records: list[dict] = []
        if len(ids) <= PERSON_GETS:
            for pid in ids:
                found = self._unless_refused(lambda pid=pid: self.client.get_person(_as_id(pid)))
                if not isinstance(found, Refused):  # a person deleted since: no floor to keep
                    records.append(found)
        else:
            for start in range(0, len(ids), 100):
                chunk = ",".join(ids[start : start + 100])
                records.extend(self._records("persons", ids=chunk))
        for record in records:
            email = emails.get(str(record.get("id")))
            if email:
                self._raise_floor(email, record)

    def _made_activity(self, made: dict[str, Any]) -> Any:
        if self._first_made is None and made.get("update_time"):
            self._first_made = made["update_time"]
        return made["id"]

    def _mark_seen_from_own_writes(self) -> None:
        """The first listing found nothing of the user's: from the first activity made this
        run on, the ledger knows every activity, so the next listing starts there."""
        if self._owner is None or self._first_made is None or self.dry_run:
            return
        if not self.ledger.object_id("activities_seen", str(self._owner)):
            self.ledger.save_object("activities_seen", str(self._owner), _earlier(self._first_made))

    # -- lookups ------------------------------------------------------------------------------

    def _preload(self, people: dict[str, Counterpart]) -> None:
        """When several counterparts are unknown, list persons (and organizations) in bulk while
        that costs fewer tokens than searching the rest one by one."""
        emails = {e for e in people if not self.ledger.object_id("person", e)}
        self._bulk_load("persons", emails, self._pages("persons"))
        domains = {
            p.domain
            for e, p in people.items()
            if e in emails
            and p.domain not in self.settings.free_mail_domains
            and not self.ledger.object_id("organization", p.domain)
        }
        self._bulk_load("organizations", domains, self._pages("organizations"))

    def _preload_open_deals(self, emails: list[str]) -> None:
        """Persons who were in Pipedrive before us get a Deal only without an open one. When
        several need that check, list the open deals page by page while that costs less than
        one deal list per person (10 tokens either way)."""
        ids: set[str] = set()
        for email in emails:
            if self.ledger.object_id("deal", email):
                continue
            if self.ledger.object_id("person", email):
                if self.ledger.object_id("person_existing", email) == "1":
                    ids.add(str(self.ledger.object_id("person", email)))
            elif email in self._persons_by_email:
                ids.add(str(self._persons_by_email[email]["id"]))
        ids -= set(self._open_deals)
        if len(ids) < 2:
            return
        found: dict[str, Any] = {}
        spent = 0
        for page in self._pages("deals", status="open"):
            spent += LIST_PAGE_TOKENS
            for deal in page.records:
                owner = str(deal.get("person_id"))
                if owner in ids:
                    found.setdefault(owner, deal["id"])
            if page.next is None:
                found = {pid: found.get(pid) for pid in ids}  # listed in full: a miss is a miss
                break
            if spent + LIST_PAGE_TOKENS > len(ids - found.keys()) * LIST_PAGE_TOKENS:
                break
        self._open_deals.update(found)

    def _bulk_load(self, kind: str, wanted: set[str], pages: Iterator[Any]) -> None:
        cache = self._persons_by_email if kind == "persons" else self._orgs_by_domain
        missing = {w for w in wanted if w not in cache}
        if kind in self._listed or len(missing) * SEARCH_TOKENS < 2 * LIST_PAGE_TOKENS + 1:
            return  # nothing to find, or one search is cheaper than the first two pages
        full_pages = self.ledger.object_id("list_pages", kind)
        if full_pages and int(full_pages) * LIST_PAGE_TOKENS > len(missing) * SEARCH_TOKENS:
            return  # the last full listing took more pages than these searches cost
        spent, read, page = 0, 0, None
        for page in pages:
            spent += LIST_PAGE_TOKENS
            read += 1
            for record in page.records:
                keys = _emails_of(record) if kind == "persons" else _domains_of(record)
                for key in keys:
                    if kind == "persons":
                        cache.setdefault(key, record)
                    else:
                        cache.setdefault(key, record["id"])
                    missing.discard(key)
            if page.next is None:
                self._listed.add(kind)
                self.ledger.save_object("list_pages", kind, read)
                break
            if not missing or spent + LIST_PAGE_TOKENS > len(missing) * SEARCH_TOKENS:
                break
        if page is not None:
            logger.info("Listed %d page(s) of %s to find %d unknown.", read, kind, len(wanted))

    def _find_person(self, email: str) -> dict | None:
        if email in self._persons_by_email:
            return self._persons_by_email[email]
        if "persons" in self._listed:
            return None
        return self._search_person(email)

    def _search_person(self, email: str) -> dict | None:
        for hit in self._search("persons", email, fields="email"):
            if email in {str(e).lower() for e in _emails_of(hit)} or not _emails_of(hit):
                self._persons_by_email[email] = hit
                return hit
        return None

    def _find_organization(self, domain: str) -> Any:
        if domain in self._orgs_by_domain:
            return self._orgs_by_domain[domain]
        if "organizations" in self._listed:
            return None
        return self._search_organization(domain)

    def _search_organization(self, domain: str) -> Any:
        hits = self._search("organizations", domain)
        named = [h for h in hits if str(h.get("name", "")).lower() == domain]
        hit = (named or hits or [None])[0]
        if hit:
            self._orgs_by_domain[domain] = hit["id"]
            return hit["id"]
        return None

    def _pages(self, entity: str, **params: Any) -> Iterator[Page]:
        """A v2 listing, page by page. A page that answers `data: null` is read again by the
        client and fails the listing if it stays so: it is never taken for the end of the list
        (an empty listing would make every existing person look new)."""
        return self.client.v2_pages(f"/api/v2/{entity}", params)

    def _records(self, entity: str, **params: Any) -> Iterator[dict[str, Any]]:
        for page in self._pages(entity, **params):
            yield from page.records

    def _search(self, entity: str, term: str, **params: Any) -> list[dict[str, Any]]:
        """Exact search; a `data: null` answer is read again rather than taken as no match."""
        hits: list[dict[str, Any]] = []
        query = {"term": term, "exact_match": "true", **params}
        for page in self._pages(f"{entity}/search", **query):
            hits.extend(h["item"] for h in page.body["data"].get("items") or [] if h.get("item"))
        return hits

    def _ledger_id(self, kind: str, key: str) -> Any:
        value = self.ledger.object_id(kind, key)
        return _as_id(value) if value else None

    # -- exactly once ---------------------------------------------------------------------------

    def _create_once(
        self,
        kind: str,
        key: str,
        payload: dict[str, Any],
        create: Callable[[], Any],
        find: Callable[[], Any],
    ) -> Any:
        done = self._ledger_id(kind, key)
        if done:
            return done
        if self.dry_run:
            operation = "convert_lead" if "convert_lead" in payload else f"create_{kind}"
            placeholder = self.dry_run.intend(operation, key=key, **payload)
            self.ledger.save_object(kind, key, placeholder)
            return placeholder
        if self.ledger.object_id(f"pending:{kind}", key):
            found = find()  # the last run died after asking for it: did it happen?
            if found:
                self._remember(kind, key, found)
                return _as_id(found)
        self.ledger.save_object(f"pending:{kind}", key, "1")
        made = None
        for attempt in range(1, UNSURE_WRITE_ATTEMPTS + 1):
            try:
                made = create()
                break
            except WriteOutcomeUnknown as unknown:
                if attempt == UNSURE_WRITE_ATTEMPTS:
                    raise  # the pending mark stays: the next run looks first
                logger.warning("%s; looking for the %s before writing it again.", unknown, kind)
                made = find()
                if made:
                    break
            except ApiError as error:
                if error.status in REFUSED:  # refused: nothing was made, nothing to look for
                    self.ledger.forget_object(f"pending:{kind}", key)
                raise
        self._remember(kind, key, made)
        self.created[kind] += 1
        return _as_id(made)

    def _remember(self, kind: str, key: str, object_id: Any) -> None:
        with self.ledger.transaction():
            self.ledger.save_object(kind, key, object_id)
            self.ledger.forget_object(f"pending:{kind}", key)


def _others(message: Message, own: OwnSide) -> list[Any]:
    from .engagement import counterparts_of

    return counterparts_of(message, own)[1]


def _activity_body(message: Message, links: dict[str, Any], participants: list[Any]) -> dict:
    body: dict[str, Any] = {
        "subject": _clip(message.subject, MAX_NAME),
        "type": "email",
        "done": True,
        "due_date": message.date.strftime("%Y-%m-%d"),
        "due_time": message.date.strftime("%H:%M"),
        "person_id": links["person_id"],
        "participants": [{"person_id": p, "primary": i == 0} for i, p in enumerate(participants)],
        "note": _note(message),
    }
    for key in ("org_id", "deal_id", "lead_id"):
        if links.get(key):
            body[key] = links[key]
    return body


def _marker(message: Message) -> str:
    """The message id inside the activity note: how a rerun recognises its own activity."""
    return f"<p>Email id: {html.escape(message.id)}</p>"


def _message_id_in(note: Any) -> str | None:
    """The message id that `_marker` put into an activity note, if there is one."""
    found = MARKER.search(note) if isinstance(note, str) else None
    return html.unescape(found.group(1)) if found else None


def _note(message: Message) -> str:
    """The escaped snippet and the marker, under Pipedrive's note size; only the snippet is cut
    (the marker is how a rerun finds the activity), never inside an HTML entity."""
    marker = _marker(message)
    room = MAX_NOTE_BYTES - len(f"<p>...</p>{marker}".encode())
    text = html.escape(message.snippet)
    if len(text.encode()) > room:
        text = text.encode()[:room].decode("utf-8", "ignore")
        text = re.sub(r"&[#\w]*$", "", text) + "..."
    return f"<p>{text}</p>{marker}"


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters (Pipedrive refuses longer names, subjects and titles)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _field_value(purpose: str, value: Any) -> Any:
    """A value of one of our custom fields as Pipedrive shows it, or None if it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if purpose == "last_contact":
        text = str(value)[:10]
        return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if purpose == "thread_count":
        return int(number) if number.is_integer() else number
    return round(number, 2)


def _at_least(value: Any, floor: Any) -> Any:
    """The larger of a counter and its floor (a floor of None is no floor)."""
    if floor is None:
        return value
    if value is None:
        return floor
    try:
        return max(value, floor)
    except TypeError:
        return value


def _earlier(stamp: str) -> str:
    """An RFC 3339 time, SEEN_OVERLAP earlier (as RFC 3339 UTC)."""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when.astimezone(UTC) - SEEN_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")


def _emails_of(record: dict) -> list[str]:
    out = []
    for item in record.get("emails") or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value:
            out.append(str(value).strip().lower())
    return out


def _domains_of(record: dict) -> set[str]:
    """The names an organization answers to: its name, and a domain or website if it has one."""
    out = {str(record.get("name") or "").strip().lower()}
    for key in ("domain", "website"):
        value = str(record.get(key) or "").strip().lower()
        value = value.removeprefix("https://").removeprefix("http://").removeprefix("www.")
        out.add(value.split("/", 1)[0])
    return out - {""}


def _org_of(person: dict) -> Any:
    org = person.get("org_id") or person.get("organization")
    if isinstance(org, dict):
        org = org.get("id") or org.get("value")
    return org or None


def _as_id(value: Any) -> Any:
    """Ledger ids are text; Pipedrive's numeric ids go back as numbers, lead UUIDs stay text."""
    text = str(value)
    return int(text) if text.isdigit() else value
