"""In-memory company: records, their relations, writes, deletes, archives and churn.

Records are plain dicts in the API's own vocabulary, with times kept as epoch milliseconds under
`add_ms` / `update_ms` (rendering turns them into each endpoint's format). The main entities are
generated record by record when read (see `table.Table`); only the columns lists need are held,
so the large company fits in a fraction of the memory its records would take.
"""

from __future__ import annotations

import functools
import random
import threading
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from .clock import Clock, day
from .extras import Extras
from .generator import (
    ACTIVITY_TYPES,
    COMPANY,
    CURRENCIES,
    CUSTOM_FIELDS,
    DAY_MS,
    FIRST,
    JOB_TITLES,
    LAST,
    LEAD_LABELS,
    PIPELINES,
    PROJECTS,
    SUFFIX,
    FieldDef,
    Generator,
    address,
    between,
    choose,
    field_key,
    lead_uuid,
    resolve_counts,
)
from .history import APP_USER, Author, History
from .table import ARCHIVED, DELETED, REMOVED, SortedView, Table, column

DELETED_VISIBLE_MS = 30 * DAY_MS
MAIN = ("organizations", "persons", "deals", "activities", "products", "leads", "notes", "files")
DELETABLE = {"deals", "persons", "organizations", "activities", "products", "notes", "files"}
MERGEABLE = ("persons", "organizations")
# What a merge never takes from the record merged away: its identity, times and state.
MERGE_KEEPS = frozenset(
    {"id", "add_ms", "update_ms", "is_deleted", "active_flag", "custom_fields", "owner_id"}
)
# Columns kept per generated entity beyond times and flags: what relations and lists read.
RELATIONS = {
    "organizations": ("company",),
    "persons": ("org_id",),
    "deals": ("person_id",),
    "activities": ("deal_id",),
    "notes": ("deal_id",),
    "files": ("deal_id",),
    "leads": ("person_id",),
}
PRODUCTS_PER_DEAL = [0, 0, 1, 2]
FIELD_ENTITIES = {
    "deal_fields": "deals",
    "person_fields": "persons",
    "organization_fields": "organizations",
    "product_fields": "products",
    "activity_fields": "activities",
    "note_fields": "notes",  # v1 only
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
    "notes": [
        # No deal field: the v1 field types the description lists have no `deal`.
        ("Content", "content", "text"),
        ("Person", "person_id", "people"),
        ("Organization", "org_id", "org"),
        ("User", "user_id", "user"),
        ("Add time", "add_time", "date"),
        ("Update time", "update_time", "date"),
        # A flag: v1 lists it as a Yes/No enum, as the description's noteFields example does.
        ("Note is pinned to deal", "pinned_to_deal_flag", "boolean"),
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
        self.tables: dict[str, Table] = {}
        self.conversions: dict[str, dict] = {}
        self._next_id: dict[str, int] = {}
        self.counts = resolve_counts(size, counts)
        # Generated times hang off the start of the current UTC day (or the fixed `now`), so one
        # seed gives the same records all day long while staying recent.
        self.generator = Generator(seed, clock.anchor_ms())
        self.history = History(self)  # change logs of deals, persons and organizations
        self._build()

    # -- generation ---------------------------------------------------------------------------

    def _build(self) -> None:
        g, c = self.generator, self.counts
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
        # Generation reads these for every record: fixed at build, so a field created later
        # gets no values on generated records, as on a live account.
        self.stages = self.sorted_rows("stages")[:]
        self._label_ids = [label["id"] for label in self.sorted_rows("lead_labels")]
        self.generated_defs = {e: self.custom_defs(e) for e in FIELD_ENTITIES.values()}
        for entity in MAIN:
            self._index(entity)
        self._put_all("mail_threads", (self._thread(i) for i in range(1, c["mail_threads"] + 1)))
        messages = []
        for thread in self.tables["mail_threads"].values():
            first = len(messages)
            for n in range(thread["message_count"]):
                messages.append(self._message(thread, n, len(messages) + 1))
            thread["parties"] = {"from": messages[first]["from"], "to": messages[first]["to"]}
        self._put_all("mail_messages", messages)
        self._index_deal_products()
        self.extras = Extras(self)
        self.extras.build()

    def _build_fields(self, old: int) -> None:
        fid = 0
        for table, entity in FIELD_ENTITIES.items():
            rows = []
            for name, code, ftype in SYSTEM_FIELDS[entity]:
                fid += 1
                about = f"The {name.lower()} of the {entity[:-1]}"
                rows.append(FieldDef(entity, code, name, ftype, None, False, old, old, fid, about))
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

    # -- generated entities: columns once, records on demand ------------------------------------

    def _index(self, entity: str) -> None:
        """Draw every record's header once to fill the columns lists need; the rest of a record
        is drawn again from the same seed whenever it is read."""
        n = self.counts[entity]
        names = ("update_ms", "add_ms", *RELATIONS.get(entity, ()))
        columns = {name: column(n) for name in names}
        named = entity in ("persons", "organizations")
        if named:
            columns["name_code"] = column(n)
        flags = bytearray(n + 1)
        keys: list | None = [None] if entity == "leads" else None
        for i in range(1, n + 1):
            rng, h = self._header(entity, i)
            for name in names:
                columns[name][i] = h[name]
            if named:
                columns["name_code"][i] = _name_code(entity, rng)
            flags[i] = h["flags"]
            if keys is not None:
                keys.append(h["id"])
        make = functools.partial(self.generated, entity)
        self.tables[entity] = Table(n, make, keys, columns, flags)
        self._next_id[entity] = n + 1

    def _header(self, entity: str, i: int) -> tuple[random.Random, dict]:
        """The first draws of a record: its times, flags and relations."""
        g, c = self.generator, self.counts
        rng = g.rng(entity, i)
        add, update = g.times(rng)
        h = {"id": i, "owner_id": between(rng, 1, c["users"]), "flags": 0}
        if entity in DELETABLE and rng.random() < 0.03:
            # Deleted recently enough to be visible for a while (the API keeps them 30 days).
            h["flags"] = DELETED
            update = (g.now_ms - between(rng, DAY_MS, 25 * DAY_MS)) // 1000 * 1000
            if update < add:  # not before it was added
                update = between(rng, add, g.now_ms - 60_000) // 1000 * 1000
        if entity == "organizations":
            h["company"] = int(rng.random() * len(COMPANY))
        elif entity == "persons":
            h["org_id"] = between(rng, 1, c["organizations"]) if rng.random() < 0.85 else 0
        elif entity == "deals":
            h["stage"] = int(rng.random() * len(self.stages))
            h["person_id"] = between(rng, 1, c["persons"])
            h["status"] = choose(rng, ["open", "open", "open", "won", "lost"])
            if rng.random() < 0.04 and not h["flags"]:
                h["flags"] = ARCHIVED
        elif entity == "leads":
            h["id"] = lead_uuid(rng)
            add, update = add + between(rng, 0, 999), update + between(rng, 0, 999)
            h["person_id"] = between(rng, 1, c["persons"])
            if rng.random() < 0.08:
                h["flags"] = ARCHIVED
        elif entity in ("activities", "notes", "files"):
            h["deal_id"] = between(rng, 1, c["deals"])
        h["add_ms"], h["update_ms"] = add, update
        return rng, h

    def _org_of_person(self, person: int) -> int | None:
        return self.tables["persons"].columns["org_id"][person] or None

    def _lead_key(self, n: int) -> str | None:
        """A lead for a record to refer to, picked by a number."""
        leads = self.counts["leads"]
        return self.tables["leads"].key_of(n % leads + 1) if leads else None

    def _title(self, entity: str, rid: Any, index: int | None = None) -> str:
        """The name (or title) of a related record, as a list shows it beside the id: the
        written one if there is one, else the generated one (from the name column, without
        making the record)."""
        if entity == "leads":
            rid = self._lead_key(index or 0)
        table = self.tables[entity]
        row = table.overlay.get(rid)
        if isinstance(row, dict):
            return row.get("name") or row.get("title") or ""
        if entity == "persons":
            first, last = divmod(table.columns["name_code"][rid], len(LAST))
            return f"{FIRST[first]} {LAST[last]}"
        if entity == "organizations":
            company, suffix = table.columns["company"][rid], table.columns["name_code"][rid]
            return f"{COMPANY[company]} {SUFFIX[suffix]} {rid}"
        if entity == "leads":
            return f"Lead {(index or 0) % self.counts['leads'] + 1}"
        return f"{entity[:-1].title()} {rid}"  # deals, products

    def _customs(self, rng: random.Random, entity: str) -> dict:
        return {f.key: self.generator.custom_value(rng, f) for f in self.generated_defs[entity]}

    def generated(self, entity: str, i: int) -> dict:
        """The generated record at an index, as it was before any write."""
        rng, h = self._header(entity, i)
        deleted = bool(h["flags"] & DELETED)
        base = {
            "id": h["id"],
            "add_ms": h["add_ms"],
            "update_ms": h["update_ms"],
            "owner_id": h["owner_id"],
            "is_deleted": deleted,
        }
        if entity == "organizations":
            company = COMPANY[h["company"]]
            return {
                **base,
                "name": f"{company} {choose(rng, SUFFIX)} {i}",
                "domain": _domain(company, i),
                "custom_fields": self._customs(rng, entity),
                "address": address(i) if i % 2 else None,
            }
        if entity == "persons":
            first, last = choose(rng, FIRST), choose(rng, LAST)
            org = h["org_id"] or None
            domain = (
                _domain(COMPANY[self.tables["organizations"].columns["company"][org]], org)
                if org
                else "gmail.com"
            )
            return {
                **base,
                "name": f"{first} {last}",
                "first_name": first,
                "last_name": last,
                "org_id": org,
                "emails": [
                    {
                        "value": f"{first.lower()}.{last.lower()}{i}@{domain}",
                        "primary": True,
                        "label": "work",
                    }
                ],
                "phones": [{"value": f"+1555{i:07d}", "primary": True, "label": "work"}],
                "custom_fields": self._customs(rng, entity),
                # Filled in on some people, as on a real account (drawn from the index).
                "job_title": JOB_TITLES[i % len(JOB_TITLES)] if i % 4 else None,
                "birthday": f"{1960 + i % 40}-{i % 12 + 1:02d}-{i % 28 + 1:02d}"
                if i % 5 == 0
                else None,
                "notes": "Met at a trade fair" if i % 7 == 0 else None,
                "picture_id": i if i % 3 == 0 else None,
                "postal_address": address(i) if i % 6 == 0 else None,
            }
        if entity == "deals":
            stage = self.stages[h["stage"]]
            archived = bool(h["flags"] & ARCHIVED)
            return {
                **base,
                "title": f"Deal {i}",
                "person_id": h["person_id"],
                "org_id": self._org_of_person(h["person_id"]),
                "pipeline_id": stage["pipeline_id"],
                "stage_id": stage["id"],
                "value": float(between(rng, 1, 500) * 100),
                "currency": "USD",
                "status": h["status"],
                "is_archived": archived,
                "archive_ms": h["update_ms"] if archived else None,
                "expected_close_date": day(h["add_ms"] + 30 * DAY_MS),
                "custom_fields": self._customs(rng, entity),
            }
        if entity == "products":
            return {
                **base,
                "name": f"Product {i}",
                "code": f"P-{i:05d}",
                "unit": "pcs",
                "tax": 0.0,
                "prices": [{"currency": "USD", "price": float(between(rng, 5, 900))}],
                "custom_fields": self._customs(rng, entity),
                "description": f"Product {i}, sold by the piece" if i % 2 else None,
            }
        if entity == "leads":
            return {
                **base,
                "title": f"Lead {i}",
                "person_id": h["person_id"],
                "organization_id": self._org_of_person(h["person_id"]),
                "label_ids": [choose(rng, self._label_ids)],
                "is_archived": bool(h["flags"] & ARCHIVED),
                "source_name": "API",
                "index": i,
            }
        make = {"activities": self._activity, "notes": self._note, "files": self._file}[entity]
        return make(i, rng, h, base)

    def _activity(self, i: int, rng: random.Random, h: dict, base: dict) -> dict:
        """An activity of a deal, with its person and organization."""
        deal = h["deal_id"]
        person = self.tables["deals"].columns["person_id"][deal]
        kind = choose(rng, ACTIVITY_TYPES)[1]
        row = {
            **base,
            "subject": f"{kind.title()} about deal {deal}",
            "type": kind,
            "deal_id": deal,
            "person_id": person,
            "org_id": self._org_of_person(person),
            "due_date": f"2026-{between(rng, 1, 12):02d}-{between(rng, 1, 28):02d}",
            "due_time": f"{between(rng, 8, 17):02d}:00",
            "done": rng.random() < 0.6,
            "note": f"Notes for activity {i}",
            "busy": kind in ("meeting", "lunch"),
            "lead_id": self._lead_key(i) if i % 10 == 0 else None,
            "project_id": i % PROJECTS + 1 if i % 20 == 0 else None,
            "priority": i % 3 + 1 if i % 4 == 0 else None,
        }
        if kind in ("meeting", "lunch", "call"):
            row["duration"] = "00:30:00" if kind == "call" else "01:00:00"
        if kind == "meeting":
            owner = base["owner_id"]
            row.update(
                conference_meeting_client="google_meet",
                conference_meeting_url=f"https://meet.google.com/sbx-{i}",
                conference_meeting_id=f"sbx-{i}",
                public_description=f"Agenda for deal {deal}",
                attendees=[
                    {
                        "email": f"user{owner}@sandbox.example",
                        "name": f"User {owner}",
                        "status": "accepted",
                        "is_organizer": True,
                        "user_id": owner,
                    }
                ],
            )
        if kind == "lunch":
            row["location"] = address(i)
        return row

    def _note(self, i: int, rng: random.Random, h: dict, base: dict) -> dict:
        """A note on a deal, naming what it is attached to."""
        deal = h["deal_id"]
        person = self.tables["deals"].columns["person_id"][deal]
        org = self._org_of_person(person)
        user = base["owner_id"]
        row = {
            **base,
            "content": f"<p>Note {i} &amp; more</p>",
            "deal_id": deal,
            "person_id": person,
            "org_id": org,
            "user_id": user,
            "last_update_user_id": user,
            "active_flag": not base["is_deleted"],
            "deal": {"title": self._title("deals", deal)},
            "person": {"name": self._title("persons", person)},
            "user": {
                "email": f"user{user}@sandbox.example",
                "name": f"User {user}",
                "is_you": user == 1,
            },
            "pinned_to_deal_flag": i % 9 == 0,
        }
        if org:
            row["organization"] = {"name": self._title("organizations", org)}
        if i % 8 == 0:
            row.update(lead_id=self._lead_key(i), pinned_to_lead_flag=i % 16 == 0)
        if i % 25 == 0:
            project = i % PROJECTS + 1
            row.update(project_id=project, project={"title": self.extras.project_title(project)})
        if i % 30 == 0:
            task = i % self.counts["tasks"] + 1
            row.update(task_id=task, task={"title": self.extras.task_title(task)})
        return row

    def _file(self, i: int, rng: random.Random, h: dict, base: dict) -> dict:
        """A file on a deal, naming what it is attached to."""
        deal = h["deal_id"]
        person = self.tables["deals"].columns["person_id"][deal]
        org = self._org_of_person(person)
        row = {
            **base,
            "file_name": f"file-{i}.pdf",
            "file_size": between(rng, 1000, 900000),
            "deal_id": deal,
            "deal_name": self._title("deals", deal),
            "person_id": person,
            "person_name": self._title("persons", person),
            "user_id": base["owner_id"],
            "active_flag": not base["is_deleted"],
            "file_type": "pdf",
            "name": f"file-{i}.pdf",
            "description": f"Attachment {i}" if i % 2 else None,
            "remote_id": f"sbx-file-{i}",
            # What the description's examples show for files stored by Pipedrive itself.
            "cid": "",
            "s3_bucket": "",
            "mail_template_id": "",
        }
        if org:
            row.update(org_id=org, org_name=self._title("organizations", org))
        if i % 5 == 0:  # an email attachment
            row.update(mail_message_id=f"sbx-message-{i}", log_id=i)
        if i % 6 == 0 and self.counts["products"]:
            product = i % self.counts["products"] + 1
            row.update(product_id=product, product_name=self._title("products", product))
        if i % 7 == 0 and self.counts["activities"]:
            row["activity_id"] = i % self.counts["activities"] + 1
        if i % 9 == 0 and self.counts["leads"]:
            row.update(lead_id=self._lead_key(i), lead_name=self._title("leads", None, i))
        if i % 25 == 0:
            project = i % PROJECTS + 1
            row.update(project_id=project, project_name=self.extras.project_title(project))
        return row

    def _thread(self, i: int) -> dict:
        rng = self.generator.rng("mail_threads", i)
        add, update = self.generator.times(rng)
        return {
            "id": i,
            "subject": f"Thread {i}",
            "snippet": f"About thread {i}",
            "folder": choose(rng, ["inbox", "inbox", "sent", "archive"]),
            "message_count": between(rng, 1, 4),
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
            "from": [_party(2 * mid - 1, f"sender{mid}@client.example", "Sender", at)],
            "to": [_party(2 * mid, "me@sandbox.example", "Me", at)],
        }

    def _index_deal_products(self) -> None:
        """Each deal has 0 to 2 products drawn from the deal's own seed, numbered in deal
        order; the columns keep which deal each belongs to and where each deal's run starts."""
        deals = self.counts["deals"]
        first = column(deals)
        owners: list[int] = [0]
        for deal in range(1, deals + 1):
            first[deal] = len(owners)
            rng = self.generator.rng("deal_products", deal)
            owners.extend([deal] * choose(rng, PRODUCTS_PER_DEAL))
        n = len(owners) - 1
        deal_col = array("q", owners)
        added = self.tables["deals"].columns["add_ms"]
        times = array("q", (added[d] for d in owners))
        columns = {"deal_id": deal_col, "first": first, "update_ms": times, "add_ms": times}
        make = self._deal_product
        self.tables["deal_products"] = Table(n, make, None, columns)
        self._next_id["deal_products"] = n + 1

    def _deal_product(self, k: int) -> dict:
        columns = self.tables["deal_products"].columns
        deal = columns["deal_id"][k]
        rng = self.generator.rng("deal_products", deal)
        choose(rng, PRODUCTS_PER_DEAL)
        for _ in range(k - columns["first"][deal] + 1):
            pid = between(rng, 1, self.counts["products"])
            quantity, price = between(rng, 1, 10), float(between(rng, 5, 900))
        return {
            "id": k,
            "deal_id": deal,
            "product_id": pid,
            "name": f"Product {pid}",
            "quantity": quantity,
            "item_price": price,
            "currency": "USD",
            "add_ms": columns["add_ms"][k],
            "update_ms": columns["update_ms"][k],
        }

    def deal_product_ids(self, deal_ids: Iterable[int]) -> list[int]:
        """Ids of the products on these deals, from the columns (no scan of the table)."""
        table = self.tables["deal_products"]
        first, wanted = table.columns["first"], set(deal_ids)
        ids = set()
        for deal in wanted:
            if 1 <= deal <= self.counts["deals"]:
                end = first[deal + 1] if deal < self.counts["deals"] else table.n + 1
                ids.update(range(first[deal], end))
        ids = {i for i in ids if i in table}
        written = table.overlay.items()
        ids.update(k for k, r in written if r is not REMOVED and r["deal_id"] in wanted)
        return sorted(ids)

    def _put_all(self, table: str, rows: Iterable[dict]) -> None:
        self.tables[table] = Table()
        self.tables[table].overlay = {r["id"]: r for r in rows}
        numeric = [i for i in self.tables[table] if isinstance(i, int)]
        self._next_id[table] = (max(numeric) if numeric else 0) + 1

    # -- reads --------------------------------------------------------------------------------

    def sorted_rows(self, table: str, sort_by: str = "id", desc: bool = False) -> SortedView:
        field = {"id": None, "update_time": "update_ms", "add_time": "add_ms"}[sort_by]
        with self.lock:
            view = self.tables[table].sorted_view(field)
        return view.reversed() if desc else view

    def live_ids(self, table: str, include_deleted: bool = False, include_archived: bool = True):
        with self.lock:
            return self.tables[table].keys_where(include_deleted, include_archived)

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

    def insert(self, table: str, row: dict, by: Author = APP_USER) -> dict:
        """A new record; deals, persons and organizations log the fields it was created with,
        as changed `by` its author."""
        with self.lock:
            now = self.stamp(table)
            row.setdefault("add_ms", now)
            row.setdefault("update_ms", now)
            self.tables[table][row["id"]] = row
            self.history.record(table, {}, row, by)
            return row

    def update(
        self,
        table: str,
        rid: Any,
        changes: dict,
        stamp: int | None = None,
        by: Author = APP_USER,
    ) -> dict:
        """Changes to a record, at a new update_time (now, or the stamp given); deals, persons
        and organizations log each changed field at that time, as changed `by` its author."""
        with self.lock:
            # Copy on write: a list request that sorted the old rows keeps a consistent snapshot
            # while it filters and renders outside the lock.
            old = self.tables[table][rid]
            row = {**old, **changes}
            row["update_ms"] = stamp if stamp is not None else self.stamp(table)
            self.tables[table][rid] = row
            self.history.record(table, old, row, by)
            return row

    def delete(self, table: str, rid: Any, by: Author = APP_USER) -> None:
        self.update(table, rid, {"is_deleted": True, "active_flag": False}, by=by)

    def merge(self, table: str, rid: Any, into: Any, by: Author = APP_USER) -> dict:
        """Merge record `rid` into `into`, as the API's merge does: `into` keeps its values and
        takes the other's where it has none, at a new update_time; `rid` is deleted."""
        with self.lock:
            rows = self.tables[table]
            survivor = self.update(table, into, _merged(rows[into], rows[rid]), by=by)
            self.delete(table, rid, by=by)
            return survivor

    def remove_deal_product(self, deal_id: int, attachment_id: int, by: Author = APP_USER) -> dict:
        """Take a product off a deal: the attachment is gone (not kept as deleted), and the
        deal's value becomes the sum of the products left, at a new update_time, as the API
        recalculates it."""
        with self.lock:
            del self.tables["deal_products"][attachment_id]
            left = [self.get("deal_products", k) for k in self.deal_product_ids([deal_id])]
            value = float(sum(p["quantity"] * p["item_price"] for p in left))
            return self.update("deals", deal_id, {"value": value}, by=by)

    def purge_expired(self) -> int:
        """Deleted records older than 30 days are gone for good, as in the API."""
        cutoff = self.clock.now_ms() - DELETED_VISIBLE_MS
        gone = 0
        with self.lock:
            for name, rows in self.tables.items():
                for rid in rows.expired(cutoff):
                    del rows[rid]
                    self.history.forget(name, rid)
                    gone += 1
        return gone

    def filter_rows(self, table: str, predicate: Callable[[dict], bool]) -> list[dict]:
        return [r for r in self.tables[table].values() if predicate(r)]


def _name_code(entity: str, rng: random.Random) -> int:
    """The draws that follow a person's or an organization's header, which pick its name, as
    one number: (first name, last name) of a person, the suffix of an organization."""
    if entity == "persons":
        first, last = choose(rng, range(len(FIRST))), choose(rng, range(len(LAST)))
        return first * len(LAST) + last
    return choose(rng, range(len(SUFFIX)))


def _merged(keep: dict, other: dict) -> dict:
    """What a merge changes on the record kept: the other's values of the fields it has none
    for (custom fields one by one); where both have a value, its own stays."""
    changes = {
        k: v
        for k, v in other.items()
        if k not in MERGE_KEEPS and _empty(keep.get(k)) and not _empty(v)
    }
    own, theirs = keep.get("custom_fields") or {}, other.get("custom_fields") or {}
    filled = {k: v for k, v in theirs.items() if _empty(own.get(k)) and not _empty(v)}
    if filled:
        changes["custom_fields"] = {**own, **filled}
    return changes


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _party(pid: int, email: str, name: str, at_ms: int) -> dict:
    """A mail message party as the mailbox shows one (its time in epoch milliseconds)."""
    return {
        "id": pid,
        "name": name,
        "latest_sent": False,
        "email_address": email,
        "message_time": at_ms,
        "mail_message_party_id": pid,
        "linked_organization_id": None,
    }


def _domain(company: str, org: int) -> str:
    return f"{company.lower()}{org}.example.com"
