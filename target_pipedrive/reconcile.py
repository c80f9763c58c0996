"""A ledger that is new (a lost file, a fresh container) or behind (runs it has no record of)
doubles nothing. When a batch holds messages the ledger does not know, the email activities of
the token's user are listed once per run (all of them for a new ledger, those updated since the
last listing otherwise) and the message id in each note is taken into the ledger, so a message
Pipedrive already has is not written again. The persons whose activities such a run wrote keep
what Pipedrive shows in their custom fields as the floor of their counters."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pipedrive_client import PipedriveClient

from .ledger import Ledger
from .lookup import listing
from .once import as_id
from .payloads import message_id_in
from .records import Message
from .refused import Refused, unless_refused
from .signals import Signals

logger = logging.getLogger("target-pipedrive")

# The listing of our activities re-reads this far before its last mark (late writes, clocks).
SEEN_OVERLAP = timedelta(minutes=1)
# Persons whose fields are read one by one up to this many; more are read 100 to a page.
PERSON_GETS = 10


class Reconciler:
    def __init__(
        self, client: PipedriveClient, ledger: Ledger, signals: Signals, *, dry_run: bool
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.signals = signals
        self.dry_run = dry_run
        self.our_leads: dict[str, Any] = {}  # person id -> the Lead our activities link to
        self._reconciled = False  # our activities were listed this run
        self._owner: Any = None  # the token's user, owner of the activities we make
        self._first_made: str | None = None  # update_time of the first activity made this run

    def reconcile(self, todo: list[Message]) -> None:
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
        for page in self.client.v2_pages(listing("activities"), params):
            with self.ledger.transaction():
                for activity in page.records:
                    stamp = activity.get("update_time")
                    if stamp and (latest is None or stamp > latest):
                        latest = stamp
                    message_id = message_id_in(activity.get("note"))
                    if message_id is None:
                        continue
                    if activity.get("lead_id") and activity.get("person_id"):
                        self.our_leads[str(activity["person_id"])] = activity["lead_id"]
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
            self.ledger.save_object("activities_seen", str(self._owner), earlier(latest))

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
                found = unless_refused(lambda pid=pid: self.client.get_person(as_id(pid)))
                if not isinstance(found, Refused):  # a person deleted since: no floor to keep
                    records.append(found)
        else:
            for start in range(0, len(ids), 100):
                records.extend(self.client.list_persons(ids=",".join(ids[start : start + 100])))
        for record in records:
            email = emails.get(str(record.get("id")))
            if email:
                self.signals.raise_floor(email, record)

    def made_activity(self, made: dict[str, Any]) -> Any:
        """The id of an activity just made; the first one made this run marks where the ledger
        knows every activity from."""
        if self._first_made is None and made.get("update_time"):
            self._first_made = made["update_time"]
        return made["id"]

    def mark_seen_from_own_writes(self) -> None:
        """The first listing found nothing of the user's: from the first activity made this
        run on, the ledger knows every activity, so the next listing starts there."""
        if self._owner is None or self._first_made is None or self.dry_run:
            return
        if not self.ledger.object_id("activities_seen", str(self._owner)):
            self.ledger.save_object("activities_seen", str(self._owner), earlier(self._first_made))


def earlier(stamp: str) -> str:
    """An RFC 3339 time, SEEN_OVERLAP earlier (as RFC 3339 UTC)."""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when.astimezone(UTC) - SEEN_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
