"""History from Pipedrive's field change logs (`/api/v1/{entity}/{id}/changelog` of deals,
persons and organizations): one record per change entry, and the stage moves of deals derived
from the same entries.

A change log is read only for the records the parent stream read in this run (after the first
run: those changed since its bookmark), newest first, down to where the parent's run started
(the entries older than that were read by an earlier run); a first run reads each record's whole
history. So a run without changes makes no change-log request.

The entries have no id: `change_id` is a hash of the record and everything the entry says, the
same on every read of the same entry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipedrive_client import NotFoundError, PipedriveClient, token_cost

from .custom_fields import CustomField, option_key
from .times import rfc3339

CHANGE_LOG_PAGE = 500


def change_log(
    client: PipedriveClient, entity: str, record_id: int, stop: str | None
) -> tuple[list[dict[str, Any]], int]:
    """A record's change entries, newest first, down to `stop` (RFC 3339; None: all of them),
    and the pages read. A record purged since (404) has none."""
    path = f"/api/v1/{entity}/{record_id}/changelog"
    entries: list[dict[str, Any]] = []
    pages = 0
    try:
        for page in client.v2_pages(path, limit=CHANGE_LOG_PAGE):
            pages += 1
            for entry in page.records:
                if stop is not None and (rfc3339(entry.get("time")) or "") < stop:
                    return entries, pages
                entries.append(entry)
    except NotFoundError:
        return entries, pages + 1
    return entries, pages


def page_cost(entity: str) -> int:
    return token_cost("GET", f"/api/v1/{entity}/1/changelog")


@dataclass
class Budget:
    """Tokens the change-log streams may still spend in this run. A record's history is begun
    only while a page fits, and then read whole (so the cap may be passed by the pages of one
    record): a history is never half emitted."""

    tokens: float
    spent: int = 0

    def allows(self, cost: int) -> bool:
        return self.spent + cost <= self.tokens

    def spend(self, cost: int) -> None:
        self.spent += cost


class Backlog:
    """Records whose history did not fit a run's budget, by where their read stops ('' for the
    whole history), kept in the parent stream's state as ranges of ids, so that 50,000 waiting
    deals take a few lines of state."""

    KEY = "history_backlog"

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self._ids: dict[str, set[int]] = {
            stop: {i for lo, hi in ranges for i in range(lo, hi + 1)}
            for stop, ranges in (state.get(self.KEY) or {}).items()
        }

    def __len__(self) -> int:
        return sum(map(len, self._ids.values()))

    def add(self, record_id: int, stop: str | None) -> None:
        """A record waiting twice keeps the read that goes further back ('' is the whole)."""
        record_id, stop = int(record_id), stop or ""
        for waiting_stop, ids in self._ids.items():
            if record_id in ids:
                if waiting_stop <= stop:
                    return
                ids.discard(record_id)
        self._ids.setdefault(stop, set()).add(record_id)
        self._save()

    def take(self, n: int, newest_first: bool) -> list[tuple[int, str | None]]:
        """Up to `n` records, oldest (lowest ids) or newest first, out of the backlog."""
        waiting = sorted(
            ((i, stop) for stop, ids in self._ids.items() for i in ids), reverse=newest_first
        )[:n]
        for record_id, stop in waiting:
            self._ids[stop].discard(record_id)
        self._save()
        return [(record_id, stop or None) for record_id, stop in waiting]

    def _save(self) -> None:
        saved = {stop: _ranges(ids) for stop, ids in sorted(self._ids.items()) if ids}
        if saved:
            self._state[self.KEY] = saved
        else:
            self._state.pop(self.KEY, None)


def _ranges(ids: set[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def stable_id(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def change_record(
    entry: Mapping[str, Any],
    id_column: str,
    record_id: int,
    custom: Mapping[str, CustomField],
) -> dict[str, Any]:
    """One change entry as a row: the field's column name beside its key, option labels for
    enum and set fields, the time as RFC 3339 UTC."""
    key = str(entry.get("field_key") or "")
    field = custom.get(key)
    old, new = entry.get("old_value"), entry.get("new_value")
    return {
        "change_id": stable_id(id_column, record_id, dict(entry)),
        id_column: record_id,
        "field_key": key,
        "field": field.column if field else key,
        "old_value": _text(old),
        "new_value": _text(new),
        "old_label": _label(field, old),
        "new_label": _label(field, new),
        "actor_user_id": entry.get("actor_user_id"),
        "time": rfc3339(entry.get("time")),
        "change_source": entry.get("change_source"),
        "change_source_user_agent": entry.get("change_source_user_agent"),
        "is_bulk_update_flag": entry.get("is_bulk_update_flag"),
    }


def stage_changes(
    entries: list[dict[str, Any]], deal: Mapping[str, Any], whole: bool
) -> Iterator[dict[str, Any]]:
    """A deal's stage moves from its change entries (newest first), oldest first: from stage, to
    stage, the pipeline at that time (walked back from the deal's current pipeline through its
    `pipeline_id` entries), time and actor. With the `whole` history, also the deal's first stage
    at its add_time, so that time in each stage follows from this table alone."""
    pipeline = _int(deal.get("pipeline_id"))
    stage = _int(deal.get("stage_id"))
    rows = []
    # Newest first: walk back from the deal as it is now. A move between pipelines is a
    # pipeline_id and a stage_id entry at the same time, in either order; the move belongs to
    # the pipeline it went to.
    for time, group in itertools.groupby(entries, key=lambda e: rfc3339(e.get("time"))):
        changes = list(group)
        for move in (e for e in changes if e.get("field_key") == "stage_id"):
            from_stage = _int(move.get("old_value"))
            rows.append((time, from_stage, _int(move.get("new_value")), move, pipeline))
            stage = from_stage
        for change in (e for e in changes if e.get("field_key") == "pipeline_id"):
            pipeline = _int(change.get("old_value"))
    # The first stage at add_time, unless the log itself records the creation (a move from
    # no stage), as a deal created through the API may.
    created = rows and rows[-1][1] is None
    if whole and deal.get("add_time") and not created:
        rows.append((deal["add_time"], None, stage, {}, pipeline))
    deal_id = deal["id"]
    for time, from_stage, to_stage, entry, in_pipeline in reversed(rows):
        yield {
            "stage_change_id": stable_id("deal_stage", deal_id, time, from_stage, to_stage),
            "deal_id": deal_id,
            "pipeline_id": in_pipeline,
            "from_stage_id": from_stage,
            "to_stage_id": to_stage,
            "time": time,
            "actor_user_id": entry.get("actor_user_id"),
        }


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _label(field: CustomField | None, value: Any) -> str | None:
    if field is None or not field.labels or value in (None, ""):
        return None
    keys = [option_key(v) for v in str(value).split(",")]
    labels = [field.labels.get(k) for k in keys if k is not None]
    return ", ".join(label for label in labels if label) or None


def _int(value: Any) -> int | None:
    key = option_key(value)
    return key if isinstance(key, int) else None
