"""Changes while a sync runs: updates, creations, deletes, archives, ties on one update_time,
and a clock that moves forward. `admin.py` exposes them over HTTP."""

from __future__ import annotations

import random

from .clock import Clock, parse_time
from .store import Store

TEXT_FIELD = {
    "deals": "title",
    "persons": "name",
    "organizations": "name",
    "activities": "subject",
    "products": "name",
    "leads": "title",
    "notes": "content",
    "files": "name",
}


class Churn:
    def __init__(self, store: Store, clock: Clock, seed: int = 7) -> None:
        self.store = store
        self.clock = clock
        self._rng = random.Random(seed)

    def _pick(self, entity: str, ids: list | None, n: int | None) -> list:
        if ids is not None:
            return list(ids)
        live = self.store.live_ids(entity)
        return self._rng.sample(live, min(n or 1, len(live)))

    def update(self, entity: str, ids: list | None = None, n: int | None = None) -> list:
        picked = self._pick(entity, ids, n)
        field = TEXT_FIELD[entity]
        for rid in picked:
            row = self.store.get(entity, rid)
            self.store.update(entity, rid, {field: f"{row.get(field) or ''} (edited)"})
        return picked

    def create(self, entity: str, n: int = 1) -> list:
        made = []
        for _ in range(n):
            template = dict(self.store.sorted_rows(entity)[-1])
            rid = self.store.new_id(entity) if isinstance(template["id"], int) else None
            if rid is None:
                import uuid

                rid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            template.pop("add_ms", None)
            template.pop("update_ms", None)
            template.update(id=rid, is_deleted=False, is_archived=False)
            template[TEXT_FIELD[entity]] = f"New {entity[:-1]} {rid}"
            self.store.insert(entity, template)
            made.append(rid)
        return made

    def delete(self, entity: str, ids: list | None = None, n: int | None = None) -> list:
        picked = self._pick(entity, ids, n)
        for rid in picked:
            self.store.delete(entity, rid)
        return picked

    def archive(self, entity: str, ids: list | None = None, n: int | None = None) -> list:
        if entity not in ("deals", "leads"):
            raise ValueError("only deals and leads can be archived")
        picked = self._pick(entity, ids, n)
        for rid in picked:
            stamp = self.store.stamp(entity)
            self.store.update(entity, rid, {"is_archived": True, "archive_ms": stamp}, stamp=stamp)
        return picked

    def tie(self, entity: str, n: int, update_time: str | None = None) -> list:
        """Give n records one update_time (now, or the one given): many records on one second,
        straddling a page boundary when n is larger than a page."""
        stamp = parse_time(update_time) if update_time else self.store.stamp(entity)
        picked = self._pick(entity, None, n)
        for rid in picked:
            self.store.update(entity, rid, {}, stamp=stamp)
        return picked

    def advance_clock(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return self.store.purge_expired()
