"""Turns engagement decisions into Pipedrive writes through the shared client.

Objects are found before they are made (organization by domain, person by exact email), cached
for the run and remembered in the ledger. Every create goes through `_create_once`: a `pending`
mark is written first, so a run that died after the POST looks the object up instead of making a
second one.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipedrive_client import ConfigError, PipedriveClient, WriteOutcomeUnknown

from .classify import Outcome, Thresholds, classify
from .engagement import Counterpart, OwnSide, apply_event, apply_message
from .ledger import Ledger
from .plan import Plan
from .records import Event, Message

logger = logging.getLogger("target-pipedrive")

SEARCH_TOKENS, LIST_PAGE_TOKENS = 20, 10  # token costs: one search, one 500-record list page


@dataclass
class WriterSettings:
    own: OwnSide
    pipeline_name: str | None = None
    stage_name: str = "Initial Contact"
    deal_title: str = "{organization} - email"
    lead_title: str = "{organization} - email"
    thresholds: Thresholds = field(default_factory=Thresholds)
    free_mail_domains: frozenset[str] = frozenset()
    field_names: dict[str, str] = field(
        default_factory=lambda: {
            "thread_count": "Email thread count",
            "last_contact": "Last email contact",
            "avg_response_hours": "Avg email response hours",
        }
    )


FIELD_TYPES = {"thread_count": "double", "last_contact": "date", "avg_response_hours": "double"}


class Writer:
    def __init__(
        self,
        client: PipedriveClient,
        ledger: Ledger,
        settings: WriterSettings,
        plan: Plan | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.settings = settings
        self.plan = plan
        self.pipeline_id: int | None = None
        self.stage_id: int | None = None
        self.field_codes: dict[str, str] = {}
        self._open_deal: dict[str, bool] = {}
        self._known_persons: dict[str, dict] = {}
        self.created: dict[str, int] = {
            "organization": 0,
            "person": 0,
            "lead": 0,
            "deal": 0,
            "conversion": 0,
            "activity": 0,
        }

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Look up the pipeline and stage by name, and the custom person fields (created once)."""
        pipelines = list(self.client.list_pipelines())
        stages = list(self.client.list_stages())
        by_pipeline = {
            p["id"]: [s for s in stages if s["pipeline_id"] == p["id"]] for p in pipelines
        }
        wanted = self.settings.pipeline_name
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
            )
            where = f"pipeline '{wanted}'" if wanted else "any pipeline"
            raise ConfigError(
                f"stage '{self.settings.stage_name}' not found in {where}. "
                f"Pipelines and stages: {existing}"
            )
        fields = {f["field_name"]: f["field_code"] for f in self.client.list_person_fields()}
        for purpose, name in self.settings.field_names.items():
            if name in fields:
                self.field_codes[purpose] = fields[name]
            elif self.plan:
                self.field_codes[purpose] = self.plan.intend("create_person_field", name=name)
            else:
                made = self.client.create_person_field(name, FIELD_TYPES[purpose])
                self.field_codes[purpose] = made["field_code"]

    # -- a batch ------------------------------------------------------------------------------

    def write_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if self.ledger.message_status(f"event:{event.id}") == "done":
                continue
            with self.ledger.transaction():
                for person in apply_event(
                    event, self.settings.own, people_from(self.ledger, event)
                ):
                    self.ledger.save_counterpart(person)
                self.ledger.mark_message(f"event:{event.id}", "done")

    def write_messages(self, messages: Iterable[Message]) -> None:
        todo = [
            m
            for m in sorted(messages, key=lambda m: (m.date, m.id))
            if self.ledger.message_status(m.id) != "done"
        ]
        self._preload_persons(todo)
        touched: dict[str, Counterpart] = {}
        for message in todo:
            for person in self._write_message(message):
                touched[person.email] = person
        self._update_signals(touched.values())

    def _write_message(self, message: Message) -> list[Counterpart]:
        thread = self.ledger.thread(message.thread_id)
        people: dict[str, Counterpart] = {}
        _, others = _counterparts(message, self.settings.own)
        for address in others:
            people[address.email] = self.ledger.counterpart(address.email) or Counterpart(
                address.email, address.name
            )
        touched = apply_message(message, self.settings.own, people, thread)
        activity_links: dict[str, Any] = {}
        participants = []
        for person in touched:
            links = self._settle(person)
            participants.append(links["person_id"])
            if not activity_links:
                activity_links = links
        if touched:
            self._create_once(
                "activity",
                message.id,
                lambda: self._activity(message, activity_links, participants),
                lambda: self._find_activity(message, activity_links["person_id"]),
            )
        with self.ledger.transaction():
            for person in touched:
                self.ledger.save_counterpart(person)
            self.ledger.save_thread(message.thread_id, thread)
            self.ledger.mark_message(message.id, "done")
        return touched

    # -- objects ------------------------------------------------------------------------------

    def _settle(self, person: Counterpart) -> dict[str, Any]:
        """Make sure the organization, person and lead or deal that this engagement calls for
        exist; return the ids an activity links to."""
        org_id = self._organization(person.domain)
        person_id, existing = self._person(person, org_id)
        outcome = classify(
            person, self.settings.thresholds, existing, existing and self._has_open_deal(person_id)
        )
        deal_id = self.ledger.object_id("deal", person.email)
        lead_id = self.ledger.object_id("lead", person.email)
        if outcome is Outcome.DEAL and not deal_id:
            deal_id = self._deal(person, person_id, org_id, lead_id)
            lead_id = None
        elif outcome is Outcome.LEAD and not deal_id and not lead_id:
            lead_id = self._lead(person, person_id, org_id)
        return {
            "person_id": person_id,
            "org_id": org_id,
            "deal_id": deal_id,
            "lead_id": None if deal_id else lead_id,
        }

    def _organization(self, domain: str) -> int | None:
        if domain in self.settings.free_mail_domains:
            return None

        def find() -> Any:
            hits = [
                o
                for o in self.client.search_organizations(domain, exact=True)
                if o.get("name", "").lower() == domain
            ]
            return hits[0]["id"] if hits else None

        existing = self.ledger.object_id("organization", domain) or find()
        if existing:
            self.ledger.save_object("organization", domain, existing)
            return _as_id(existing)
        return _as_id(
            self._create_once(
                "organization",
                domain,
                lambda: self.client.create_organization(name=domain)["id"],
                find,
            )
        )

    def _person(self, person: Counterpart, org_id: int | None) -> tuple[Any, bool]:
        known = self.ledger.object_id("person", person.email)
        if known:
            return _as_id(known), self.ledger.object_id("person_existing", person.email) == "1"
        found = self._lookup_person(person.email)
        if found:
            self.ledger.save_object("person", person.email, found["id"])
            self.ledger.save_object("person_existing", person.email, "1")
            return found["id"], True

        def create() -> Any:
            body = {
                "name": person.name or person.email,
                "emails": [{"value": person.email, "primary": True, "label": "work"}],
            }
            if org_id:
                body["org_id"] = org_id
            return self.client.add_person(**body)["id"]

        def find() -> Any:
            hit = self._search_person(person.email)
            return hit["id"] if hit else None

        return _as_id(self._create_once("person", person.email, create, find)), False

    def _lead(self, person: Counterpart, person_id: Any, org_id: Any) -> Any:
        title = self._title(self.settings.lead_title, person, org_id)

        def create() -> Any:
            body = {"title": title, "person_id": person_id}
            if org_id:
                body["organization_id"] = org_id
            return self.client.create_lead(**body)["id"]

        def find() -> Any:
            hits = [
                x
                for x in self.client.v1_list("/api/v1/leads", person_id=person_id)
                if x.get("person_id") == person_id and x.get("title") == title
            ]
            return hits[0]["id"] if hits else None

        return self._create_once("lead", person.email, create, find)

    def _deal(self, person: Counterpart, person_id: Any, org_id: Any, lead_id: Any) -> Any:
        title = self._title(self.settings.deal_title, person, org_id)
        stage = {"pipeline_id": self.pipeline_id, "stage_id": self.stage_id}
        if lead_id:

            def create() -> Any:
                self.created["conversion"] += 1
                return self.client.convert_lead_to_deal(lead_id, **stage)
        else:

            def create() -> Any:
                body = {"title": title, "person_id": person_id, **stage}
                if org_id:
                    body["org_id"] = org_id
                return self.client.create_deal(**body)["id"]

        def find() -> Any:
            hits = [
                d
                for d in self.client.list_deals(person_id=person_id)
                if d.get("title") == title or (lead_id and d.get("source_lead_id") == lead_id)
            ]
            return hits[0]["id"] if hits else None

        deal_id = self._create_once("deal", person.email, create, find)
        if lead_id:
            self.ledger.forget_object("lead", person.email)
        return deal_id

    def _activity(self, message: Message, links: dict[str, Any], participants: list) -> Any:
        body = {
            "subject": message.subject,
            "type": "email",
            "done": True,
            "due_date": message.date.strftime("%Y-%m-%d"),
            "due_time": message.date.strftime("%H:%M"),
            "person_id": links["person_id"],
            "participants": [
                {"person_id": p, "primary": i == 0}
                for i, p in enumerate(dict.fromkeys(participants))
            ],
            "note": f"<p>{html.escape(message.snippet)}</p>{_marker(message)}",
        }
        for key in ("org_id", "deal_id", "lead_id"):
            if links.get(key):
                body[key] = links[key]
        return self.client.create_activity(**body)["id"]

    def _find_activity(self, message: Message, person_id: Any) -> Any:
        marker = _marker(message)
        for activity in self.client.list_person_activities(person_id):
            if marker in (activity.get("note") or ""):
                return activity["id"]
        return None

    # -- signals ------------------------------------------------------------------------------

    def _update_signals(self, people: Iterable[Counterpart]) -> None:
        for person in people:
            person_id = self.ledger.object_id("person", person.email)
            if not person_id:
                continue
            values = {
                self.field_codes["thread_count"]: len(person.threads),
                self.field_codes["last_contact"]: (person.last_contact or "")[:10] or None,
                self.field_codes["avg_response_hours"]: person.average_response_hours,
            }
            if self.plan:
                self.plan.intend("update_person", person_id=person_id, custom_fields=values)
            else:
                self.client.update_person(_as_id(person_id), custom_fields=values)

    # -- lookups ------------------------------------------------------------------------------

    def _preload_persons(self, messages: list[Message]) -> None:
        """When many counterparts are unknown, list persons page by page while that is cheaper
        than searching the rest one by one (a search costs 20 tokens, a 500-person page 10)."""
        unknown = {
            a.email
            for m in messages
            for a in _counterparts(m, self.settings.own)[1]
            if not self.ledger.object_id("person", a.email)
        }
        if len(unknown) * SEARCH_TOKENS <= LIST_PAGE_TOKENS:
            return
        pages = 0
        for page in self.client.v2_pages("/api/v2/persons", {}):
            pages += 1
            for record in page.records:
                for email in record.get("emails") or []:
                    value = str(email.get("value", "")).lower()
                    if value in unknown:
                        self._known_persons[value] = record
                        unknown.discard(value)
            if not unknown or (pages + 1) * LIST_PAGE_TOKENS > len(unknown) * SEARCH_TOKENS:
                break
        self._listed_all = page.next is None if pages else False

    def _lookup_person(self, email: str) -> dict | None:
        if email in self._known_persons:
            return self._known_persons[email]
        if getattr(self, "_listed_all", False):
            return None  # every person was listed: a miss is a miss
        return self._search_person(email)

    def _search_person(self, email: str) -> dict | None:
        hits = self.client.search_persons(email, fields="email", exact=True)
        return hits[0] if hits else None

    def _has_open_deal(self, person_id: Any) -> bool:
        key = str(person_id)
        if key not in self._open_deal:
            self._open_deal[key] = any(
                True for _ in self.client.list_deals(person_id=person_id, status="open")
            )
        return self._open_deal[key]

    def _title(self, template: str, person: Counterpart, org_id: Any) -> str:
        organization = person.domain if org_id else (person.name or person.email)
        return template.format(
            organization=organization,
            person=person.name or person.email,
            email=person.email,
            domain=person.domain,
        )

    # -- exactly once ---------------------------------------------------------------------------

    def _create_once(
        self, kind: str, key: str, create: Callable[[], Any], find: Callable[[], Any]
    ) -> Any:
        done = self.ledger.object_id(kind, key)
        if done:
            return done
        if self.plan:
            placeholder = self.plan.intend(f"create_{kind}", key=key)
            self.ledger.save_object(kind, key, placeholder)
            return placeholder
        if self.ledger.object_id(f"pending:{kind}", key):
            found = find()  # the last run died after asking for it: did it happen?
            if found:
                self._remember(kind, key, found)
                return found
        self.ledger.save_object(f"pending:{kind}", key, "1")
        try:
            made = create()
        except WriteOutcomeUnknown:
            made = find()
            if not made:
                raise
        self._remember(kind, key, made)
        self.created[kind] += 1
        return made

    def _remember(self, kind: str, key: str, object_id: Any) -> None:
        with self.ledger.transaction():
            self.ledger.save_object(kind, key, object_id)
            self.ledger.forget_object(f"pending:{kind}", key)


def _counterparts(message: Message, own: OwnSide):
    from .engagement import counterparts_of

    return counterparts_of(message, own)


def people_from(ledger: Ledger, event: Event) -> dict[str, Counterpart]:
    return {
        a.email: ledger.counterpart(a.email) or Counterpart(a.email, a.name)
        for a in event.participants
    }


def _marker(message: Message) -> str:
    """The message id inside the activity note: how a rerun recognises its own activity."""
    return f"<p>Email id: {html.escape(message.id)}</p>"


def _as_id(value: Any) -> Any:
    """Ledger ids are text; Pipedrive's numeric ids go back as numbers, lead UUIDs stay text."""
    text = str(value)
    return int(text) if text.isdigit() else value
