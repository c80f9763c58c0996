"""The routes of `extras.py`'s lists: projects, tasks, call logs, goals, roles, permission sets,
lead sources, lead and project fields, and the children of deals, products and organizations,
with the writes that add and delete those children (each moves its parent's update_time, as
Pipedrive does, so that an incremental reader re-reads the parent and then its children).

Parameters are validated as the description documents them: a value of the wrong type or out of
its enum is a 400 with Pipedrive's error body.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from . import render
from .app import (
    TOKEN_USER,
    Api,
    BadRequest,
    _after,
    _decode_cursor,
    _encode_cursor,
    _int,
    _int_param,
    _limit,
    _object,
    error,
)
from .clock import v1_time
from .extras import COMPANY_ID, GOAL_TYPES, PERMISSION_APPS, PROJECT_STATUSES, child_ids
from .history import Author
from .table import DELETED, SortedView

DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
CALL_LOG_LIMIT = 50  # the description: "The upper limit is 50"
MAX_DEAL_IDS = 100  # installments: "A maximum of 100 deal IDs can be provided"
INSTALLMENT_SORTS = ("id", "billing_date", "deal_id")
GOAL_ASSIGNEE_TYPES = ("person", "company", "team")
GOAL_METRICS = ("quantity", "sum")
# Goal search parameters after which everyone's goals are searched, not only the token user's
# (the description's "If provided, everyone's goals will be returned").
EVERYONE = (
    "type.name",
    "assignee.type",
    "expected_outcome.target",
    "expected_outcome.tracking_metric",
    "expected_outcome.currency_id",
    "type.params.pipeline_id",
    "type.params.stage_id",
    "type.params.activity_type_id",
)
Handler = Callable[..., tuple[int, Any]]


class ExtrasApi:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store

    def register(self) -> None:
        r = self.api.route
        r("GET", "/api/v1/roles", self.api._v1_list_handler("roles", render.role))
        r("GET", "/api/v1/permissionSets", self.permission_sets)
        r("GET", "/api/v1/leadSources", self.lead_sources)
        r(
            "GET",
            "/api/v1/leadFields",
            self.api._v1_list_handler("lead_fields", render.lead_field, flat=True),
        )
        r("GET", "/api/v2/projectFields", self.project_fields)
        r("GET", "/api/v2/boards", self.boards)
        r("GET", "/api/v2/phases", self.phases)
        r("GET", "/api/v1/goals/find", self.goals)
        r("GET", "/api/v1/callLogs", self.call_logs)
        r("GET", "/api/v2/projects", self._projects_handler(archived=False))
        r("GET", "/api/v2/projects/archived", self._projects_handler(archived=True))
        r("GET", "/api/v2/tasks", self.tasks)
        r("GET", "/api/v1/deals/{rid}/participants", self.participants)
        r("POST", "/api/v1/deals/{rid}/participants", self.add_participant)
        r("DELETE", "/api/v1/deals/{rid}/participants/{cid}", self.delete_participant)
        r("GET", "/api/v2/deals/installments", self.installments)
        r("POST", "/api/v2/deals/{rid}/installments", self.add_installment)
        r("DELETE", "/api/v2/deals/{rid}/installments/{cid}", self.delete_installment)
        r("GET", "/api/v2/products/{rid}/variations", self.variations)
        r("POST", "/api/v2/products/{rid}/variations", self.add_variation)
        r("DELETE", "/api/v2/products/{rid}/variations/{cid}", self.delete_variation)
        r("GET", "/api/v1/organizationRelationships", self.relationships)
        r("POST", "/api/v1/organizationRelationships", self.add_relationship)
        r("DELETE", "/api/v1/organizationRelationships/{rid}", self.delete_relationship)

    # -- reference lists ------------------------------------------------------------------------

    def permission_sets(self, query: dict, **_: Any) -> tuple[int, Any]:
        app = _choice(query, "app", PERMISSION_APPS)
        rows = sorted(self.store.tables["permission_sets"].values(), key=lambda r: r["order"])
        data = [render.permission_set(r) for r in rows if app in (None, r["app"])]
        return 200, {"success": True, "data": data}

    def lead_sources(self, **_: Any) -> tuple[int, Any]:
        rows = self.store.sorted_rows("lead_sources")
        return 200, {"success": True, "data": [render.lead_source(r) for r in rows]}

    def project_fields(self, query: dict, **_: Any) -> tuple[int, Any]:
        rows = sorted(self.store.tables["project_fields"].values(), key=lambda r: r["def"].id)
        page, nxt = _sorted_page(rows, lambda r: [r["def"].id], query)
        return 200, {
            "success": True,
            "data": [render.project_field(r) for r in page],
            "additional_data": {"next_cursor": nxt},
        }

    def boards(self, **_: Any) -> tuple[int, Any]:
        rows = self.store.sorted_rows("boards")
        return 200, {
            "success": True,
            "data": [render.board(r) for r in rows],
            "additional_data": None,
        }

    def phases(self, query: dict, **_: Any) -> tuple[int, Any]:
        board = _integer(query, "board_id")
        if board is None:
            raise BadRequest("Parameter board_id is required")
        rows = [r for r in self.store.sorted_rows("phases") if r["board_id"] == board]
        return 200, {
            "success": True,
            "data": [render.phase(r) for r in rows],
            "additional_data": None,
        }

    def goals(self, query: dict, **_: Any) -> tuple[int, Any]:
        """Goals found by the description's criteria: active ones unless `is_active=false`,
        only the token user's unless a criterion that searches everyone's is given."""
        kind = _choice(query, "type.name", GOAL_TYPES)
        active = _boolean(query, "is_active")
        assignee = _integer(query, "assignee.id")
        assignee_type = _choice(query, "assignee.type", GOAL_ASSIGNEE_TYPES)
        target = _number(query, "expected_outcome.target")
        metric = _choice(query, "expected_outcome.tracking_metric", GOAL_METRICS)
        currency = _integer(query, "expected_outcome.currency_id")
        pipelines = _integers(query, "type.params.pipeline_id")
        stage = _integer(query, "type.params.stage_id")
        activity_types = _integers(query, "type.params.activity_type_id")
        start, end = _date(query, "period.start"), _date(query, "period.end")
        if (start is None) != (end is None):
            raise BadRequest("period.start and period.end must be provided together")
        everyone = any(query.get(name) for name in EVERYONE)

        def wanted(g: dict) -> bool:
            params, outcome, who = g["type"]["params"], g["expected_outcome"], g["assignee"]
            if g["is_active"] != (True if active is None else active):
                return False
            if assignee is not None and who["id"] != assignee:
                return False
            if assignee is None and not everyone and who != {"id": TOKEN_USER, "type": "person"}:
                return False
            return (
                kind in (None, g["type"]["name"])
                and assignee_type in (None, who["type"])
                and query.get("title") in (None, "", g["title"])
                and target in (None, outcome["target"])
                and metric in (None, outcome["tracking_metric"])
                and currency in (None, outcome.get("currency_id"))
                and stage in (None, params.get("stage_id"))
                and (not pipelines or bool(pipelines & set(params.get("pipeline_id", ()))))
                and (
                    not activity_types
                    or bool(activity_types & set(params.get("activity_type_id", ())))
                )
                and (
                    start is None
                    or (g["duration"]["start"] <= end and g["duration"]["end"] >= start)
                )
            )

        rows = sorted(self.store.tables["goals"].values(), key=lambda g: g["order"])
        return 200, {
            "success": True,
            "statusCode": 20000,
            "statusText": "OK",
            "service": "statistics-goals-api",
            "data": {"goals": [render.goal(g) for g in rows if wanted(g)]},
        }

    # -- larger lists -------------------------------------------------------------------------

    def call_logs(self, query: dict, **_: Any) -> tuple[int, Any]:
        """The token user's call logs, in offset pages of at most 50, in id order."""
        start = _int_param(query, "start", 0)
        limit = _limit(query, CALL_LOG_LIMIT, default=CALL_LOG_LIMIT)
        rows = self.store.sorted_rows("call_logs")
        page, seen, more = [], 0, False
        for i in range(len(rows)):
            if rows.flags(i) & DELETED or rows.column(i, "user_id") != TOKEN_USER:
                continue
            if seen >= start:
                if len(page) == limit:
                    more = True
                    break
                page.append(rows[i])
            seen += 1
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return 200, {
            "success": True,
            "data": [render.call_log(r) for r in page] or None,
            "additional_data": {"pagination": pagination},
        }

    def _projects_handler(self, archived: bool) -> Handler:
        """Projects in id order, the archived ones only in the archived list; `status` a comma
        list of open, completed, canceled and deleted (deleted ones only when asked for)."""
        linked = () if archived else ("deal_id", "person_id", "org_id")

        def handler(query: dict, **_: Any) -> tuple[int, Any]:
            statuses = _statuses(query)
            self._check_filter(query)
            phase = _integer(query, "phase_id")
            links = {k: v for k in linked if (v := _integer(query, k)) is not None}

            def keep(rows: SortedView, i: int) -> bool:
                written, flags = rows.written(i), rows.flags(i)
                if bool(flags & 2) != archived:  # ARCHIVED
                    return False
                if written is not None:
                    status = "deleted" if written.get("is_deleted") else written["status"]
                    if phase is not None and written["phase_id"] != phase:
                        return False
                    return status in statuses and all(
                        v in written[f"{k}s"] for k, v in links.items()
                    )
                code = rows.column(i, "status")
                status = "deleted" if flags & DELETED else PROJECT_STATUSES[code]
                if status not in statuses:
                    return False
                if phase is not None and rows.column(i, "phase_id") != phase:
                    return False
                return all(rows.column(i, k) == v for k, v in links.items())

            return self._v2_scan("projects", query, keep, render.project)

        return handler

    def _check_filter(self, query: dict) -> None:
        """`filter_id` names one of the account's filters (which set no conditions on
        projects in the sandbox)."""
        fid = _integer(query, "filter_id")
        if fid is not None and self.store.get("filters", fid) is None:
            raise BadRequest(f"Filter with id {fid} does not exist")

    def tasks(self, query: dict, **_: Any) -> tuple[int, Any]:
        done = _boolean(query, "is_done")
        milestone = _boolean(query, "is_milestone")
        assignee = _integer(query, "assignee_id")
        project = _integer(query, "project_id")
        parent: int | None = None
        roots = False
        if query.get("parent_task_id") == "null":
            roots = True
        else:
            parent = _integer(query, "parent_task_id")

        def keep(rows: SortedView, i: int) -> bool:
            if rows.flags(i) & DELETED:
                return False
            written = rows.written(i)
            if written is not None:
                values = (
                    written["is_done"],
                    written["is_milestone"],
                    written["assignee_ids"],
                    written["project_id"],
                    written.get("parent_task_id"),
                )
            else:
                bits = rows.column(i, "bits")
                people = [a for a in (rows.column(i, "a1"), rows.column(i, "a2")) if a]
                values = (
                    bool(bits & 1),
                    bool(bits & 2),
                    people,
                    rows.column(i, "project_id"),
                    rows.column(i, "parent_task_id") or None,
                )
            is_done, is_milestone, people, project_id, parent_id = values
            return (
                done in (None, is_done)
                and milestone in (None, is_milestone)
                and (assignee is None or assignee in people)
                and project in (None, project_id)
                and parent in (None, parent_id)
                and not (roots and parent_id is not None)
            )

        return self._v2_scan("tasks", query, keep, render.task)

    def _v2_scan(
        self,
        table: str,
        query: dict,
        keep: Callable[[SortedView, int], bool],
        renderer: Callable[[dict], dict],
    ) -> tuple[int, Any]:
        """A cursor page of a table in id order, filtered on its columns (records are made
        only for the page)."""
        limit = _limit(query, 500, default=100)
        rows = self.store.sorted_rows(table)
        start = 0
        if query.get("cursor"):
            start = _after(rows, _decode_cursor(query["cursor"]), None, False)
        out: list[dict] = []
        more = False
        for i in range(start, len(rows)):
            if keep(rows, i):
                if len(out) == limit:
                    more = True
                    break
                out.append(rows[i])
        nxt = _encode_cursor(out[-1], None) if more and out else None
        return 200, {
            "success": True,
            "data": [renderer(r) for r in out],
            "additional_data": {"next_cursor": nxt},
        }

    # -- deal participants ----------------------------------------------------------------------

    def participants(self, rid: str, query: dict, **_: Any) -> tuple[int, Any]:
        deal = _int(rid)
        if self.store.get("deals", deal) is None:
            return error(404, "Deal not found")
        start = _int_param(query, "start", 0)
        limit = _limit(query, 500, default=100)
        ids = child_ids(self.store, "deal_participants", [deal])
        page = [self.store.get("deal_participants", k) for k in ids[start : start + limit]]
        more = start + limit < len(ids)
        extra = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            extra["next_start"] = start + limit
        related: dict[str, dict] = {"user": {}, "person": {}, "organization": {}}
        data = [self._participant(row, related) for row in page]
        return 200, {
            "success": True,
            "data": data or None,
            "additional_data": extra,
            "related_objects": related,
        }

    def add_participant(self, rid: str, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
        deal = self._live("deals", rid)
        if deal is None:
            return error(404, "Deal not found")
        person = _object(body).get("person_id")
        if type(person) is not int:
            raise BadRequest("person_id is required and must be an integer")
        row = self.store.get("persons", person)
        if row is None or row.get("is_deleted"):
            raise BadRequest(f"Person with id {person} does not exist")
        current = child_ids(self.store, "deal_participants", [deal["id"]])
        if any(self.store.get("deal_participants", k)["person_id"] == person for k in current):
            raise BadRequest(f"Person with id {person} is already a participant of this deal")
        participant = {
            "id": self.store.new_id("deal_participants"),
            "deal_id": deal["id"],
            "person_id": person,
            "added_by": author.user_id,
        }
        self.store.insert("deal_participants", participant, by=author)
        self._touch("deals", deal["id"], author)
        related: dict[str, dict] = {"user": {}, "person": {}, "organization": {}}
        data = self._participant(participant, related)
        del related["organization"]  # the add's description relates users and persons only
        return 200, {"success": True, "data": data, "related_objects": related}

    def delete_participant(self, rid: str, cid: str, author: Author, **_: Any) -> tuple[int, Any]:
        deal = self._live("deals", rid)
        if deal is None:
            return error(404, "Deal not found")
        key = _int(cid)
        row = self.store.get("deal_participants", key)
        if row is None or row["deal_id"] != deal["id"]:
            return error(404, "Participant not found")
        self._remove("deal_participants", key)
        self._touch("deals", deal["id"], author)
        return 200, {"success": True, "data": {"id": key}}

    def _participant(self, row: dict, related: dict[str, dict]) -> dict:
        """A participant as the v1 list shows one: the person twice (brief under `person_id`,
        whole under `person`), the deal, the user who added it; their objects also go into
        `related_objects`."""
        store = self.store
        person = store.get("persons", row["person_id"]) or {"id": row["person_id"], "name": ""}
        deal = store.get("deals", row["deal_id"]) or {}
        adder = self._user_ref(row["added_by"])
        owner = self._user_ref(person.get("owner_id") or TOKEN_USER)
        emails, phones = person.get("emails") or [], person.get("phones") or []
        active = not person.get("is_deleted")
        org = self._org_ref(person.get("org_id"))
        related["user"][str(adder["id"])] = adder
        related["user"][str(owner["id"])] = owner
        related["person"][str(person["id"])] = {
            "active_flag": active,
            "id": person["id"],
            "name": person.get("name") or "",
            "email": emails,
            "phone": phones,
            "owner_id": owner["id"],
        }
        if org is not None and "organization" in related:
            related["organization"][str(org["value"])] = {
                "id": org["value"],
                **{k: v for k, v in org.items() if k not in ("value", "label_ids")},
            }
        values = {
            "id": row["id"],
            "person_id": {
                "active_flag": active,
                "name": person.get("name") or "",
                "email": emails,
                "phone": phones,
                "owner_id": owner["id"],
                "company_id": COMPANY_ID,
                "value": person["id"],
            },
            "add_time": v1_time(row["add_ms"]),
            "active_flag": True,
            "related_item_data": {"deal_id": row["deal_id"], "title": deal.get("title") or ""},
            "person": self._v1_person(person, owner, org),
            "added_by_user_id": {**adder, "value": adder["id"]},
            "related_item_type": "deal",
            "related_item_id": row["deal_id"],
        }
        return render.conform(values, render.item_shape("deal_participants"))

    def _v1_person(self, person: dict, owner: dict, org: dict | None) -> dict:
        """A person as v1 shows one inside a participant (counts of related records as the
        sandbox keeps none: zero, this deal counted as a participant's open deal)."""
        name = person.get("name") or ""
        counts = dict.fromkeys(
            (
                "open_deals_count",
                "related_open_deals_count",
                "closed_deals_count",
                "related_closed_deals_count",
                "participant_closed_deals_count",
                "email_messages_count",
                "activities_count",
                "done_activities_count",
                "undone_activities_count",
                "files_count",
                "notes_count",
                "won_deals_count",
                "related_won_deals_count",
                "lost_deals_count",
                "related_lost_deals_count",
            ),
            0,
        )
        return {
            "id": person["id"],
            "company_id": COMPANY_ID,
            "owner_id": {**owner, "value": owner["id"]},
            "org_id": org,
            "name": name,
            "first_name": person.get("first_name") or name,
            "last_name": person.get("last_name"),
            **counts,
            "participant_open_deals_count": 1,
            "followers_count": 1,
            "active_flag": not person.get("is_deleted"),
            "phone": person.get("phones") or [],
            "email": person.get("emails") or [],
            "first_char": name[:1].lower(),
            "update_time": v1_time(person.get("update_ms")),
            "add_time": v1_time(person.get("add_ms")),
            "visible_to": "3",
            "picture_id": render._picture(person) if person.get("add_ms") else None,
            "sync_needed": False,
            "next_activity_date": None,
            "next_activity_time": None,
            "next_activity_id": None,
            "last_activity_id": None,
            "last_activity_date": None,
            "last_incoming_mail_time": None,
            "last_outgoing_mail_time": None,
            "label": None,
            "label_ids": [],
            "org_name": org["name"] if org else None,
            "owner_name": owner["name"],
            "cc_email": None,
        }

    def _user_ref(self, uid: int) -> dict:
        user = self.store.get("users", uid) or {"id": uid, "name": f"User {uid}", "email": ""}
        return {
            "id": user["id"],
            "name": user["name"],
            "email": user["email"],
            "has_pic": 0,
            "pic_hash": None,
            "active_flag": True,
        }

    def _org_ref(self, oid: int | None) -> dict | None:
        """An organization as v1 shows one beside a record: its name, people and owner, `value`
        its id."""
        org = self.store.get("organizations", oid) if oid else None
        if org is None:
            return None
        address = org.get("address")
        return {
            "name": org["name"],
            "people_count": self.store.extras.people_count(org["id"]),
            "owner_id": org["owner_id"],
            "address": address.get("value") if isinstance(address, dict) else address,
            "active_flag": not org.get("is_deleted"),
            "cc_email": f"org{org['id']}@sandbox.pipedrivemail.com",
            "label_ids": [],
            "value": org["id"],
        }

    # -- deal installments --------------------------------------------------------------------

    def installments(self, query: dict, **_: Any) -> tuple[int, Any]:
        deals = _integers(query, "deal_ids")
        if not deals:
            raise BadRequest("Parameter deal_ids is required")
        if len(deals) > MAX_DEAL_IDS:
            raise BadRequest(f"deal_ids accepts at most {MAX_DEAL_IDS} ids")
        sort_by = _choice(query, "sort_by", INSTALLMENT_SORTS) or "id"
        desc = (_choice(query, "sort_direction", ("asc", "desc")) or "asc") == "desc"
        rows = [
            self.store.get("deal_installments", k)
            for k in child_ids(self.store, "deal_installments", deals)
        ]

        def key(row: dict) -> list:
            return [row["id"]] if sort_by == "id" else [row[sort_by], row["id"]]

        rows.sort(key=key, reverse=desc)
        page, nxt = _sorted_page(rows, key, query, desc)
        return 200, {
            "success": True,
            "data": [render.installment(r) for r in page],
            "additional_data": {"next_cursor": nxt},
        }

    def add_installment(self, rid: str, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
        deal = self._live("deals", rid)
        if deal is None:
            return error(404, "Deal not found")
        body = _object(body)
        about, amount, billed = (
            body.get("description"),
            body.get("amount"),
            body.get("billing_date"),
        )
        if not isinstance(about, str) or not about.strip():
            raise BadRequest("description is required")
        if type(amount) not in (int, float) or amount <= 0:
            raise BadRequest("amount must be a positive number")
        if not isinstance(billed, str) or not DATE.match(billed) or not _valid_day(billed):
            raise BadRequest("billing_date must be a date in the format YYYY-MM-DD")
        if not self.store.deal_product_ids([deal["id"]]):
            raise BadRequest(
                "An installment can only be added if the deal includes at least one one-time "
                "product"
            )
        row = {
            "id": self.store.new_id("deal_installments"),
            "deal_id": deal["id"],
            "amount": amount,
            "billing_date": billed,
            "description": about,
        }
        self.store.insert("deal_installments", row, by=author)
        self._touch("deals", deal["id"], author)
        return 200, {"success": True, "data": render.installment(row)}

    def delete_installment(self, rid: str, cid: str, author: Author, **_: Any) -> tuple[int, Any]:
        deal = self._live("deals", rid)
        if deal is None:
            return error(404, "Deal not found")
        key = _int(cid)
        row = self.store.get("deal_installments", key)
        if row is None or row["deal_id"] != deal["id"]:
            return error(404, "Installment not found")
        self._remove("deal_installments", key)
        self._touch("deals", deal["id"], author)
        return 200, {"success": True, "data": {"id": key}}

    # -- product variations ---------------------------------------------------------------------

    def variations(self, rid: str, query: dict, **_: Any) -> tuple[int, Any]:
        product = _int(rid)
        if self.store.get("products", product) is None:
            return error(404, "Product not found")
        ids = child_ids(self.store, "product_variations", [product])
        rows = [self.store.get("product_variations", k) for k in ids]
        page, nxt = _sorted_page(rows, lambda r: [r["id"]], query)
        return 200, {
            "success": True,
            "data": [render.variation(r) for r in page],
            "additional_data": {"next_cursor": nxt},
        }

    def add_variation(self, rid: str, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
        product = self._live("products", rid)
        if product is None:
            return error(404, "Product not found")
        body = _object(body)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name is required")
        if len(name) > 255:
            raise BadRequest("name must be at most 255 characters long")
        prices = _prices(body["prices"]) if "prices" in body else None
        if prices is None:  # the description's defaults, in the user's default currency
            prices = [{"currency": "USD", "price": 0, "cost": 0, "direct_cost": 0}]
        row = {
            "id": self.store.new_id("product_variations"),
            "product_id": product["id"],
            "name": name,
            "prices": prices,
        }
        self.store.insert("product_variations", row, by=author)
        self._touch("products", product["id"], author)
        return 201, {"success": True, "data": render.variation(row)}

    def delete_variation(self, rid: str, cid: str, author: Author, **_: Any) -> tuple[int, Any]:
        product = self._live("products", rid)
        if product is None:
            return error(404, "Product not found")
        key = _int(cid)
        row = self.store.get("product_variations", key)
        if row is None or row["product_id"] != product["id"]:
            return error(404, "Product variation not found")
        self._remove("product_variations", key)
        self._touch("products", product["id"], author)
        return 200, {"success": True, "data": {"id": key}}

    # -- organization relationships -----------------------------------------------------------

    def relationships(self, query: dict, **_: Any) -> tuple[int, Any]:
        org = _integer(query, "org_id")
        if org is None:
            raise BadRequest("Parameter org_id is required")
        if self.store.get("organizations", org) is None:
            return error(404, "Organization not found")
        rows = [
            self.store.get("organization_relationships", k)
            for k in self.store.extras.relationship_ids(org)
        ]
        related: dict[str, dict] = {}
        data = [self._relationship(r, org, related) for r in rows]
        extra = {"start": 0, "limit": 100, "more_items_in_collection": False}
        return 200, {
            "success": True,
            "data": data or None,
            "additional_data": extra,
            "related_objects": {"organization": related},
        }

    def add_relationship(self, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
        body = _object(body)
        kind = body.get("type")
        if kind not in ("parent", "related"):
            raise BadRequest("type must be one of parent, related")
        owner, linked = body.get("rel_owner_org_id"), body.get("rel_linked_org_id")
        base = body.get("org_id", owner)
        for name, value in (
            ("rel_owner_org_id", owner),
            ("rel_linked_org_id", linked),
            ("org_id", base),
        ):
            if type(value) is not int:
                raise BadRequest(f"{name} is required and must be an integer")
            org = self.store.get("organizations", value)
            if org is None or org.get("is_deleted"):
                raise BadRequest(f"Organization with id {value} does not exist")
        if owner == linked:
            raise BadRequest("An organization cannot be related to itself")
        if base not in (owner, linked):
            raise BadRequest("org_id must be one of the two organizations")
        row = {
            "id": self.store.new_id("organization_relationships"),
            "type": kind,
            "rel_owner_org_id": owner,
            "rel_linked_org_id": linked,
        }
        self.store.insert("organization_relationships", row, by=author)
        for org in (owner, linked):
            self._touch("organizations", org, author)
        related: dict[str, dict] = {}
        data = self._relationship(row, base, related)
        for key in ("calculated_type", "calculated_related_org_id", "related_organization_name"):
            data.pop(key)  # the add answers with the relationship alone
        return 200, {"success": True, "data": data, "related_objects": {"organization": related}}

    def delete_relationship(self, rid: str, author: Author, **_: Any) -> tuple[int, Any]:
        key = _int(rid)
        row = self.store.get("organization_relationships", key)
        if row is None:
            return error(404, "Organization relationship not found")
        self._remove("organization_relationships", key)
        for org in (row["rel_owner_org_id"], row["rel_linked_org_id"]):
            current = self.store.get("organizations", org)
            if current is not None and not current.get("is_deleted"):
                self._touch("organizations", org, author)
        return 200, {"success": True, "data": {"id": key}}

    def _relationship(self, row: dict, org: int, related: dict[str, dict]) -> dict:
        """A relationship seen from `org`: the other organization is its parent, its daughter
        or related to it."""
        owner, linked = row["rel_owner_org_id"], row["rel_linked_org_id"]
        other = linked if org == owner else owner
        if row["type"] == "related":
            calculated = "related"
        else:
            calculated = "daughter" if org == owner else "parent"
        refs = {}
        for oid in (owner, linked):
            ref = self._org_ref(oid) or {"name": "", "value": oid}
            ref.pop("label_ids", None)
            refs[oid] = ref
            related[str(oid)] = {"id": oid, **{k: v for k, v in ref.items() if k != "value"}}
        values = {
            "id": row["id"],
            "type": row["type"],
            "rel_owner_org_id": refs[owner],
            "rel_linked_org_id": refs[linked],
            "add_time": v1_time(row["add_ms"]),
            "update_time": v1_time(row["update_ms"]),
            "active_flag": "true",
            "calculated_type": calculated,
            "calculated_related_org_id": other,
            "related_organization_name": refs[other]["name"],
        }
        return render.conform(values, render.item_shape("organization_relationships"))

    # -- shared ---------------------------------------------------------------------------------

    def _live(self, table: str, rid: str) -> dict | None:
        row = self.store.get(table, _int(rid))
        return None if row is None or row.get("is_deleted") else row

    def _touch(self, table: str, rid: int, author: Author) -> None:
        """A child changed: its parent gets a new update_time (no field of its own changed)."""
        self.store.update(table, rid, {}, by=author)

    def _remove(self, table: str, key: int) -> None:
        with self.store.lock:
            del self.store.tables[table][key]


# -- parameters -------------------------------------------------------------------------------


def _integer(query: dict, name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"Parameter {name} must be an integer") from None


def _integers(query: dict, name: str) -> set[int]:
    """An array of integers, comma-separated."""
    try:
        return {int(x) for x in (query.get(name) or "").split(",") if x.strip()}
    except ValueError:
        raise BadRequest(f"Parameter {name} must be a list of integers") from None


def _number(query: dict, name: str) -> float | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest(f"Parameter {name} must be a number") from None


def _boolean(query: dict, name: str) -> bool | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadRequest(f"Parameter {name} must be a boolean")


def _choice(query: dict, name: str, allowed: Sequence[str]) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise BadRequest(
            f"Validation failed: {name}: must be equal to one of the allowed values: "
            + ", ".join(allowed)
        )
    return value


def _date(query: dict, name: str) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not DATE.match(value) or not _valid_day(value):
        raise BadRequest(f"Parameter {name} must be a date in the format YYYY-MM-DD")
    return value


def _valid_day(value: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _statuses(query: dict) -> set[str]:
    allowed = (*PROJECT_STATUSES, "deleted")
    values = {s.strip() for s in (query.get("status") or "").split(",") if s.strip()}
    if any(v not in allowed for v in values):
        raise BadRequest(
            "Validation failed: status: must be equal to one of the allowed values: "
            + ", ".join(allowed)
        )
    return values or set(PROJECT_STATUSES)


def _prices(value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        raise BadRequest("prices must be an array of objects")
    out = []
    for p in value:
        if not isinstance(p.get("currency"), str) or type(p.get("price")) not in (int, float):
            raise BadRequest("each price needs a currency (string) and a price (number)")
        for key in ("cost", "direct_cost"):
            if key in p and type(p[key]) not in (int, float):
                raise BadRequest(f"{key} must be a number")
        if "notes" in p and not isinstance(p["notes"], str):
            raise BadRequest("notes must be a string")
        price = {k: p[k] for k in ("currency", "price", "cost", "direct_cost", "notes") if k in p}
        price.setdefault("cost", 0)
        price.setdefault("direct_cost", 0)
        out.append(price)
    return out


def _sorted_page(
    rows: list[dict], key: Callable[[dict], list], query: dict, desc: bool = False
) -> tuple[list[dict], str | None]:
    """A cursor page of rows already in `key` order: the cursor is the last row's key, so a
    page starts after it even when rows came or went meanwhile."""
    limit = _limit(query, 500, default=100)
    start = 0
    if query.get("cursor"):
        try:
            padded = query["cursor"] + "=" * (-len(query["cursor"]) % 4)
            after = json.loads(base64.urlsafe_b64decode(padded))
            keys = [key(r) for r in rows]
            start = (
                len(keys) - bisect.bisect_left(keys[::-1], after)
                if desc
                else bisect.bisect_right(keys, after)
            )
        except (ValueError, TypeError):
            raise BadRequest("Invalid cursor") from None
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    nxt = base64.urlsafe_b64encode(json.dumps(key(page[-1])).encode()).decode() if more else None
    return page, nxt
