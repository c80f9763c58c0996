"""What Pipedrive must hold for one counterpart, made sure of: the organization of their domain,
the person, and the lead or deal their engagement calls for (classify decides which); and the
activity of each message. Persons and organizations are found before they are made (`lookup`),
and every object is made once (`once`). A Lead that crosses the deal threshold is converted
through the API, never doubled by a new Deal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipedrive_client import NotFoundError, PipedriveClient

from .classify import Outcome, classify
from .engagement import Counterpart
from .ledger import Ledger
from .lookup import Lookup, org_of
from .once import Once, ledger_id
from .payloads import MAX_NAME, activity_body, clip, marker, title
from .reconcile import Reconciler
from .records import Message
from .setup import Setup
from .signals import Signals

if TYPE_CHECKING:
    from .writer import WriterSettings


@dataclass(frozen=True)
class PersonRef:
    id: Any
    existing: bool  # in Pipedrive before this target saw the address
    org_id: Any | None


@dataclass
class Settler:
    client: PipedriveClient
    ledger: Ledger
    settings: WriterSettings
    setup: Setup
    lookup: Lookup
    once: Once
    signals: Signals
    reconciler: Reconciler

    def settle(self, person: Counterpart) -> dict[str, Any]:
        """Make sure the organization, person and lead or deal that this engagement calls for
        exist; return the ids an activity links to."""
        ref = self._person(person)
        deal_id = ledger_id(self.ledger, "deal", person.email)
        lead_id = ledger_id(self.ledger, "lead", person.email)
        open_deal = self.lookup.open_deal(ref.id) if ref.existing and not deal_id else None
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

    def activity(self, message: Message, links: list[dict[str, Any]]) -> Any:
        """The activity of a message, linked to the first counterpart's objects, with every
        counterpart as a participant."""
        first = links[0]
        participants = list(dict.fromkeys(link["person_id"] for link in links))
        body = activity_body(message, first, participants)

        def find() -> Any:
            mark = marker(message)
            for activity in self.client.list_person_activities(first["person_id"]):
                if mark in (activity.get("note") or ""):
                    return activity["id"]
            return None

        return self.once.create(
            "activity",
            message.id,
            body,
            lambda: self.reconciler.made_activity(self.client.create_activity(**body)),
            find,
        )

    def _person(self, person: Counterpart) -> PersonRef:
        email = person.email
        known = ledger_id(self.ledger, "person", email)
        if known:
            return PersonRef(
                known,
                self.ledger.object_id("person_existing", email) == "1",
                ledger_id(self.ledger, "person_org", email),
            )
        # A pending mark means a run of ours asked for this person: found now, it is still ours
        # (not a person that was in Pipedrive before), so the create path below looks it up.
        pending = self.ledger.object_id("pending:person", email)
        found = None if pending else self.lookup.find_person(email)
        if found:
            org_id = org_of(found) or self._organization(person.domain)
            # What Pipedrive shows in our fields (a run the ledger lost may have written them)
            # is a floor: the counters written for this person never go below it.
            self.signals.raise_floor(email, self.signals.with_fields(found))
            with self.ledger.transaction():
                lead = self.reconciler.our_leads.get(str(found["id"]))
                if lead and not self.ledger.object_id("lead", email):
                    # our activities link this person to a Lead of ours (a ledger lost it): it
                    # is kept, and converted at the deal threshold rather than doubled by a Deal
                    self.ledger.save_object("lead", email, lead)
                self.ledger.save_object("person", email, found["id"])
                self.ledger.save_object("person_existing", email, "1")
                self.ledger.save_object("person_org", email, org_id or "")
            return PersonRef(found["id"], True, org_id)
        org_id = self._organization(person.domain)
        signals = self.signals.values(person)
        body: dict[str, Any] = {
            "name": clip(person.name or email, MAX_NAME),
            "emails": [{"value": email, "primary": True, "label": "work"}],
            "custom_fields": signals,  # written with the person: no update needed this run
        }
        if org_id:
            body["org_id"] = org_id

        def create() -> Any:
            made = self.client.add_person(**body)
            self.lookup.persons_by_email[email] = made
            return made["id"]

        def find() -> Any:
            hit = self.lookup.search_person(email)
            return hit["id"] if hit else None

        person_id = self.once.create("person", email, body, create, find)
        with self.ledger.transaction():
            self.ledger.save_object("person_org", email, org_id or "")
            self.ledger.save_object("signals", email, json.dumps(signals, sort_keys=True))
        return PersonRef(person_id, False, org_id)

    def _organization(self, domain: str) -> Any:
        if domain in self.settings.free_mail_domains:
            return None
        known = ledger_id(self.ledger, "organization", domain)
        if known:
            return known
        found = self.lookup.find_organization(domain)
        if found:
            self.ledger.save_object("organization", domain, found)
            return found
        body = {"name": domain}
        return self.once.create(
            "organization",
            domain,
            body,
            lambda: self.client.create_organization(**body)["id"],
            lambda: self.lookup.search_organization(domain),
        )

    def _lead(self, person: Counterpart, ref: PersonRef) -> Any:
        body: dict[str, Any] = {
            "title": title(self.settings.lead_title, person, ref.org_id),
            "person_id": ref.id,
        }
        if ref.org_id:
            body["organization_id"] = ref.org_id

        def find() -> Any:
            for lead in self.client.list_leads(person_id=ref.id):
                if lead.get("person_id") == ref.id and lead.get("title") == body["title"]:
                    return lead["id"]
            return None

        return self.once.create(
            "lead", person.email, body, lambda: self.client.create_lead(**body)["id"], find
        )

    def _deal(self, person: Counterpart, ref: PersonRef, lead_id: Any) -> Any:
        deal_title = title(self.settings.deal_title, person, ref.org_id)
        stage = {"pipeline_id": self.setup.pipeline_id, "stage_id": self.setup.stage_id}
        body: dict[str, Any] = {"title": deal_title, "person_id": ref.id, **stage}
        if ref.org_id:
            body["org_id"] = ref.org_id

        def find() -> Any:
            for deal in self.client.list_deals(person_id=ref.id):
                if (lead_id and deal.get("source_lead_id") == lead_id) or deal.get(
                    "title"
                ) == deal_title:
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
                self.once.created["conversion"] += 1
                return deal_id

            operation: dict[str, Any] = {"convert_lead": lead_id, **stage}
            deal_id = self.once.create("deal", person.email, operation, convert, find)
        else:
            deal_id = self.once.create(
                "deal", person.email, body, lambda: self.client.create_deal(**body)["id"], find
            )
        self.lookup.open_deals[str(ref.id)] = deal_id
        return deal_id
