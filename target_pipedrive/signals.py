"""The custom person fields (thread count, last contact, average response hours): written for the
persons whose counters moved (marked `dirty` in the ledger, so a crash does not lose the update),
and never lower than what Pipedrive showed. The counters start again from nothing with a lost
ledger: what Pipedrive shows for a person the ledger did not know is kept as a floor."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from pipedrive_client import PipedriveClient

from .dry_run import DryRun
from .engagement import Counterpart
from .ledger import Ledger
from .once import ledger_id
from .refused import Refused, RejectedMessage, unless_refused

logger = logging.getLogger("target-pipedrive")


@dataclass
class Signals:
    client: PipedriveClient
    ledger: Ledger
    field_codes: dict[str, str]  # purpose -> key of our custom person field
    dry_run: DryRun | None
    skip_rejected: bool
    created: dict[str, int]  # what the run made, by kind: counts the person updates

    def flush(self) -> None:
        """Write the custom person fields of every person whose counters moved."""
        for email, last_record in self.ledger.objects("dirty"):
            person = self.ledger.counterpart(email)
            person_id = ledger_id(self.ledger, "person", email)
            if person is None or not person_id:
                self.ledger.forget_object("dirty", email)
                continue
            values = self.values(person)
            written = json.dumps(values, sort_keys=True)
            if self.ledger.object_id("signals", email) != written:
                if self.dry_run:
                    self.dry_run.intend("update_person", person_id=person_id, custom_fields=values)
                else:
                    result = unless_refused(
                        lambda person_id=person_id, values=values: self.client.update_person(
                            person_id, custom_fields=values
                        )
                    )
                    if isinstance(result, Refused):
                        # A person deleted in Pipedrive (and purged) keeps no counters.
                        error = f"the email counters of person {person_id}: {result.error}"
                        if not self.skip_rejected:
                            # (a ledger from before this mark names no record: "1")
                            raise RejectedMessage(last_record if last_record != "1" else "?", error)
                        logger.warning("Pipedrive refused %s", error)
                        written = f"refused: {result.error}"
                    else:
                        self.created["person_update"] += 1
            with self.ledger.transaction():
                self.ledger.save_object("signals", email, written)
                self.ledger.forget_object("dirty", email)

    def values(self, person: Counterpart) -> dict[str, Any]:
        """The custom field values of a person: the ledger's counters, never below the floor
        that Pipedrive showed (a lost ledger starts counting again from nothing)."""
        floor = json.loads(self.ledger.object_id("signal_floor", person.email) or "{}")
        mine = {
            "thread_count": len(person.threads),
            "last_contact": (person.last_contact or "")[:10] or None,
            "avg_response_hours": person.average_response_hours,
        }
        return {self.field_codes[k]: at_least(v, floor.get(k)) for k, v in mine.items()}

    def with_fields(self, record: dict) -> dict:
        """A person record with its custom field values (a search hit has only their names)."""
        if isinstance(record.get("custom_fields"), dict):
            return record
        return self.client.get_person(record["id"])

    def raise_floor(self, email: str, record: dict) -> None:
        """Keep what Pipedrive shows in our fields of a person as the floor of its counters, and
        as what is written there (so an unchanged value is not written again)."""
        shown = record.get("custom_fields") or {}
        old = json.loads(self.ledger.object_id("signal_floor", email) or "{}")
        floor = {
            purpose: at_least(field_value(purpose, shown.get(code)), old.get(purpose))
            for purpose, code in self.field_codes.items()
        }
        current = {
            code: field_value(purpose, shown.get(code))
            for purpose, code in self.field_codes.items()
        }
        with self.ledger.transaction():
            self.ledger.save_object("signal_floor", email, json.dumps(floor, sort_keys=True))
            self.ledger.save_object("signals", email, json.dumps(current, sort_keys=True))


def field_value(purpose: str, value: Any) -> Any:
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


def at_least(value: Any, floor: Any) -> Any:
    """The larger of a counter and its floor (a floor of None is no floor)."""
    if floor is None:
        return value
    if value is None:
        return floor
    try:
        return max(value, floor)
    except TypeError:
        return value
