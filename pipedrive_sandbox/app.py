"""The API itself: routes, filters, pagination, searches, writes and their validation.

`Api.handle(method, path, query, body)` returns (status, JSON-able body); the HTTP server around
it adds auth, limits, faults and accounting.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from . import render
from .clock import parse_time, v1_time
from .extras import COMPANY_ID
from .history import BROWSER, Author, Entry
from .history import ENTITIES as LOGGED_ENTITIES
from .store import FIELD_ENTITIES, MERGEABLE, Store
from .table import ARCHIVED, DELETED, SortedView

Handler = Callable[..., tuple[int, Any]]
# The sandbox's account, as `/users/me` names it.
COMPANY = {
    "company_id": COMPANY_ID,
    "company_name": "Sandbox Company",
    "company_domain": "sandbox",
    "company_country": "EE",
    "company_industry": "IT Services",
    "language": {"language_code": "en", "country_code": "US"},
}
TOKEN_USER = 1  # the user the token belongs to (`/users/me`): the author of API writes
MAX_LIMIT = {"v2": 500, "v1": 500, "files": 100}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
V2_ENTITIES = {
    "deals": render.deal,
    "persons": render.person,
    "organizations": render.organization,
    "activities": render.activity,
    "products": render.product,
    "pipelines": render.pipeline,
    "stages": render.stage,
}
V2_FIELDS = {
    "dealFields": "deal_fields",
    "personFields": "person_fields",
    "organizationFields": "organization_fields",
    "productFields": "product_fields",
    "activityFields": "activity_fields",
}
# The change feed's item types that the sandbox keeps, with the renderer of each.
RECENT_ITEMS = {
    "deal": ("deals", render.deal),
    "person": ("persons", render.person),
    "organization": ("organizations", render.organization),
    "activity": ("activities", render.activity),
    "product": ("products", render.product),
    "pipeline": ("pipelines", render.pipeline),
    "stage": ("stages", render.stage),
    "note": ("notes", render.note),
    "file": ("files", render.file),
    "user": ("users", render.user),
}
V1_FILTERS = {"leads": ("owner_id", "person_id", "organization_id")}
DEAL_STATUSES = ("open", "won", "lost", "deleted")
# The v1 leads lists' `sort`: the schema allows one bare field name (its prose, `field ASC`).
LEAD_SORT_FIELDS = (
    "id",
    "title",
    "owner_id",
    "creator_id",
    "was_seen",
    "expected_close_date",
    "next_activity_id",
    "add_time",
    "update_time",
)
V2_FILTERS = ("owner_id", "person_id", "org_id", "deal_id", "pipeline_id", "stage_id", "type")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> tuple[int, dict]:
    return status, {
        "success": False,
        "error": message,
        "error_info": "Please check developers.pipedrive.com for more information about "
        "Pipedrive API.",
        "data": None,
        "additional_data": None,
        "errorCode": status,
    }


class Api:
    def __init__(self, store: Store, strict: bool = False) -> None:
        self.store = store
        # Strict: parameters are held to their schemas where the prose allows looser forms
        # (deals `status` one value, not a comma list; leads `sort` a bare field name).
        self.strict = strict
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._register()
        # Literal paths win over templates: /deals/archived is not the deal with id "archived".
        self.routes.sort(key=lambda r: r[1].pattern.count("(?P<"))

    def route(self, method: str, template: str, handler: Handler) -> None:
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
        self.routes.append((method, pattern, handler))

    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, agent: str | None = None
    ) -> tuple[int, Any]:
        """One request; `agent` is the client's User-Agent, which change logs show for its
        writes."""
        author = Author(TOKEN_USER, "api", agent)
        for m, pattern, handler in self.routes:
            match = pattern.match(path)
            if m == method and match:
                try:
                    return handler(query=query, body=body, author=author, **match.groupdict())
                except BadRequest as exc:
                    return error(exc.status, str(exc))
        return error(404, f"Route not found: {method} {path}")

    # -- registration -------------------------------------------------------------------------

    def _register(self) -> None:
        r = self.route
        for name, renderer in V2_ENTITIES.items():
            r("GET", f"/api/v2/{name}", self._v2_list_handler(name, renderer))
            r("GET", f"/api/v2/{name}/{{rid}}", self._v2_get_handler(name, renderer))
        r(
            "GET",
            "/api/v2/deals/archived",
            self._v2_list_handler("deals", render.deal, archived=True),
        )
        r("GET", "/api/v2/deals/products", self.deal_products)
        for path, table in V2_FIELDS.items():
            r("GET", f"/api/v2/{path}", self._v2_list_handler(table, render.field_v2))
            # The v1 field lists put the pagination keys directly under additional_data, but
            # productFields nests them under additional_data.pagination (its description).
            flat = path != "productFields"
            r("GET", f"/api/v1/{path}", self._v1_list_handler(table, render.field_v1, flat=flat))
            if path != "activityFields":  # the description has no PATCH for activity fields
                r("PATCH", f"/api/v2/{path}/{{rid}}", self._field_rename_handler(table))
        for kind, table in (
            ("persons", "persons"),
            ("organizations", "organizations"),
            ("deals", "deals"),
        ):
            r("GET", f"/api/v2/{kind}/search", self._search_handler(table))
        for table in ("deals", "persons", "organizations", "activities", "products"):
            r("POST", f"/api/v2/{table}", self._create_handler(table))
            r("PATCH", f"/api/v2/{table}/{{rid}}", self._update_handler(table))
            r("DELETE", f"/api/v2/{table}/{{rid}}", self._delete_handler(table))
        for table in LOGGED_ENTITIES:
            r("GET", f"/api/v1/{table}/{{rid}}/changelog", self._changelog_handler(table))
        r("GET", "/api/v1/deals/{rid}/flow", self.deal_flow)
        r("POST", "/api/v2/personFields", self.create_person_field_v2)
        r("POST", "/api/v1/personFields", self.create_person_field_v1)
        r("POST", "/api/v2/leads/{rid}/convert/deal", self.convert_lead)
        r("GET", "/api/v2/leads/{rid}/convert/status/{cid}", self.conversion_status)
        r(
            "GET",
            "/api/v1/leads",
            self._v1_list_handler("leads", render.lead, flat=True, archived=False),
        )
        r(
            "GET",
            "/api/v1/leads/archived",
            self._v1_list_handler("leads", render.lead, flat=True, archived=True, no_since=True),
        )
        r("GET", "/api/v1/leads/{rid}", self._v1_get_handler("leads", render.lead))
        r("POST", "/api/v1/leads", self.create_lead)
        r("PATCH", "/api/v1/leads/{rid}", self.update_lead)
        r("GET", "/api/v1/notes", self._v1_list_handler("notes", render.note))
        r("GET", "/api/v1/notes/{rid}", self._v1_get_handler("notes", render.note, int_id=True))
        r("POST", "/api/v1/notes", self.create_note)
        r("PUT", "/api/v1/notes/{rid}", self.update_note)
        r("DELETE", "/api/v1/notes/{rid}", self._v1_delete_handler("notes", lambda _: True))
        r("DELETE", "/api/v1/files/{rid}", self._v1_delete_handler("files", lambda i: {"id": i}))
        r(
            "DELETE",
            "/api/v1/leads/{rid}",
            self._v1_delete_handler("leads", lambda i: {"id": i}, int_id=False),
        )
        r("DELETE", "/api/v2/deals/{rid}/products/{aid}", self.delete_deal_product)
        for table in MERGEABLE:
            r("PUT", f"/api/v1/{table}/{{rid}}/merge", self._merge_handler(table))
        r(
            "GET",
            "/api/v1/files",
            self._v1_list_handler("files", render.file, max_limit=100, no_since=True),
        )
        r("GET", "/api/v1/users/me", self.current_user)
        for path, table, renderer in (
            ("users", "users", render.user),
            ("activityTypes", "activity_types", render.activity_type),
            ("leadLabels", "lead_labels", render.lead_label),
            ("currencies", "currencies", render.currency),
            ("filters", "filters", render.filter_),
        ):
            r("GET", f"/api/v1/{path}", self._plain_list_handler(table, renderer))
        r("GET", "/api/v1/noteFields", self._v1_list_handler("note_fields", render.field_v1))
        r("GET", "/api/v1/recents", self.recents)
        r("GET", "/api/v1/mailbox/mailThreads", self.mail_threads)
        r("GET", "/api/v1/mailbox/mailThreads/{rid}/mailMessages", self.thread_messages)
        r(
            "GET",
            "/api/v1/mailbox/mailMessages/{rid}",
            self._v1_get_handler("mail_messages", render.mail_message, int_id=True),
        )
        from .extras_api import ExtrasApi  # it builds on this module's helpers

        ExtrasApi(self).register()

    # -- visibility ---------------------------------------------------------------------------

    def _visible(self, table: str, row: dict, query: dict, archived: bool = False) -> bool:
        if table == "deals":
            if bool(row.get("is_archived")) != archived:
                return False
            statuses = set(query.get("status", "").split(",")) - {""}
            status = "deleted" if row.get("is_deleted") else row["status"]
            return status in statuses if statuses else status != "deleted"
        return not row.get("is_deleted")

    # -- v2 lists -----------------------------------------------------------------------------

    def _v2_list_handler(self, table: str, renderer: Callable, archived: bool = False) -> Handler:
        def handler(query: dict, **_: Any) -> tuple[int, Any]:
            if table == "deals":
                self._check_deal_status(query.get("status") or "")
            if table in FIELD_ENTITIES:
                rows, nxt = self._page(table, query, lambda x: True)
            else:
                rows, nxt = self._page(
                    table, query, lambda x: self._visible(table, x, query, archived), v2=True
                )
            return 200, {
                "success": True,
                "data": [renderer(x) for x in rows],
                "additional_data": {"next_cursor": nxt},
            }

        return handler

    def _check_deal_status(self, status: str) -> None:
        """One of the described values; a comma-separated list of them, as the prose allows,
        unless strict."""
        values = [s for s in status.split(",") if s]
        allowed = ", ".join(DEAL_STATUSES)
        if any(v not in DEAL_STATUSES for v in values) or (self.strict and len(values) > 1):
            raise BadRequest(
                f"Validation failed: status: must be equal to one of the allowed values: {allowed}"
            )

    def _page(
        self,
        table: str,
        query: dict,
        visible: Callable[[dict], bool],
        v2: bool = False,
        rows: Sequence[dict] | None = None,
    ) -> tuple[list[dict], str | None]:
        limit = _limit(query, 500, default=100)
        sort_by = query.get("sort_by", "id")
        if sort_by not in ("id", "update_time", "add_time"):
            raise BadRequest(f"Invalid sort_by '{sort_by}'. Allowed: id, update_time, add_time")
        desc = query.get("sort_direction", "asc") == "desc"
        predicate = self._filters(query, visible) if v2 else visible
        field = {"id": None, "update_time": "update_ms", "add_time": "add_ms"}[sort_by]
        if rows is None:
            rows = self.store.sorted_rows(table, sort_by, desc)
            since = _time_param(query, "updated_since") if v2 else None
            until = _time_param(query, "updated_until") if v2 else None
        else:
            rows = sorted(rows, key=lambda r: (r[field] if field else 0, r["id"]), reverse=desc)
            since = until = None
        start = 0
        if query.get("cursor"):
            start = _after(rows, _decode_cursor(query["cursor"]), field, desc)
        if field == "update_ms" and not desc and since is not None:
            # Sorted by the filtered time: skip straight to it rather than reading the older rows.
            start = max(start, rows.first_at_or_after(since))
        stop = len(rows)
        if field == "update_ms" and not desc and until is not None:
            stop = rows.first_at_or_after(until)
        out, more, i = [], False, start
        while i < stop:
            row = rows[i]
            i += 1
            if predicate(row):
                if len(out) == limit:
                    more = True
                    break
                out.append(row)
        nxt = _encode_cursor(out[-1], field) if more and out else None
        return out, nxt

    def _filters(self, query: dict, visible: Callable[[dict], bool]) -> Callable[[dict], bool]:
        since = _time_param(query, "updated_since")
        until = _time_param(query, "updated_until")
        ids = {int(x) for x in query["ids"].split(",") if x} if query.get("ids") else None
        equal = {k: query[k] for k in V2_FILTERS if query.get(k)}

        def predicate(row: dict) -> bool:
            if since is not None and row["update_ms"] < since:
                return False
            if until is not None and row["update_ms"] >= until:
                return False
            if ids is not None and row["id"] not in ids:
                return False
            if any(str(row.get(k)) != v for k, v in equal.items()):
                return False
            return visible(row)

        return predicate

    def _v2_get_handler(self, table: str, renderer: Callable) -> Handler:
        def handler(rid: str, **_: Any) -> tuple[int, Any]:
            row = self.store.get(table, _int(rid))
            if row is None:
                return error(404, f"{table[:-1].title()} not found")
            return 200, {"success": True, "data": renderer(row)}

        return handler

    def deal_products(self, query: dict, **_: Any) -> tuple[int, Any]:
        if not query.get("deal_ids"):
            raise BadRequest("Parameter deal_ids is required")
        ids = {int(x) for x in query["deal_ids"].split(",") if x}
        if len(ids) > 100:
            raise BadRequest("deal_ids accepts at most 100 ids")
        found = [self.store.get("deal_products", k) for k in self.store.deal_product_ids(ids)]
        rows, nxt = self._page("deal_products", query, lambda x: True, rows=found)
        return 200, {
            "success": True,
            "data": [render.deal_product(x) for x in rows],
            "additional_data": {"next_cursor": nxt},
        }

    # -- v1 lists -----------------------------------------------------------------------------

    def _v1_list_handler(
        self,
        table: str,
        renderer: Callable,
        flat: bool = False,
        archived: bool | None = None,
        max_limit: int = 500,
        no_since: bool = False,
    ) -> Handler:
        # Offsets count visible rows; visibility and times come from the columns, so skipping
        # to a far offset reads no records.
        hide = 0 if table in FIELD_ENTITIES else DELETED
        want = 0
        if archived is not None:
            hide |= ARCHIVED
            want = ARCHIVED if archived else 0

        def handler(query: dict, **_: Any) -> tuple[int, Any]:
            start = _int_param(query, "start", 0)
            limit = _limit(query, max_limit, default=100)
            sort = query.get("sort", "id ASC").strip()
            if (
                self.strict
                and table == "leads"
                and "sort" in query
                and sort not in LEAD_SORT_FIELDS
            ):
                raise BadRequest(
                    "Validation failed: sort: must be equal to one of the allowed values: "
                    + ", ".join(LEAD_SORT_FIELDS)
                )
            field, _, direction = sort.partition(" ")
            sort_by = {"update_time": "update_time", "add_time": "add_time", "id": "id"}.get(field)
            if sort_by is None:
                raise BadRequest(f"Invalid sort field '{field}'")
            desc = direction.upper() == "DESC"
            rows = self.store.sorted_rows(table, sort_by, desc)
            since = None if no_since else _time_param(query, "updated_since")
            i, seen, page = 0, 0, []
            if since is not None and sort_by == "update_time" and not desc:
                i = rows.first_at_or_after(since)
            equal = {k: query[k] for k in V1_FILTERS.get(table, ()) if query.get(k)}
            more = False
            while i < len(rows):
                if (
                    (rows.flags(i) & hide) == want
                    and (since is None or rows.column(i, "update_ms") >= since)
                    and all(str(rows.attribute(i, k)) == v for k, v in equal.items())
                ):
                    if seen >= start:
                        if len(page) == limit:
                            more = True
                            break
                        page.append(rows[i])
                    seen += 1
                i += 1
            pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
            if more:
                pagination["next_start"] = start + limit
            extra = pagination if flat else {"pagination": pagination}
            return 200, {
                "success": True,
                "data": [renderer(x) for x in page] or None,
                "additional_data": extra,
            }

        return handler

    def _plain_list_handler(self, table: str, renderer: Callable) -> Handler:
        def handler(**_: Any) -> tuple[int, Any]:
            rows = self.store.sorted_rows(table)
            return 200, {"success": True, "data": [renderer(x) for x in rows]}

        return handler

    def _v1_get_handler(self, table: str, renderer: Callable, int_id: bool = False) -> Handler:
        def handler(rid: str, **_: Any) -> tuple[int, Any]:
            row = self.store.get(table, _int(rid) if int_id else rid)
            if row is None:
                return error(404, "Entity not found")
            return 200, {"success": True, "data": renderer(row)}

        return handler

    def recents(self, query: dict, **_: Any) -> tuple[int, Any]:
        """Everything of the given item types changed since a time, oldest change first."""
        since = _time_param(query, "since_timestamp")
        if since is None:
            raise BadRequest("Parameter since_timestamp is required")
        items = [x for x in (query.get("items") or "").split(",") if x] or list(RECENT_ITEMS)
        unknown = [x for x in items if x not in RECENT_ITEMS]
        if unknown:
            raise BadRequest(f"Unknown items: {', '.join(unknown)}")
        start, limit = _int_param(query, "start", 0), _limit(query, 500, default=100)
        changed = []
        for item in items:
            table, renderer = RECENT_ITEMS[item]
            rows = self.store.sorted_rows(table, "update_time")
            for i in range(rows.first_at_or_after(since), len(rows)):
                if not rows.flags(i) & DELETED:
                    changed.append((rows.value(i), item, rows.key(i), renderer))
        changed.sort(key=lambda c: (c[0], c[1], str(c[2])))
        page = changed[start : start + limit]
        more = start + limit < len(changed)
        data = [
            {"item": item, "id": rid, "data": renderer(self.store.get(RECENT_ITEMS[item][0], rid))}
            for _, item, rid, renderer in page
        ]
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return 200, {
            "success": True,
            "data": data or None,
            "additional_data": {
                "since_timestamp": query["since_timestamp"],
                "last_timestamp_on_page": v1_time(page[-1][0]) if page else None,
                "pagination": pagination,
            },
        }

    def mail_threads(self, query: dict, **_: Any) -> tuple[int, Any]:
        folder = query.get("folder")
        if folder not in ("inbox", "drafts", "sent", "archive"):
            raise BadRequest("folder must be one of inbox, drafts, sent, archive")
        start, limit = _int_param(query, "start", 0), _limit(query, 50, default=50)
        rows = [x for x in self.store.sorted_rows("mail_threads") if x["folder"] == folder]
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return 200, {
            "success": True,
            "data": [render.mail_thread(x) for x in page] or None,
            "additional_data": {
                "pagination": {
                    "start": start,
                    "limit": limit,
                    "more_items_in_collection": more,
                    **({"next_start": start + limit} if more else {}),
                }
            },
        }

    def thread_messages(self, rid: str, **_: Any) -> tuple[int, Any]:
        tid = _int(rid)
        if self.store.get("mail_threads", tid) is None:
            return error(404, "Mail thread not found")
        rows = [x for x in self.store.sorted_rows("mail_messages") if x["mail_thread_id"] == tid]
        return 200, {"success": True, "data": [render.mail_message(x) for x in rows]}

    # -- search -------------------------------------------------------------------------------

    def _search_handler(self, table: str) -> Handler:
        kind = {"persons": "person", "organizations": "organization", "deals": "deal"}[table]

        def handler(query: dict, **_: Any) -> tuple[int, Any]:
            term = (query.get("term") or "").strip()
            exact = query.get("exact_match") in ("true", "1")
            if len(term) < 2 and not exact:
                raise BadRequest("Search term must be at least 2 characters long")
            limit = _limit(query, 500, default=100)
            start = (
                int(base64.urlsafe_b64decode(query["cursor"]).decode())
                if query.get("cursor")
                else 0
            )
            hits = [
                x
                for x in self.store.sorted_rows(table)
                if not x.get("is_deleted") and _matches(x, term.lower(), exact, query.get("fields"))
            ]
            page = hits[start : start + limit]
            nxt = (
                base64.urlsafe_b64encode(str(start + limit).encode()).decode()
                if start + limit < len(hits)
                else None
            )
            return 200, {
                "success": True,
                "data": {"items": [render.search_item(kind, x) for x in page]},
                "additional_data": {"next_cursor": nxt},
            }

        return handler

    # -- writes -------------------------------------------------------------------------------

    def _create_handler(self, table: str) -> Handler:
        def handler(body: Any, author: Author, **_: Any) -> tuple[int, Any]:
            row = self._validated(table, _object(body), creating=True)
            row["id"] = self.store.new_id(table)
            row.setdefault("owner_id", TOKEN_USER)
            row.setdefault("is_deleted", False)
            self.store.insert(table, row, by=author)
            return 200, {"success": True, "data": V2_ENTITIES[table](row)}

        return handler

    def _update_handler(self, table: str) -> Handler:
        def handler(rid: str, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
            current = self.store.get(table, _int(rid))
            if current is None:
                return error(404, f"{table[:-1].title()} not found")
            changes = self._validated(table, _object(body), creating=False, current=current)
            if changes.get("custom_fields"):
                changes["custom_fields"] = {
                    **(current.get("custom_fields") or {}),
                    **changes["custom_fields"],
                }
            row = self.store.update(table, _int(rid), changes, by=author)
            return 200, {"success": True, "data": V2_ENTITIES[table](row)}

        return handler

    def _field_rename_handler(self, table: str) -> Handler:
        """A field renamed (Settings > Data fields in the web app): its key stays. Only
        `field_name` of the described body is kept."""

        def handler(rid: str, body: Any, **_: Any) -> tuple[int, Any]:
            current = self.store.get(table, rid)
            if current is None:
                return error(404, "Field not found")
            name = _object(body).get("field_name")
            if not isinstance(name, str) or not 1 <= len(name.strip()) <= 255:
                raise BadRequest("field_name must be a string of 1 to 255 characters")
            stamp = self.store.stamp(table)
            fdef = dataclasses.replace(current["def"], name=name.strip(), update_ms=stamp)
            row = self.store.update(table, rid, {"def": fdef}, stamp=stamp)
            return 200, {"success": True, "data": render.field_v2(row)}

        return handler

    def _delete_handler(self, table: str) -> Handler:
        def handler(rid: str, author: Author, **_: Any) -> tuple[int, Any]:
            if self.store.get(table, _int(rid)) is None:
                return error(404, f"{table[:-1].title()} not found")
            self.store.delete(table, _int(rid), by=author)
            return 200, {"success": True, "data": {"id": _int(rid)}}

        return handler

    def _v1_delete_handler(
        self, table: str, answer: Callable[[Any], Any], int_id: bool = True
    ) -> Handler:
        """A v1 delete, kept 30 days out of the lists like the v2 ones; `answer` makes the
        response's `data` from the id (notes `true`, files and leads `{"id"}`). A record already
        deleted is not found: deleting it again would restart its 30 days."""
        # Leads answer with their described 404 (LeadNotFoundResponse's example).
        missing = (
            "requested lead not found" if table == "leads" else f"{table[:-1].title()} not found"
        )

        def handler(rid: str, author: Author, **_: Any) -> tuple[int, Any]:
            key = _int(rid) if int_id else rid
            row = self.store.get(table, key)
            if row is None or row.get("is_deleted"):
                return error(404, missing)
            self.store.delete(table, key, by=author)
            return 200, {"success": True, "data": answer(key)}

        return handler

    def delete_deal_product(self, rid: str, aid: str, author: Author, **_: Any) -> tuple[int, Any]:
        """One product off a deal: gone from the deal's products, and the deal recalculated."""
        deal_id, attachment_id = _int(rid), _int(aid)
        deal = self.store.get("deals", deal_id)
        if deal is None or deal.get("is_deleted"):
            return error(404, "Deal not found")
        attachment = self.store.get("deal_products", attachment_id)
        if attachment is None or attachment["deal_id"] != deal_id:
            return error(404, "Product attachment not found")
        self.store.remove_deal_product(deal_id, attachment_id, by=author)
        return 200, {"success": True, "data": {"id": attachment_id}}

    def current_user(self, **_: Any) -> tuple[int, dict]:
        """The token's user, with its company and what it may use (as the description's
        example: the company's creator, admin of every app the account has)."""
        user = render.user(self.store.get("users", TOKEN_USER))
        access = [
            {"app": app, "admin": True, "permission_set_id": str(uuid.UUID(int=n + 1))}
            for n, app in enumerate(("sales", "global", "account_settings", "projects"))
        ]
        return 200, {"success": True, "data": {**user, **COMPANY, "access": access}}

    def _merge_handler(self, table: str) -> Handler:
        """`{id}` is merged into `merge_with_id`, which survives with its own values where both
        have one (the description's tutorial); `{id}` is deleted. Persons answer with the
        survivor as a v1 person, organizations with its id."""
        noun = table[:-1]

        def handler(rid: str, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
            merged, into = _int(rid), _object(body).get("merge_with_id")
            if into is None:
                raise BadRequest("merge_with_id is required")
            if type(into) is not int:
                raise BadRequest("merge_with_id must be an integer")
            if into == merged:
                raise BadRequest(f"Cannot merge a {noun} with itself")
            for key in (merged, into):
                row = self.store.get(table, key)
                if row is None or row.get("is_deleted"):
                    return error(404, f"{noun.title()} not found")
            survivor = self.store.merge(table, merged, into, by=author)
            if table == "organizations":
                return 200, {"success": True, "data": {"id": into}}
            return 200, {"success": True, "data": self._merged_person(survivor, merged)}

        return handler

    def _merged_person(self, row: dict, merged: int) -> dict:
        org = self.store.get("organizations", row["org_id"]) if row.get("org_id") else None
        owner = self.store.get("users", row["owner_id"])
        return render.merged_person(
            row,
            merged,
            org_name=org["name"] if org else None,
            owner_name=owner["name"] if owner else None,
        )

    def _validated(
        self, table: str, body: dict, creating: bool, current: dict | None = None
    ) -> dict:
        required = {
            "deals": "title",
            "persons": "name",
            "organizations": "name",
            "activities": None,
            "products": "name",
        }[table]
        if creating and required and not str(body.get(required) or "").strip():
            raise BadRequest(f"{required.title()} is required")
        row = dict(body)
        for ref, ref_table in (
            ("stage_id", "stages"),
            ("pipeline_id", "pipelines"),
            ("person_id", "persons"),
            ("org_id", "organizations"),
            ("deal_id", "deals"),
        ):
            if row.get(ref) is not None and self.store.get(ref_table, row[ref]) is None:
                raise BadRequest(f"{ref_table[:-1].title()} with id {row[ref]} does not exist")
        if table == "deals":
            self._place(row, current)
        if table == "deals" and creating:
            row.setdefault("status", "open")
            row.setdefault("value", 0.0)
            row.setdefault("currency", "USD")
            row.setdefault("is_archived", False)
        if "emails" in row:
            emails = row["emails"]
            if not isinstance(emails, list) or any(
                not isinstance(e, dict) or not EMAIL.match(str(e.get("value", ""))) for e in emails
            ):
                raise BadRequest("Invalid email address format")
        if table == "activities" and "participants" in row:
            row["participants"] = self._participants(row["participants"])
            primary = [p for p in row["participants"] if p["primary"]] or row["participants"]
            if creating and row.get("person_id") is None and primary:
                row["person_id"] = primary[0]["person_id"]  # the primary participant
        if table == "activities" and creating:
            row.setdefault("type", "task")
            row.setdefault("subject", row["type"].title())
            row.setdefault("done", False)
            if row.get("lead_id") and self.store.get("leads", row["lead_id"]) is None:
                raise BadRequest(f"Lead with id {row['lead_id']} does not exist")
        if table in ("persons", "organizations", "deals", "products") and creating:
            row.setdefault("custom_fields", {})
        return row

    def _place(self, deal: dict, current: dict | None) -> None:
        """A deal's stage and pipeline agree: a stage alone brings its pipeline, a new pipeline
        alone its first stage (a new deal without either starts in the first stage)."""
        stage, pipeline = deal.get("stage_id"), deal.get("pipeline_id")
        if stage is not None and pipeline is None:
            deal["pipeline_id"] = self.store.get("stages", stage)["pipeline_id"]
        elif stage is None and (current is None or pipeline not in (None, current["pipeline_id"])):
            stages = self.store.sorted_rows("stages")
            first = next((s for s in stages if pipeline in (None, s["pipeline_id"])), stages[0])
            deal["stage_id"], deal["pipeline_id"] = first["id"], first["pipeline_id"]

    def _participants(self, value: Any) -> list[dict]:
        """An activity's participants as stored and listed: `[{person_id, primary}]`, each an
        existing person."""
        if not isinstance(value, list) or not all(
            isinstance(p, dict)
            and type(p.get("person_id")) is int
            and isinstance(p.get("primary", False), bool)
            for p in value
        ):
            raise BadRequest(
                "participants must be a list of {person_id: integer, primary: boolean}"
            )
        for p in value:
            if self.store.get("persons", p["person_id"]) is None:
                raise BadRequest(f"Person with id {p['person_id']} does not exist")
        return [{"person_id": p["person_id"], "primary": p.get("primary", False)} for p in value]

    def create_person_field_v2(self, body: Any, **_: Any) -> tuple[int, Any]:
        body = _object(body)
        name = str(body.get("field_name") or "").strip()
        if not name or not body.get("field_type"):
            raise BadRequest("field_name and field_type are required")
        fdef = self._add_person_field(name, body["field_type"])
        return 200, {"success": True, "data": render.field_v2({"def": fdef})}

    def create_person_field_v1(self, body: Any, **_: Any) -> tuple[int, Any]:
        body = _object(body)
        name = str(body.get("name") or "").strip()
        if not name or not body.get("field_type"):
            raise BadRequest("name and field_type are required")
        fdef = self._add_person_field(name, body["field_type"])
        return 200, {"success": True, "data": render.field_v1({"def": fdef})}

    def _add_person_field(self, name: str, field_type: str):
        from .generator import FieldDef

        now = self.store.stamp("person_fields")
        key = uuid.uuid5(uuid.NAMESPACE_URL, f"{name}:{now}").hex + "00000000"
        fdef = FieldDef(
            "persons",
            key,
            name,
            field_type,
            None,
            True,
            now,
            now,
            self.store.new_id("person_fields") + 1000,
        )
        self.store.insert(
            "person_fields", {"id": key, "def": fdef, "add_ms": now, "update_ms": now}
        )
        return fdef

    def create_lead(self, body: Any, **_: Any) -> tuple[int, Any]:
        body = _object(body)
        if not str(body.get("title") or "").strip():
            raise BadRequest("Title is required")
        if not body.get("person_id") and not body.get("organization_id"):
            raise BadRequest("A lead must be linked to a person or an organization")
        if body.get("person_id") and self.store.get("persons", body["person_id"]) is None:
            raise BadRequest(f"Person with id {body['person_id']} does not exist")
        if (
            body.get("organization_id")
            and self.store.get("organizations", body["organization_id"]) is None
        ):
            raise BadRequest(f"Organization with id {body['organization_id']} does not exist")
        row = {
            "id": str(uuid.uuid4()),
            "title": body["title"],
            "person_id": body.get("person_id"),
            "organization_id": body.get("organization_id"),
            "owner_id": body.get("owner_id", 1),
            "label_ids": body.get("label_ids") or [],
            "is_archived": False,
            "is_deleted": False,
            "source_name": "API",
        }
        self.store.insert("leads", row)
        return 201, {"success": True, "data": render.lead(row)}

    def update_lead(self, rid: str, body: Any, **_: Any) -> tuple[int, Any]:
        if self.store.get("leads", rid) is None:
            return error(404, "Lead not found")
        row = self.store.update(
            "leads",
            rid,
            {k: v for k, v in _object(body).items() if k in ("title", "is_archived", "label_ids")},
        )
        return 200, {"success": True, "data": render.lead(row)}

    def convert_lead(self, rid: str, body: Any, author: Author, **_: Any) -> tuple[int, Any]:
        lead = self.store.get("leads", rid)
        if lead is None or lead.get("is_deleted"):
            return error(404, "Lead not found")
        body = _object(body or {})
        deal = self._validated(
            "deals",
            {
                "title": lead["title"],
                "person_id": lead["person_id"],
                "org_id": lead.get("organization_id"),
                "stage_id": body.get("stage_id"),
                "pipeline_id": body.get("pipeline_id"),
            },
            creating=True,
        )
        deal = {k: v for k, v in deal.items() if v is not None}
        if "pipeline_id" in body and "stage_id" not in body:
            stage = next(
                s
                for s in self.store.sorted_rows("stages")
                if s["pipeline_id"] == body["pipeline_id"]
            )
            deal["stage_id"] = stage["id"]
        deal.update(
            id=self.store.new_id("deals"),
            owner_id=lead["owner_id"],
            is_deleted=False,
            source_lead_id=rid,
            custom_fields={},
        )
        self.store.insert("deals", deal, by=author)
        self.store.update("leads", rid, {"is_deleted": True}, by=author)
        del self.store.tables["leads"][rid]  # converted leads leave the lead lists
        conversion = str(uuid.uuid4())
        self.store.conversions[conversion] = {"lead_id": rid, "deal_id": deal["id"]}
        return 200, {"success": True, "data": {"conversion_id": conversion}}

    # -- change logs ----------------------------------------------------------------------------

    def _changelog_handler(self, table: str) -> Handler:
        """A record's field changes, newest first, paged by an opaque cursor (the position of
        the next page's first entry, so entries logged meanwhile do not shift the pages)."""

        def handler(rid: str, query: dict, **_: Any) -> tuple[int, Any]:
            entries = self.store.history.entries(table, _int(rid))
            if entries is None:
                return error(404, f"{table[:-1].title()} not found")
            limit = _limit(query, 500, default=100)
            end = len(entries)
            if query.get("cursor"):
                end = _changelog_position(query["cursor"], end)
            first = max(0, end - limit)
            page = [_change(entries[n]) for n in range(end - 1, first - 1, -1)]
            nxt = _changelog_cursor(first) if first else None
            return 200, {"success": True, "data": page, "additional_data": {"next_cursor": nxt}}

        return handler

    def deal_flow(self, rid: str, query: dict, **_: Any) -> tuple[int, Any]:
        """A deal's updates, newest first, in offset pages: its field changes as `dealChange`
        items (the change log's entries, and the deal's creation as a change of `add_time`).
        Only peers read it (40 tokens a page); its notes and activities are not among them."""
        deal = self.store.get("deals", _int(rid))
        entries = self.store.history.entries("deals", _int(rid))
        if deal is None or entries is None:
            return error(404, "Deal not found")
        start = max(0, _int_param(query, "start", 0))
        limit = _limit(query, 500, default=100)
        created = ("add_time", None, v1_time(deal["add_ms"]), deal["owner_id"], deal["add_ms"])
        items = [(*created, "app", BROWSER, False), *entries]
        newest_first = range(len(items) - 1 - start, max(-1, len(items) - 1 - start - limit), -1)
        page = [_flow_item(_int(rid), n, items[n]) for n in newest_first]
        more = start + limit < len(items)
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return 200, {"success": True, "data": page, "additional_data": {"pagination": pagination}}

    def conversion_status(self, rid: str, cid: str, **_: Any) -> tuple[int, Any]:
        job = self.store.conversions.get(cid)
        if job is None or job["lead_id"] != rid:
            return error(404, "Conversion not found")
        return 200, {
            "success": True,
            "data": {
                "conversion_id": cid,
                "status": "completed",
                "deal_id": job["deal_id"],
                "lead_id": rid,
            },
        }

    def create_note(self, body: Any, **_: Any) -> tuple[int, Any]:
        body = _object(body)
        if not str(body.get("content") or "").strip():
            raise BadRequest("Content is required")
        row = {
            "id": self.store.new_id("notes"),
            "content": body["content"],
            "deal_id": body.get("deal_id"),
            "person_id": body.get("person_id"),
            "org_id": body.get("org_id"),
            "lead_id": body.get("lead_id"),
            "user_id": 1,
            "owner_id": 1,
            "active_flag": True,
            "is_deleted": False,
        }
        self.store.insert("notes", row)
        return 201, {"success": True, "data": render.note(row)}

    def update_note(self, rid: str, body: Any, **_: Any) -> tuple[int, Any]:
        if self.store.get("notes", _int(rid)) is None:
            return error(404, "Note not found")
        row = self.store.update(
            "notes",
            _int(rid),
            {k: v for k, v in _object(body).items() if k in ("content", "deal_id", "person_id")},
        )
        return 200, {"success": True, "data": render.note(row)}


# -- helpers ----------------------------------------------------------------------------------


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"Invalid id '{value}'") from None


def _int_param(query: dict, name: str, default: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError:
        raise BadRequest(f"Parameter {name} must be an integer") from None
    if value < 0:
        raise BadRequest(f"Parameter {name} must not be negative")
    return value


def _limit(query: dict, maximum: int, default: int) -> int:
    value = _int_param(query, "limit", default)
    if value < 1 or value > maximum:
        raise BadRequest(f"Parameter limit must be between 1 and {maximum}")
    return value


def _time_param(query: dict, name: str) -> int | None:
    if not query.get(name):
        return None
    try:
        return parse_time(query[name])
    except ValueError:
        raise BadRequest(f"Parameter {name} must be an RFC 3339 date-time") from None


def _encode_cursor(row: dict, field: str | None) -> str:
    value = row[field] if field else 0
    return base64.urlsafe_b64encode(f"{value}|{row['id']}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, Any]:
    """(sort value, id); an id that is not a number is a field's key (the v2 field lists)."""
    try:
        value, rid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return int(value), int(rid) if rid.isdigit() else rid
    except ValueError:
        raise BadRequest("Invalid cursor") from None


def _after(rows: Sequence[dict], position: tuple[int, int], field: str | None, desc: bool) -> int:
    """Index of the first row strictly after the cursor's (sort value, id) in this order."""
    if isinstance(rows, SortedView):
        return rows.first_after(*position) if field else rows.first_after(position[1], position[1])

    def key(row: dict) -> tuple:
        k = (row[field] if field else 0, row["id"])
        return tuple(-x for x in k) if desc else k

    target = tuple(-x for x in position) if desc else position
    return bisect.bisect_right(rows, target, key=key)


def _change(entry: Entry) -> dict:
    key, old, new, actor, at, source, agent, bulk = entry
    return {
        "field_key": key,
        "old_value": old,
        "new_value": new,
        "actor_user_id": actor,
        "time": v1_time(at),
        "change_source": source,
        "change_source_user_agent": agent,
        "is_bulk_update_flag": bulk,
    }


def _flow_item(deal_id: int, number: int, entry: Entry) -> dict:
    """A change log entry as a deal flow's `dealChange` item; its id is the deal's and the
    entry's number together, so that it is the same on every read."""
    key, old, new, actor, at, source, agent, bulk = entry
    logged = v1_time(at)
    change = {
        "id": deal_id * 100_000 + number,
        "item_id": deal_id,
        "user_id": actor,
        "field_key": key,
        "old_value": old,
        "new_value": new,
        "is_bulk_update_flag": bulk or None,
        "log_time": logged,
        "change_source": source,
        "change_source_user_agent": agent,
        "additional_data": [],
    }
    return {"object": "dealChange", "timestamp": logged, "data": change}


def _changelog_cursor(number: int) -> str:
    """The next page's first entry, by its number in the log (1 the oldest): `id:<number>`
    encoded, like the API's own cursors."""
    return base64.b64encode(f"id:{number}".encode()).decode().rstrip("=")


def _changelog_position(cursor: str, count: int) -> int:
    """The number of the entry a cursor names (one of the `count` in the log)."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=True).decode()
        position = int(text.removeprefix("id:")) if text.startswith("id:") else -1
    except ValueError:
        position = -1
    if not 0 < position <= count:
        raise BadRequest("Invalid cursor")
    return position


def _matches(row: dict, term: str, exact: bool, fields: str | None) -> bool:
    values: list[str] = []
    wanted = set((fields or "").split(",")) - {""}
    if not wanted or "email" in wanted:
        values += [e["value"] for e in row.get("emails", [])]
    if not wanted or "name" in wanted or "title" in wanted:
        values += [str(row.get("name") or row.get("title") or "")]
    if not wanted or "custom_fields" in wanted:
        # Text-like custom values are searchable; the generator's internal `domain` is not.
        for custom in (row.get("custom_fields") or {}).values():
            value = custom.get("value") if isinstance(custom, dict) else custom
            if isinstance(value, (str, float)):
                values.append(str(value))
    values = [v.lower() for v in values if v]
    return term in values if exact else any(term in v for v in values)
