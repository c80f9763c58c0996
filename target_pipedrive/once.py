"""Every object the target makes is made once, whatever dies when.

A `pending` mark goes into the ledger before the POST: a run that died after asking for an
object finds the mark and looks the object up instead of making a second one. A POST whose
outcome is unknown (`WriteOutcomeUnknown`: the shared client never repeats such a write) is
looked up and written again only if it is not there, at most UNSURE_WRITE_ATTEMPTS times; then
the run stops and the pending mark makes the next run look first. A dry run records the intended
write and keeps a placeholder id instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pipedrive_client import ApiError, WriteOutcomeUnknown

from .dry_run import DryRun
from .ledger import Ledger
from .refused import is_refusal

logger = logging.getLogger("target-pipedrive")

# A create whose outcome stays unknown: look it up and write it again at most this many times.
UNSURE_WRITE_ATTEMPTS = 3
# What a run made, as its last log line counts it.
KINDS = ("organization", "person", "lead", "deal", "conversion", "activity", "person_update")


def write_or_find(create: Callable[[], Any], find: Callable[[], Any], what: str) -> Any:
    """What `create` made; when its outcome is unknown, what `find` finds instead, else it is
    written again."""
    for attempt in range(1, UNSURE_WRITE_ATTEMPTS + 1):
        try:
            return create()
        except WriteOutcomeUnknown as unknown:
            if attempt == UNSURE_WRITE_ATTEMPTS:
                raise
            logger.warning("%s; looking for the %s before writing it again.", unknown, what)
            found = find()
            if found:
                return found
    raise AssertionError("unreachable")


def as_id(value: Any) -> Any:
    """Ledger ids are text; Pipedrive's numeric ids go back as numbers, lead UUIDs stay text."""
    text = str(value)
    return int(text) if text.isdigit() else value


def ledger_id(ledger: Ledger, kind: str, key: str) -> Any:
    """The id the ledger keeps for `kind` and `key`, as the API takes it, or None."""
    value = ledger.object_id(kind, key)
    return as_id(value) if value else None


class Once:
    """Creates through the ledger's pending marks; counts what it made in `created`."""

    def __init__(self, ledger: Ledger, dry_run: DryRun | None = None) -> None:
        self.ledger = ledger
        self.dry_run = dry_run
        self.created: dict[str, int] = dict.fromkeys(KINDS, 0)

    def create(
        self,
        kind: str,
        key: str,
        payload: dict[str, Any],
        create: Callable[[], Any],
        find: Callable[[], Any],
    ) -> Any:
        done = ledger_id(self.ledger, kind, key)
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
                return as_id(found)
        self.ledger.save_object(f"pending:{kind}", key, "1")

        def attempt() -> Any:
            try:
                return create()
            except ApiError as error:
                if is_refusal(error):  # refused: nothing was made, nothing to look for
                    self.ledger.forget_object(f"pending:{kind}", key)
                raise

        made = write_or_find(attempt, find, kind)  # an unknown outcome keeps the pending mark
        self._remember(kind, key, made)
        self.created[kind] += 1
        return as_id(made)

    def _remember(self, kind: str, key: str, object_id: Any) -> None:
        with self.ledger.transaction():
            self.ledger.save_object(kind, key, object_id)
            self.ledger.forget_object(f"pending:{kind}", key)
