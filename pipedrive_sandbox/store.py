"""In-memory company: records, their relations, writes, deletes, archives and churn.

Records are plain dicts in the API's own vocabulary, with times kept as epoch milliseconds under
`add_ms` / `update_ms` (rendering turns them into each endpoint's format). Each entity keeps its
records by id; lists sort on demand with a cache that a write invalidates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from .clock import Clock
from .generator import (
    ACTIVITY_TYPES,
    COMPANY,
    CURRENCIES,
    CUSTOM_FIELDS,
    DAY_MS,
    FIRST,
    LAST,
    LEAD_LABELS,
    PIPELINES,
    SUFFIX,
    FieldDef,
    Generator,
    field_key,
    lead_uuid,
    resolve_counts,
)

DELETED_VISIBLE_MS = 30 * DAY_MS
MAIN = ("organizations", "persons", "deals", "activities", "products", "leads", "notes", "files")
FIELD_ENTITIES = {
    "deal_fields": "deals",
    "person_fields": "persons",
    "organization_fields": "organizations",
    "product_fields": "products",
    "activity_fields": "activities",
}
SYSTEM_FIELDS = {
    "deals": [
        ("Title", "title", "varchar"),
        ("Value", "value", "monetary"),
        ("Stage", "stage_id", "enum"),
        ("Status", "status", "enum"),
        ("Owner", "owner_id", "user"),
        ("Person", "person_id", "people"),
        ("Organization", "org_id", "org"),
        ("Update time", "update_time", "date"),
    ],
    "persons": [
        ("Name", "name", "varchar"),
        ("Email", "emails", "varchar"),
        ("Phone", "phones", "phone"),
        ("Organization", "org_id", "org"),
        ("Owner", "owner_id", "user"),
    ],
    "organizations": [
        ("Name", "name", "varchar"),
        ("Address", "address", "address"),
        ("Owner", "owner_id", "user"),
    ],
    "products": [
        ("Name", "name", "varchar"),
        ("Product code", "code", "varchar"),
        ("Unit", "unit", "varchar"),
        ("Tax", "tax", "double"),
    ],
    "activities": [
        ("Subject", "subject", "varchar"),
        ("Type", "type", "enum"),
        ("Due date", "due_date", "date"),
        ("Done", "done", "boolean"),
        ("Note", "note", "text"),
    ],
}


class Store:
    def __init__(self, seed: int, size: str, counts: dict[str, int] | None, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.tables: dict[str, dict[Any, dict]] = {}
        self.version = 0
        self._sorted: dict[tuple, tuple[int, list[dict]]] = {}
        self.conversions: dict[str, dict] = {}
        self._next_id: dict[str, int] = {}
        self.counts = resolve_counts(size, counts)
        # Generated times hang off the start of the current UTC day (or the fixed `now`), so one
        # seed gives the same records all day long while staying recent.
        self._gen = Generator(seed, clock.anchor_ms())
        self._build()

    # -- generation ---------------------------------------------------------------------------

    def _build(self) -> None:
        g, c = self._gen, self.counts
        now = g.now_ms
        old = now - 400 * DAY_MS
        self._put_all(
            "users",
            (
                {
                    "id": i,
                    "name": f"User {i}",
                    "email": f"user{i}@sandbox.example",
                    "active_flag": True,
                    "is_you": i == 1,
                    "add_ms": old,
                    "update_ms": old,
                }
                for i in range(1, c["users"] + 1)
            ),
        )
        stages, sid = [], 0
        pipelines = []
        for pid, (pname, snames) in enumerate(PIPELINES.items(), start=1):
            pipelines.append(
                {
                    "id": pid,
                    "name": pname,
                    "order_nr": pid,
                    "is_deleted": False,
                    "add_ms": old,
                    "update_ms": old,
                }
            )
            for order, sname in enumerate(snames, start=1):
                sid += 1
                stages.append(
                    {
                        "id": sid,
                        "name": sname,
                        "pipeline_id": pid,
                        "order_nr": order,
                        "deal_probability": min(100, order * 20),
                        "is_deleted": False,
                        "add_ms": old,
                        "update_ms": old,
                    }
                )
        self._put_all("pipelines", pipelines)
        self._put_all("stages", stages)
        self._put_all(
            "activity_types",
            (
                {
                    "id": i,
                    "name": n,
                    "key_string": k,
                    "active_flag": True,
                    "order_nr": i,
                    "add_ms": old,
                    "update_ms": old,
                }
                for i, (n, k) in enumerate(ACTIVITY_TYPES, start=1)
            ),
        )
        self._put_all(
            "lead_labels",
            (
                {
                    "id": lead_uuid(g.rng("lead_labels", i)),
                    "name": n,
                    "color": col,
                    "add_ms": old + i,
                    "update_ms": old + i,
                }
                for i, (n, col) in enumerate(LEAD_LABELS)
            ),
        )
        self._put_all(
            "currencies",
            (
                {
                    "id": i,
                    "code": code,
                    "name": name,
                    "symbol": sym,
                    "decimal_points": 2,
                    "active_flag": True,
                }
                for i, (code, name, sym) in enumerate(CURRENCIES, start=1)
            ),
        )
        self._put_all(
            "filters",
            (
                {
                    "id": i,
                    "name": f"{t.title()} filter",
                    "type": t,
                    "active_flag": True,
                    "user_id": 1,
                    "add_ms": old,
                    "update_ms": old,
                }
                for i, t in enumerate(["deals", "people", "org"], start=1)
            ),
        )
        self._build_fields(old)
        for entity in MAIN:
            self._put_all(entity, (self._generate(entity, i) for i in range(1, c[entity] + 1)))
        self._put_all("mail_threads", (self._thread(i) for i in range(1, c["mail_threads"] + 1)))
        messages = []
        for thread in self.tables["mail_threads"].values():
            for n in range(thread["message_count"]):
                messages.append(self._message(thread, n, len(messages) + 1))
        self._put_all("mail_messages", messages)
        self._put_all("deal_products", self._deal_products())

    def _build_fields(self, old: int) -> None:
        fid = 0
        for table, entity in FIELD_ENTITIES.items():
            rows = []
            for name, code, ftype in SYSTEM_FIELDS[entity]:
                fid += 1
                rows.append(FieldDef(entity, code, name, ftype, None, False, old, old, fid))
            for name, ftype, labels in CUSTOM_FIELDS.get(entity, []):
                fid += 1
                options = None
                if labels:
                    options = [{"id": fid * 100 + n, "label": lab} for n, lab in enumerate(labels)]
                rows.append(
                    FieldDef(
                        entity,
                        field_key(self.seed, entity, name),
                        name,
                        ftype,
                        options,
                        True,
                        old,
                        old,
                        fid,
                    )
                )
            self._put_all(
                table,
                (
                    {"id": f.key, "def": f, "add_ms": f.add_ms, "update_ms": f.update_ms}
                    for f in rows
                ),
            )

    def custom_defs(self, entity: str) -> list[FieldDef]:
        table = {v: k for k, v in FIELD_ENTITIES.items()}[entity]
        return [r["def"] for r in self.tables[table].values() if r["def"].custom]

    def _customs(self, rng, entity: str) -> dict:
        return {f.key: self._gen.custom_value(rng, f) for f in self.custom_defs(entity)}

    def _generate(self, entity: str, i: int) -> dict:
        g, c = self._gen, self.counts
        rng = g.rng(entity, i)
        add, update = g.times(rng)
        base = {
            "id": i,
            "add_ms": add,
            "update_ms": update,
            "owner_id": rng.randint(1, c["users"]),
            "is_deleted": False,
        }
        if rng.random() < 0.03 and entity in (
            "deals",
            "persons",
            "organizations",
            "activities",
            "products",
            "notes",
            "files",
        ):
            # Deleted recently enough to be visible for a while (the API keeps them 30 days).
            base["is_deleted"] = True
            base["update_ms"] = (g.now_ms - rng.randint(DAY_MS, 25 * DAY_MS)) // 1000 * 1000
        if entity == "organizations":
            name = f"{rng.choice(COMPANY)} {rng.choice(SUFFIX)} {i}"
            return {
                **base,
                "name": name,
                "domain": f"{name.split(maxsplit=1)[0].lower()}{i}.example.com",
                "custom_fields": self._customs(rng, entity),
            }
        if entity == "persons":
            first, last = rng.choice(FIRST), rng.choice(LAST)
            org = rng.randint(1, c["organizations"]) if rng.random() < 0.85 else None
            email = f"{first.lower()}.{last.lower()}{i}@" + (
                self.tables["organizations"][org]["domain"] if org else "gmail.com"
            )
            return {
                **base,
                "name": f"{first} {last}",
                "first_name": first,
                "last_name": last,
                "org_id": org,
                "emails": [{"value": email, "primary": True, "label": "work"}],
                "phones": [{"value": f"+1555{i:07d}", "primary": True, "label": "work"}],
                "custom_fields": self._customs(rng, entity),
            }
        if entity == "deals":
            stage = rng.choice(list(self.tables["stages"].values()))
            person = rng.randint(1, c["persons"])
            status = rng.choice(["open", "open", "open", "won", "lost"])
            archived = rng.random() < 0.04 and not base["is_deleted"]
            return {
                **base,
                "title": f"Deal {i}",
                "person_id": person,
                "org_id": self.tables["persons"][person].get("org_id"),
                "pipeline_id": stage["pipeline_id"],
                "stage_id": stage["id"],
                "value": float(rng.randint(1, 500) * 100),
                "currency": "USD",
                "status": status,
                "is_archived": archived,
                "archive_ms": update if archived else None,
                "custom_fields": self._customs(rng, entity),
            }
        if entity == "activities":
            deal = rng.randint(1, c["deals"])
            d = self.tables["deals"][deal]
            kind = rng.choice(ACTIVITY_TYPES)[1]
            return {
                **base,
                "subject": f"{kind.title()} about deal {deal}",
                "type": kind,
                "deal_id": deal,
                "person_id": d["person_id"],
                "org_id": d.get("org_id"),
                "due_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "due_time": f"{rng.randint(8, 17):02d}:00",
                "done": rng.random() < 0.6,
                "note": f"Notes for activity {i}",
            }
        if entity == "products":
            return {
                **base,
                "name": f"Product {i}",
                "code": f"P-{i:05d}",
                "unit": "pcs",
                "tax": 0.0,
                "prices": [{"currency": "USD", "price": float(rng.randint(5, 900))}],
                "custom_fields": self._customs(rng, entity),
            }
        if entity == "leads":
            person = rng.randint(1, c["persons"])
            base.update(
                id=lead_uuid(rng),
                add_ms=add + rng.randint(0, 999),
                update_ms=update + rng.randint(0, 999),
            )
            labels = [lab["id"] for lab in self.tables["lead_labels"].values()]
            return {
                **base,
                "title": f"Lead {i}",
                "person_id": person,
                "organization_id": self.tables["persons"][person].get("org_id"),
                "label_ids": [rng.choice(labels)],
                "is_archived": rng.random() < 0.08,
                "source_name": "API",
                "index": i,
            }
        if entity == "notes":
            deal = rng.randint(1, c["deals"])
            return {
                **base,
                "content": f"<p>Note {i} &amp; more</p>",
                "deal_id": deal,
                "person_id": self.tables["deals"][deal]["person_id"],
                "user_id": base["owner_id"],
                "active_flag": not base["is_deleted"],
            }
        if entity == "files":
            deal = rng.randint(1, c["deals"])
            return {
                **base,
                "file_name": f"file-{i}.pdf",
                "file_size": rng.randint(1000, 900000),
                "deal_id": deal,
                "user_id": base["owner_id"],
                "active_flag": not base["is_deleted"],
                "file_type": "pdf",
                "name": f"file-{i}.pdf",
            }
        raise KeyError(entity)

    def _thread(self, i: int) -> dict:
        rng = self._gen.rng("mail_threads", i)
        add, update = self._gen.times(rng)
        return {
            "id": i,
            "subject": f"Thread {i}",
            "snippet": f"About thread {i}",
            "folder": rng.choice(["inbox", "inbox", "sent", "archive"]),
            "message_count": rng.randint(1, 4),
            "add_ms": add,
            "update_ms": update,
            "user_id": 1,
            "account_id": 1,
        }

    def _message(self, thread: dict, n: int, mid: int) -> dict:
        at = thread["add_ms"] + n * 3_600_000
        return {
            "id": mid,
            "mail_thread_id": thread["id"],
            "subject": thread["subject"],
            "snippet": f"Message {n + 1} of thread {thread['id']}",
            "add_ms": at,
            "update_ms": at,
            "user_id": 1,
            "account_id": 1,
            "from": [{"email_address": f"sender{mid}@client.example", "name": "Sender"}],
            "to": [{"email_address": "me@sandbox.example", "name": "Me"}],
        }

    def _deal_products(self) -> Iterable[dict]:
        n = 0
        products = self.counts["products"]
        for deal in self.tables["deals"].values():
            rng = self._gen.rng("deal_products", deal["id"])
            for _ in range(rng.choice([0, 0, 1, 2])):
                n += 1
                pid = rng.randint(1, products)
                yield {
                    "id": n,
                    "deal_id": deal["id"],
                    "product_id": pid,
                    "name": f"Product {pid}",
                    "quantity": rng.randint(1, 10),
                    "item_price": float(rng.randint(5, 900)),
                    "currency": "USD",
                    "add_ms": deal["add_ms"],
                    "update_ms": deal["add_ms"],
                }

    def _put_all(self, table: str, rows: Iterable[dict]) -> None:
        self.tables[table] = {r["id"]: r for r in rows}
        numeric = [i for i in self.tables[table] if isinstance(i, int)]
        self._next_id[table] = (max(numeric) if numeric else 0) + 1

    # -- reads --------------------------------------------------------------------------------

    def sorted_rows(self, table: str, sort_by: str = "id", desc: bool = False) -> list[dict]:
        key = (table, sort_by, desc)
        with self.lock:
            cached = self._sorted.get(key)
            if cached and cached[0] == self.version:
                return cached[1]
            field = {"id": None, "update_time": "update_ms", "add_time": "add_ms"}[sort_by]
            if field:
                rows = sorted(
                    self.tables[table].values(),
                    key=lambda r: (r[field], _id_key(r["id"])),
                    reverse=desc,
                )
            else:
                rows = sorted(
                    self.tables[table].values(), key=lambda r: _id_key(r["id"]), reverse=desc
                )
            self._sorted[key] = (self.version, rows)
            return rows

    def get(self, table: str, rid: Any) -> dict | None:
        return self.tables.get(table, {}).get(rid)

    # -- writes -------------------------------------------------------------------------------

    def new_id(self, table: str) -> int:
        with self.lock:
            nid = self._next_id[table]
            self._next_id[table] = nid + 1
            return nid

    def stamp(self, table: str) -> int:
        ms = self.clock.now_ms()
        return ms if table in ("leads", "lead_labels") else ms // 1000 * 1000

    def insert(self, table: str, row: dict) -> dict:
        with self.lock:
            now = self.stamp(table)
            row.setdefault("add_ms", now)
            row.setdefault("update_ms", now)
            self.tables[table][row["id"]] = row
            self.version += 1
            return row

    def update(self, table: str, rid: Any, changes: dict, stamp: int | None = None) -> dict:
        with self.lock:
            # Copy on write: a list request that sorted the old rows keeps a consistent snapshot
            # while it filters and renders outside the lock.
            row = {**self.tables[table][rid], **changes}
            row["update_ms"] = stamp if stamp is not None else self.stamp(table)
            self.tables[table][rid] = row
            self.version += 1
            return row

    def delete(self, table: str, rid: Any) -> None:
        self.update(table, rid, {"is_deleted": True, "active_flag": False})

    def purge_expired(self) -> int:
        """Deleted records older than 30 days are gone for good, as in the API."""
        cutoff = self.clock.now_ms() - DELETED_VISIBLE_MS
        gone = 0
        with self.lock:
            for rows in self.tables.values():
                for rid in [
                    k for k, r in rows.items() if r.get("is_deleted") and r["update_ms"] < cutoff
                ]:
                    del rows[rid]
                    gone += 1
            self.version += 1
        return gone

    def filter_rows(self, table: str, predicate: Callable[[dict], bool]) -> list[dict]:
        return [r for r in self.tables[table].values() if predicate(r)]


def _id_key(rid: Any) -> tuple:
    return (0, rid, "") if isinstance(rid, int) else (1, 0, str(rid))
