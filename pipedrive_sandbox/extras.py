"""The company's projects, tasks and call logs, its roles, permission sets, goals, lead and
project fields, and the children of deals, products and organizations: deal participants,
deal installments, product variations and organization relationships.

The larger lists (call logs, projects, tasks) and the children are made like the main entities:
the columns their lists filter and relate on are drawn once, at build, from one stream of the
seed per list (a few draws a record, no generator seeded per record, so start-up stays quick);
a record is made from (seed, list, index) only when it is read. Writes live in the overlay.
Reference lists are small and built whole.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .generator import (
    BOARDS,
    CALL_OUTCOMES,
    DAY_MS,
    LEAD_SOURCES,
    PHASES,
    ROLES,
    FieldDef,
    between,
    choose,
    field_key,
)
from .table import ARCHIVED, DELETED, REMOVED, ComputedKeys, Table, column

if TYPE_CHECKING:
    from .store import Store

COMPANY_ID = 7_100_000  # the sandbox account's company id (call logs, people)
TOKEN_USER = 1  # the user the token belongs to: the call logs list shows this user's calls
PROJECT_STATUSES = ("open", "completed", "canceled")
PROJECT_KINDS = ("Onboarding", "Implementation", "Rollout", "Migration", "Training", "Integration")
PROJECT_LABELS = [(1, "Priority", "red"), (2, "Blocked", "yellow"), (3, "Upsell", "green")]
TASKS = (
    "Kick-off call",
    "Collect requirements",
    "Set up account",
    "Import data",
    "Configure pipelines",
    "Train the team",
    "Review progress",
    "Sign-off",
)
VARIANTS = ("Small", "Medium", "Large", "Extra large")
GOAL_TYPES = (
    "deals_won",
    "deals_progressed",
    "activities_completed",
    "activities_added",
    "deals_started",
)
INTERVALS = ("weekly", "monthly", "quarterly", "yearly")
# (app, name, type, description) of the account's permission sets; custom sets come on top.
PERMISSION_SETS = [
    ("sales", "Deals admin", "admin", "See and edit all sales data (deals, leads)"),
    ("sales", "Deals manager", "manager", "Manage the sales data of the user's team"),
    ("sales", "Deals regular user", "regular", "Access to sales data (deals, leads)"),
    ("global", "Global admin", "admin", "See and edit all cross-product data"),
    ("global", "Global regular user", "regular", "Access to cross-product data"),
    ("projects", "Projects admin", "admin", "See and edit all projects"),
    ("projects", "Projects regular user", "regular", "Access to projects"),
    ("campaigns", "Campaigns admin", "admin", "See and edit all campaigns"),
    ("campaigns", "Campaigns regular user", "regular", "Access to campaigns"),
    ("account_settings", "Account settings", "admin", "Company account level features"),
]
PERMISSION_APPS = (
    "sales",
    "projects",
    "campaigns",
    "global",
    "account_settings",
    "partnership",
    "nova",
)
LEAD_SYSTEM_FIELDS = [
    ("Title", "title", "varchar"),
    ("Owner", "owner_id", "user"),
    ("Person", "person_id", "people"),
    ("Organization", "organization_id", "org"),
    ("Value", "value", "monetary"),
    ("Expected close date", "expected_close_date", "date"),
    ("Source", "source_name", "varchar"),
    ("Visible to", "visible_to", "visible_to"),
]
PROJECT_SYSTEM_FIELDS = [
    ("Project Name", "name", "varchar"),
    ("Description", "description", "text"),
    ("Status", "status", "status"),
    ("Board", "board_id", "projects_board"),
    ("Phase", "phase_id", "projects_phase"),
    ("Owner", "owner_id", "user"),
    ("Start date", "start_date", "date"),
    ("End date", "end_date", "date"),
    ("Deals", "deal_ids", "deals"),
    ("People", "person_ids", "people"),
    ("Organization", "org_ids", "org"),
    ("Labels", "label_ids", "set"),
]
PROJECT_CUSTOM_FIELDS = [
    ("Category", "enum", ["Internal", "External", "Research"]),
    ("Budget", "monetary", None),
    ("Go-live date", "date", None),
]
# Participants, installments and variations per parent, drawn per parent; installments only on
# deals with products (the API adds them only to deals with a one-time product).
PARTICIPANTS = [0, 0, 0, 0, 0, 0, 1, 1, 2]
INSTALLMENTS = [0, 0, 0, 0, 0, 0, 0, 2, 3, 4]
VARIATIONS = [0, 0, 0, 0, 0, 0, 2, 3, 4]
RELATED_SHARE = 0.1  # organizations with a parent or a related organization


class Extras:
    """Builds the lists above into the store's tables and makes their generated records."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seed = store.seed
        self.counts = store.counts
        self.now = store.generator.now_ms
        self.old = self.now - 400 * DAY_MS
        self._people: array | None = None  # people per organization, counted when first needed

    def rng(self, name: str, i: int = 0) -> random.Random:
        return self.store.generator.rng(name, i)

    # -- build --------------------------------------------------------------------------------

    def build(self) -> None:
        self._roles()
        self._permission_sets()
        self.store._put_all(
            "lead_sources", ({"id": n, "name": name} for n, name in enumerate(LEAD_SOURCES, 1))
        )
        self._lead_fields()
        self._project_fields()
        self._boards()
        self._goals()
        self._call_logs()
        self._projects()
        self._tasks()
        self._participants()
        self._installments()
        self._variations()
        self._relationships()

    def _roles(self) -> None:
        users = self.counts["users"]
        n = 3 + users // 5
        roles = [(1, "(Unassigned users)", None, 1), (2, "Admins", 1, 1)]
        for r in range(3, n + 1):
            parent = 2 if r < 5 else 3 + (r - 5) % 2
            level = 2 if parent == 2 else 3
            roles.append((r, ROLES[(r - 3) % len(ROLES)], parent, level))
        # The token's user is an admin; the others are spread over the other roles.
        user_role = {u: 2 if u == 1 else 3 + (u - 2) % (n - 2) for u in range(1, users + 1)}
        for uid, role in user_role.items():
            user = self.store.tables["users"].overlay.get(uid)
            if user is not None:
                user["role_id"] = role
        rows = []
        for rid, name, parent, level in roles:
            rows.append(
                {
                    "id": rid,
                    "name": name,
                    "parent_role_id": parent,
                    "level": level,
                    "active_flag": True,
                    "assignment_count": str(sum(1 for r in user_role.values() if r == rid)),
                    "sub_role_count": str(sum(1 for r in roles if r[2] == rid)),
                    "add_ms": self.old,
                    "update_ms": self.old,
                }
            )
        self.store._put_all("roles", rows)

    def _permission_sets(self) -> None:
        users = self.counts["users"]
        rng = self.rng("permission_sets")
        sets = list(PERMISSION_SETS)
        for n in range(1, users // 10 + 1):
            sets.append(("sales", f"Custom sales access {n}", "custom", "A custom sales setup"))
        rows = []
        for n, (app, name, kind, about) in enumerate(sets, start=1):
            count = {"admin": 1, "manager": max(1, users // 5), "regular": users - 1}.get(kind, 1)
            rows.append(
                {
                    "id": _uuid(rng),
                    "order": n,
                    "name": name,
                    "description": about,
                    "app": app,
                    "type": kind,
                    "assignment_count": count,
                }
            )
        self.store._put_all("permission_sets", rows)

    def _lead_fields(self) -> None:
        """The leads' own fields, then the deals' custom fields, which leads share."""
        defs = []
        for n, (name, code, ftype) in enumerate(LEAD_SYSTEM_FIELDS, start=1):
            defs.append(FieldDef("leads", code, name, ftype, None, False, self.old, self.old, n))
        for f in self.store.generated_defs["deals"]:
            n = len(defs) + 1
            times = f.add_ms, f.update_ms
            defs.append(FieldDef("leads", f.key, f.name, f.field_type, f.options, True, *times, n))
        self.store._put_all("lead_fields", ({"id": f.key, "def": f} | _times(f) for f in defs))

    def _project_fields(self) -> None:
        defs = []
        labels = [{"id": i, "label": name, "color": col} for i, name, col in PROJECT_LABELS]
        for n, (name, code, ftype) in enumerate(PROJECT_SYSTEM_FIELDS, start=1):
            options = labels if code == "label_ids" else None
            defs.append(FieldDef("projects", code, name, ftype, options, False, *self._o(), n))
        for name, ftype, labels_ in PROJECT_CUSTOM_FIELDS:
            n = len(defs) + 1
            options = None
            if labels_:
                options = [{"id": n * 100 + k, "label": lab} for k, lab in enumerate(labels_)]
            key = field_key(self.seed, "projects", name)
            defs.append(FieldDef("projects", key, name, ftype, options, True, *self._o(), n))
        self.store._put_all("project_fields", ({"id": f.key, "def": f} | _times(f) for f in defs))
        self.project_defs = [f for f in defs if f.custom]

    def _o(self) -> tuple[int, int]:
        return self.old, self.old

    def _boards(self) -> None:
        boards = 2 + self.counts["users"] // 10
        rows, phases = [], []
        for b in range(1, boards + 1):
            at = self.old + b * 60_000
            rows.append(
                {"id": b, "name": BOARDS[(b - 1) % len(BOARDS)], "order_nr": b}
                | {"add_ms": at, "update_ms": at}
            )
            for order, name in enumerate(PHASES, start=1):
                pid = len(phases) + 1
                phases.append(
                    {"id": pid, "name": name, "board_id": b, "order_nr": order}
                    | {"add_ms": at, "update_ms": at}
                )
        self.store._put_all("boards", rows)
        self.store._put_all("phases", phases)

    def _goals(self) -> None:
        """Two goals per user and two of the company's, over the pipelines and activity
        types; some no longer active."""
        users = self.counts["users"]
        rng = self.rng("goals")
        pipelines = [p["id"] for p in self.store.sorted_rows("pipelines")]
        types = [t["id"] for t in self.store.sorted_rows("activity_types")]
        assignees = [("person", u) for u in range(1, users + 1) for _ in (0, 1)]
        assignees += [("company", COMPANY_ID), ("company", COMPANY_ID)]
        rows = []
        for n, (kind, who) in enumerate(assignees, start=1):
            goal_type = choose(rng, GOAL_TYPES)
            interval = choose(rng, INTERVALS)
            start = self.now - between(rng, 10, 300) * DAY_MS
            # A run of intervals: weeks or months over a quarter or a year, a year or two.
            length = {"weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365}[interval]
            length *= {"weekly": 13, "monthly": 12, "quarterly": 4, "yearly": 1}[interval]
            length *= between(rng, 1, 2)
            params: dict[str, Any] = {}
            if goal_type.startswith("deals"):
                params["pipeline_id"] = sorted(rng.sample(pipelines, between(rng, 1, 2)))
                if goal_type == "deals_progressed":
                    stages = self.store.stages
                    params["stage_id"] = choose(rng, stages)["id"]
            else:
                params["activity_type_id"] = sorted(rng.sample(types, between(rng, 1, 2)))
            metric = "sum" if goal_type == "deals_won" and rng.random() < 0.5 else "quantity"
            outcome: dict[str, Any] = {
                "target": between(rng, 5, 50) * (1000 if metric == "sum" else 1),
                "tracking_metric": metric,
            }
            if metric == "sum":
                outcome["currency_id"] = 1
            rows.append(
                {
                    "id": _hex(rng),
                    "order": n,
                    "owner_id": who if kind == "person" else 1,
                    "title": f"{goal_type.replace('_', ' ').capitalize()} {interval} ({n})",
                    "type": {"name": goal_type, "params": params},
                    "assignee": {"id": who, "type": kind},
                    "interval": interval,
                    "duration": {
                        "start": _date(start),
                        "end": _date(start + length * DAY_MS - DAY_MS),
                    },
                    "expected_outcome": outcome,
                    "is_active": rng.random() < 0.75,
                    "report_ids": [_hex(rng)],
                }
            )
        self.store._put_all("goals", rows)

    # -- larger lists -------------------------------------------------------------------------

    def _call_logs(self) -> None:
        """Calls made by the users, half of them by the token's user (the list shows only
        that user's); ids like Pipedrive's (`CA` and 32 hex digits) computed from the index."""
        n, users = self.counts["call_logs"], self.counts["users"]
        rng = self.rng("call_logs_columns")
        user, added = _ids(n), column(n)
        for i in range(1, n + 1):
            user[i] = TOKEN_USER if rng.random() < 0.5 else between(rng, 1, users)
            added[i] = (self.now - between(rng, 3_600_000, 365 * DAY_MS)) // 1000 * 1000
        keys = ComputedKeys("CA", rng.getrandbits(128), rng.getrandbits(128))
        columns = {"user_id": user, "add_ms": added, "update_ms": added}
        self._table("call_logs", Table(n, self._call_log, keys, columns))

    def _call_log(self, i: int) -> dict:
        columns = self.store.tables["call_logs"].columns
        rng = self.rng("call_logs", i)
        deal = between(rng, 1, self.counts["deals"])
        person = self.store.tables["deals"].columns["person_id"][deal]
        outcome = choose(rng, CALL_OUTCOMES)
        seconds = between(rng, 30, 1800) if outcome == "connected" else 0
        start = columns["add_ms"][i]
        user = columns["user_id"][i]
        row = {
            "id": self.store.tables["call_logs"].key_of(i),
            "user_id": user,
            "activity_id": between(rng, 1, self.counts["activities"]),
            "subject": f"Call with {self.store._title('persons', person)}",
            "duration": str(seconds),
            "outcome": outcome,
            "from_phone_number": f"+1555000{user:04d}",
            "to_phone_number": f"+1555{person:07d}",
            "start_ms": start,
            "end_ms": start + seconds * 1000,
            "person_id": person,
            "org_id": self.store._org_of_person(person),
            "deal_id": deal,
            "note": f"Call {i}: {outcome.replace('_', ' ')}" if i % 3 else None,
            "has_recording": outcome == "connected" and rng.random() < 0.3,
            "company_id": COMPANY_ID,
            "add_ms": start,
            "update_ms": start,
            "is_deleted": False,
        }
        if i % 7 == 0:
            row["lead_id"] = self.store._lead_key(i)
        return row

    def _projects(self) -> None:
        n = self.counts["projects"]
        deals, phases = self.counts["deals"], len(self.store.tables["phases"])
        rng = self.rng("projects_columns")
        ids = ("status", "phase_id", "deal_id", "person_id", "org_id")
        cols = {"add_ms": column(n), "update_ms": column(n)} | {k: _ids(n) for k in ids}
        flags = bytearray(n + 1)
        person_of = self.store.tables["deals"].columns["person_id"]
        for i in range(1, n + 1):
            add = (self.now - between(rng, 2 * DAY_MS, 500 * DAY_MS)) // 1000 * 1000
            update = between(rng, add, self.now - 60_000) // 1000 * 1000
            status = choose(rng, (0, 0, 0, 0, 0, 1, 1, 1, 2))
            deal = between(rng, 1, deals) if rng.random() < 0.8 else 0
            person = person_of[deal] if deal else 0
            cols["add_ms"][i], cols["update_ms"][i] = add, update
            cols["status"][i], cols["phase_id"][i] = status, between(rng, 1, phases)
            cols["deal_id"][i], cols["person_id"][i] = deal, person
            cols["org_id"][i] = (self.store._org_of_person(person) or 0) if person else 0
            roll = rng.random()
            if roll < 0.03:  # deleted lately: the API shows deleted projects for 30 days
                flags[i] = DELETED
                update = max(add, (self.now - between(rng, DAY_MS, 25 * DAY_MS)) // 1000 * 1000)
                cols["update_ms"][i] = update
            elif status == 1 and roll < 0.4:
                flags[i] = ARCHIVED
        self._table("projects", Table(n, self._project, None, cols, flags))

    def project_title(self, i: int) -> str:
        """A project's title, from its columns (notes and files show it beside its id)."""
        row = self.store.tables["projects"].overlay.get(i)
        if isinstance(row, dict):
            return row["title"]
        cols = self.store.tables["projects"].columns
        org, person = cols["org_id"][i], cols["person_id"][i]
        kind = PROJECT_KINDS[i % len(PROJECT_KINDS)]
        if org:
            return f"{kind} for {self.store._title('organizations', org)}"
        if person:
            return f"{kind} for {self.store._title('persons', person)}"
        return f"Internal {kind.lower()} {i}"

    def _project(self, i: int) -> dict:
        table = self.store.tables["projects"]
        cols, flag = table.columns, table.flags[i]
        rng = self.rng("projects", i)
        add, update = cols["add_ms"][i], cols["update_ms"][i]
        phase = self.store.get("phases", cols["phase_id"][i])
        deal, person, org = cols["deal_id"][i], cols["person_id"][i], cols["org_id"][i]
        status = PROJECT_STATUSES[cols["status"][i]]
        archived = bool(flag & ARCHIVED)
        return {
            "id": i,
            "title": self.project_title(i),
            "description": f"{PROJECT_KINDS[i % len(PROJECT_KINDS)]} project"
            + (f" of deal {deal}" if deal else ""),
            "status": status,
            "board_id": phase["board_id"],
            "phase_id": phase["id"],
            "owner_id": between(rng, 1, self.counts["users"]),
            "start_date": _date(add),
            "end_date": _date(add + between(rng, 14, 120) * DAY_MS),
            "deal_ids": [deal] if deal else [],
            "person_ids": [person] if person else [],
            "org_ids": [org] if org else [],
            "label_ids": sorted(rng.sample([1, 2, 3], between(rng, 0, 2))),
            "health_status": choose(rng, (None, 10, 20, 30)),
            "add_ms": add,
            "update_ms": update,
            "status_change_ms": between(rng, add, update) // 1000 * 1000,
            "archive_ms": update if archived else None,
            "is_archived": archived,
            "is_deleted": bool(flag & DELETED),
            "custom_fields": {
                f.key: self.store.generator.custom_value(rng, f) for f in self.project_defs
            },
        }

    def _tasks(self) -> None:
        """Tasks of projects; a quarter are subtasks of an earlier task of their project,
        some roots are milestones."""
        n, users = self.counts["tasks"], self.counts["users"]
        projects = self.counts["projects"]
        rng = self.rng("tasks_columns")
        ids = ("project_id", "parent_task_id", "bits", "a1", "a2")
        cols = {"add_ms": column(n), "update_ms": column(n)} | {k: _ids(n) for k in ids}
        started = self.store.tables["projects"].columns["add_ms"]
        last_root: dict[int, int] = {}
        for i in range(1, n + 1):
            project = between(rng, 1, projects)
            add = between(rng, started[project], self.now - DAY_MS) // 1000 * 1000
            update = between(rng, add, self.now - 60_000) // 1000 * 1000
            parent = last_root.get(project, 0) if rng.random() < 0.25 else 0
            done = rng.random() < 0.4
            milestone = not parent and rng.random() < 0.1
            if not parent:
                last_root[project] = i
            first = between(rng, 1, users)
            second = between(rng, 1, users) if rng.random() < 0.25 else 0
            cols["add_ms"][i], cols["update_ms"][i] = add, update
            cols["project_id"][i], cols["parent_task_id"][i] = project, parent
            cols["bits"][i] = int(done) | int(milestone) << 1
            cols["a1"][i], cols["a2"][i] = first, second if second != first else 0
        self._table("tasks", Table(n, self._task, None, cols))

    def task_title(self, i: int) -> str:
        row = self.store.tables["tasks"].overlay.get(i)
        if isinstance(row, dict):
            return row["title"]
        return f"{TASKS[i % len(TASKS)]} ({i})"

    def _task(self, i: int) -> dict:
        cols = self.store.tables["tasks"].columns
        rng = self.rng("tasks", i)
        add, update = cols["add_ms"][i], cols["update_ms"][i]
        done = bool(cols["bits"][i] & 1)
        assignees = [a for a in (cols["a1"][i], cols["a2"][i]) if a]
        due = add + between(rng, 3, 60) * DAY_MS if rng.random() < 0.7 else None
        return {
            "id": i,
            "title": self.task_title(i),
            "creator_id": between(rng, 1, self.counts["users"]),
            "description": f"Step {i} of the project" if rng.random() < 0.5 else None,
            "project_id": cols["project_id"][i],
            "is_done": done,
            "is_milestone": bool(cols["bits"][i] & 2),
            "due_date": _date(due) if due else None,
            "start_date": _date(add) if due and rng.random() < 0.5 else None,
            "parent_task_id": cols["parent_task_id"][i] or None,
            "assignee_ids": assignees,
            "priority": choose(rng, (None, None, 1, 2, 3)),
            "add_ms": add,
            "update_ms": update,
            "done_ms": update if done else None,
            "is_deleted": False,
        }

    # -- children -----------------------------------------------------------------------------

    def _children(
        self,
        name: str,
        parents: int,
        per_parent: Callable[[random.Random, int], int],
        make: Callable[[int], dict],
    ) -> None:
        """A child table: each parent's children numbered in parent order, how many drawn per
        parent from one stream; columns keep each child's parent and where each parent's run
        starts."""
        rng = self.rng(f"{name}_columns")
        first = _ids(parents + 1)
        owners = array("i", [0])
        for p in range(1, parents + 1):
            first[p] = len(owners)
            count = per_parent(rng, p)
            if count:
                owners.extend([p] * count)
        first[parents + 1] = len(owners)
        columns = {"parent": owners, "first": first}
        self._table(name, Table(len(owners) - 1, make, None, columns))

    def _participants(self) -> None:
        self._children(
            "deal_participants",
            self.counts["deals"],
            lambda rng, _: choose(rng, PARTICIPANTS),
            self._participant,
        )

    def _participant(self, k: int) -> dict:
        table = self.store.tables["deal_participants"]
        deal = table.columns["parent"][k]
        deals = self.store.tables["deals"].columns
        rng = self.rng("deal_participants", deal)
        own = deals["person_id"][deal]
        for _ in range(k - table.columns["first"][deal] + 1):
            person = between(rng, 1, self.counts["persons"])
            at = between(rng, deals["add_ms"][deal], deals["update_ms"][deal]) // 1000 * 1000
            by = between(rng, 1, self.counts["users"])
        if person == own:  # a participant is someone other than the deal's person
            person = person % self.counts["persons"] + 1
        return {
            "id": k,
            "deal_id": deal,
            "person_id": person,
            "added_by": by,
            "add_ms": at,
            "update_ms": at,
        }

    def _installments(self) -> None:
        products = self.store.tables["deal_products"].columns["first"]
        deals = self.counts["deals"]

        def per_deal(rng: random.Random, deal: int) -> int:
            end = products[deal + 1] if deal < deals else self.store.tables["deal_products"].n + 1
            drawn = choose(rng, INSTALLMENTS)
            return drawn if end > products[deal] else 0

        self._children("deal_installments", deals, per_deal, self._installment)

    def _installment(self, k: int) -> dict:
        table = self.store.tables["deal_installments"]
        deal = table.columns["parent"][k]
        first = table.columns["first"]
        number, count = k - first[deal], first[deal + 1] - first[deal]
        store = self.store
        products = [store.tables["deal_products"].make(p) for p in _generated_products(store, deal)]
        total = sum(p["quantity"] * p["item_price"] for p in products)
        share = round(total / count, 2)
        amount = round(total - share * (count - 1), 2) if number == count - 1 else share
        added = store.tables["deals"].columns["add_ms"][deal]
        label = "Deposit" if number == 0 else f"Payment {number + 1}"
        return {
            "id": k,
            "deal_id": deal,
            "amount": amount,
            "billing_date": _date(added + (30 + 30 * number) * DAY_MS),
            "description": "Final payment" if number == count - 1 else label,
            "add_ms": added,
            "update_ms": added,
        }

    def _variations(self) -> None:
        self._children(
            "product_variations",
            self.counts["products"],
            lambda rng, _: choose(rng, VARIATIONS),
            self._variation,
        )

    def _variation(self, k: int) -> dict:
        table = self.store.tables["product_variations"]
        product = table.columns["parent"][k]
        number = k - table.columns["first"][product]
        base = self.store.generated("products", product)
        price = base["prices"][0]["price"] * (1 + 0.25 * number)
        rng = self.rng("product_variations", k)
        cost = round(price * rng.uniform(0.3, 0.6), 2)
        return {
            "id": k,
            "product_id": product,
            "name": f"{base['name']} {VARIANTS[number % len(VARIANTS)]}",
            "prices": [
                {
                    "currency": "USD",
                    "price": round(price, 2),
                    "cost": cost,
                    "direct_cost": round(cost / 2, 2),
                    "notes": f"Price of the {VARIANTS[number % len(VARIANTS)].lower()} one",
                }
            ],
            "add_ms": base["add_ms"],
            "update_ms": base["add_ms"],
        }

    def _relationships(self) -> None:
        """A tenth of the organizations have a parent organization or a related one."""
        orgs = self.counts["organizations"]
        rng = self.rng("organization_relationships_columns")
        owner, linked, kind = array("i", [0]), array("i", [0]), bytearray(1)
        self.relations: dict[int, list[int]] = {}
        for o in range(1, orgs + 1):
            if orgs > 1 and rng.random() < RELATED_SHARE:
                other = between(rng, 1, orgs - 1)
                other += other >= o
                k = len(owner)
                owner.append(other)
                linked.append(o)
                kind.append(rng.random() < 0.3)  # 1: related, 0: parent
                self.relations.setdefault(other, []).append(k)
                self.relations.setdefault(o, []).append(k)
        columns = {"owner": owner, "linked": linked}
        table = Table(len(owner) - 1, self._relationship, None, columns)
        table.kinds = kind  # type: ignore[attr-defined]
        self._table("organization_relationships", table)

    def _relationship(self, k: int) -> dict:
        table = self.store.tables["organization_relationships"]
        owner, linked = table.columns["owner"][k], table.columns["linked"][k]
        orgs = self.store.tables["organizations"].columns
        start = max(orgs["add_ms"][owner], orgs["add_ms"][linked])
        end = max(start, min(orgs["update_ms"][owner], orgs["update_ms"][linked]))
        at = between(self.rng("organization_relationships", k), start, end) // 1000 * 1000
        return {
            "id": k,
            "type": "related" if table.kinds[k] else "parent",  # type: ignore[attr-defined]
            "rel_owner_org_id": owner,
            "rel_linked_org_id": linked,
            "add_ms": at,
            "update_ms": at,
        }

    def relationship_ids(self, org: int) -> list[int]:
        """The relationships an organization is in (either side), generated and written."""
        table = self.store.tables["organization_relationships"]
        ids = {k for k in self.relations.get(org, ()) if k in table}
        ids.update(
            k
            for k, r in table.overlay.items()
            if r is not REMOVED and org in (r["rel_owner_org_id"], r["rel_linked_org_id"])
        )
        return sorted(ids)

    def people_count(self, org: int) -> int:
        """People of a generated organization (counted once, from the persons' column)."""
        if self._people is None:
            counts = _ids(self.counts["organizations"])
            for o in self.store.tables["persons"].columns["org_id"]:
                if o:
                    counts[o] += 1
            self._people = counts
        return self._people[org] if 0 < org < len(self._people) else 0

    def _table(self, name: str, table: Table) -> None:
        self.store.tables[name] = table
        self.store._next_id[name] = table.n + 1


def child_ids(store: Store, name: str, parents: Iterable[int]) -> list[int]:
    """Ids of the children of these parents, from the columns (no scan of the table)."""
    table = store.tables[name]
    first, wanted = table.columns["first"], set(parents)
    ids: set[int] = set()
    for parent in wanted:
        if 1 <= parent < len(first) - 1:
            ids.update(k for k in range(first[parent], first[parent + 1]) if k in table)
    key = PARENT_KEYS[name]
    ids.update(k for k, r in table.overlay.items() if r is not REMOVED and r.get(key) in wanted)
    return sorted(ids)


PARENT_KEYS = {
    "deal_participants": "deal_id",
    "deal_installments": "deal_id",
    "product_variations": "product_id",
}


def _generated_products(store: Store, deal: int) -> range:
    first = store.tables["deal_products"].columns["first"]
    end = first[deal + 1] if deal < store.counts["deals"] else store.tables["deal_products"].n + 1
    return range(first[deal], end)


def _times(f: FieldDef) -> dict:
    return {"add_ms": f.add_ms, "update_ms": f.update_ms}


def _ids(n: int) -> array:
    """A column of ids or small numbers (half the size of a time column)."""
    return array("i", bytes(4 * (n + 1)))


def _date(ms: int) -> str:
    from .clock import day

    return day(ms) or ""


def _uuid(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"
