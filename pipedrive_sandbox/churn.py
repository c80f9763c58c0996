"""Changes while a sync runs: updates, creations, deletes, merges, archives, ties on one
update_time, and a clock that moves forward. `admin.py` exposes them over HTTP.

Each is made in the web app by one of the company's users (drawn from the seed), so the change
logs of deals, persons and organizations show it with source `app`; a tie is a bulk edit."""

from __future__ import annotations

import random

from .clock import Clock, parse_time
from .history import Author
from .store import MERGEABLE, Store

TEXT_FIELD = {
    "deals": "title",
    "persons": "name",
    "organizations": "name",
    "activities": "subject",
    "products": "name",
    "leads": "title",
    "notes": "content",
    "files": "name",
    "call_logs": "subject",
    "projects": "title",
    "tasks": "title",
}
ARCHIVABLE = ("deals", "leads", "projects")


class Churn:
    def __init__(self, store: Store, clock: Clock, seed: int = 7) -> None:
        self.store = store
        self.clock = clock
        self._rng = random.Random(seed)
        self._users = random.Random(f"{seed}:users")  # who makes each change

    def _user(self) -> int:
        return 1 + int(self._users.random() * len(self.store.tables["users"]))

    def _author(self, bulk: bool = False) -> Author:
        return Author(self._user(), bulk=bulk)

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
            edited = {field: f"{row.get(field) or ''} (edited)"}
            self.store.update(entity, rid, edited, by=self._author())
        return picked

    def create(self, entity: str, n: int = 1) -> list:
        made = []
        for _ in range(n):
            template = dict(self.store.sorted_rows(entity)[-1])
            rid = self.store.new_id(entity) if isinstance(template["id"], int) else None
            if entity == "call_logs":  # ids like Pipedrive's
                rid = f"CA{self._rng.getrandbits(128):032x}"
            elif rid is None:
                import uuid

                rid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            template.pop("add_ms", None)
            template.pop("update_ms", None)
            template.update(id=rid, is_deleted=False, is_archived=False)
            template[TEXT_FIELD[entity]] = f"New {entity[:-1]} {rid}"
            self._fresh(entity, template)
            self.store.insert(entity, template, by=self._author())
            made.append(rid)
        return made

    def _fresh(self, entity: str, row: dict) -> None:
        """What a new record of these lists starts with, whatever the template had: a call
        the token's user logs now (so that its list shows it), an open project, a task to do."""
        now = self.store.stamp(entity)
        if entity == "call_logs":
            row.update(user_id=1, start_ms=now, end_ms=now, duration="0", outcome="no_answer")
        elif entity == "projects":
            row.update(status="open", status_change_ms=now, archive_ms=None)
        elif entity == "tasks":
            row.update(is_done=False, done_ms=None)

    def delete(self, entity: str, ids: list | None = None, n: int | None = None) -> list:
        picked = self._pick(entity, ids, n)
        for rid in picked:
            self.store.delete(entity, rid, by=self._author())
        return picked

    def merge(self, entity: str, ids: list | None = None) -> list:
        """Merge duplicates: `ids` is [merged away, kept] (two live records drawn if not
        given). The first is deleted; the second takes its values where it has none."""
        if entity not in MERGEABLE:
            raise ValueError("only persons and organizations can be merged")
        pair = self._pick(entity, ids, 2)
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ValueError("merge needs two different records")
        self.store.merge(entity, pair[0], pair[1], by=self._author())
        return pair

    def archive(self, entity: str, ids: list | None = None, n: int | None = None) -> list:
        if entity not in ARCHIVABLE:
            raise ValueError("only deals, leads and projects can be archived")
        picked = self._pick(entity, ids, n)
        for rid in picked:
            stamp = self.store.stamp(entity)
            changes = {"is_archived": True, "archive_ms": stamp}
            self.store.update(entity, rid, changes, stamp=stamp, by=self._author())
        return picked

    def tie(self, entity: str, n: int, update_time: str | None = None) -> list:
        """Give n records one update_time (now, or the one given): many records on one second,
        straddling a page boundary when n is larger than a page. It is a bulk edit that gives
        them all one owner (those already theirs change only their update_time)."""
        stamp = parse_time(update_time) if update_time else self.store.stamp(entity)
        picked = self._pick(entity, None, n)
        by = self._author(bulk=True)
        owner = self._user()
        for rid in picked:
            self.store.update(entity, rid, {"owner_id": owner}, stamp=stamp, by=by)
        return picked

    def advance_clock(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return self.store.purge_expired()
