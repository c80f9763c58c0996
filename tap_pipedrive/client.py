"""Base stream classes. A concrete stream only declares where its records live and how they
are keyed; paging, time normalisation, deletes and custom fields happen here, and all HTTP goes
through the tap's one paced client."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

import pendulum
from singer_sdk import Stream

from pipedrive_client import Page

from .custom_fields import CustomField

if TYPE_CHECKING:
    from .tap import TapPipedrive

DELETED_AT = "_sdc_deleted_at"


def rfc3339(value: Any, millis: bool = False) -> str | None:
    """Any of the API's time formats as RFC 3339 UTC, one fixed width per stream so that string
    order is time order."""
    if value in (None, ""):
        return None
    parsed = pendulum.parse(str(value).replace(" ", "T"), tz="UTC").in_tz("UTC")
    if millis:
        return parsed.format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"
    return parsed.format("YYYY-MM-DDTHH:mm:ss") + "Z"


class PipedriveStream(Stream):
    """A list endpoint read page by page through the shared client."""

    path: ClassVar[str]
    generation: ClassVar[str] = "v2"
    primary_keys: ClassVar[list[str]] = ["id"]
    page_size: ClassVar[int] = 500
    params: ClassVar[dict[str, Any]] = {}
    millis: ClassVar[bool] = False  # leads and lead labels carry milliseconds
    custom_fields_path: ClassVar[str | None] = None  # v2 field definitions of this entity
    deleted_flag: ClassVar[str | None] = None  # "is_deleted", or "!active_flag" for v1 lists

    def __init__(self, tap: TapPipedrive) -> None:
        self._pipedrive_tap = tap
        super().__init__(tap, schema=self._build_schema())

    # -- schema -------------------------------------------------------------------------------

    def _build_schema(self) -> dict[str, Any]:
        text = resources.files(__package__).joinpath(f"schemas/{self.name}.json").read_text()
        schema = json.loads(text)
        for custom in self.custom_columns:
            schema["properties"].update(custom.schema())
        if self.deleted_flag:
            schema["properties"][DELETED_AT] = {"type": ["null", "string"], "format": "date-time"}
        return schema

    @cached_property
    def custom_columns(self) -> list[CustomField]:
        if not self.custom_fields_path:
            return []
        return self._pipedrive_tap.custom_fields(self.custom_fields_path, self.name)

    @cached_property
    def time_fields(self) -> list[str]:
        return [
            k
            for k, v in self.schema["properties"].items()
            if v.get("format") == "date-time" and k != DELETED_AT
        ]

    # -- reading ------------------------------------------------------------------------------

    @property
    def client(self):
        return self._pipedrive_tap.client

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return dict(self.params)

    def list_path(self, context: dict | None) -> str:
        return self.path

    def pages(self, context: dict | None) -> Iterator[Page]:
        path, params = self.list_path(context), self.request_params(context)
        if self.generation == "v2":
            return self.client.v2_pages(path, params, limit=self.page_size)
        return self.client.v1_pages(path, params, limit=self.page_size)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for page in self.pages(context):
            yield from page.records

    def since(self, context: dict | None) -> str:
        """Where this run starts: the bookmark minus the lookback window, never before the
        anchor date."""
        anchor = pendulum.parse(self._pipedrive_tap.anchor)
        bookmark = self.get_starting_replication_key_value(context)
        if not bookmark:
            return rfc3339(anchor.isoformat())
        lookback = self.config.get("lookback_window", 300)
        start = max(anchor, pendulum.parse(bookmark).subtract(seconds=lookback))
        return rfc3339(start.isoformat())

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        self._pipedrive_tap.records_emitted[self.name] += 1
        for name in self.time_fields:
            if row.get(name):
                row[name] = rfc3339(row[name], self.millis)
        if self.custom_columns:
            values = row.pop("custom_fields", None) or {}
            for custom in self.custom_columns:
                # v2 groups custom values under custom_fields; v1 records put them at the top.
                value = values.get(custom.key, row.pop(custom.key, None))
                row.update(custom.columns(value))
        if self.deleted_flag:
            flag = self.deleted_flag
            deleted = not row.get(flag[1:], True) if flag.startswith("!") else row.get(flag)
            row[DELETED_AT] = row.get("update_time") if deleted else None
        return row


class IncrementalStream(PipedriveStream):
    """Incremental by update_time, oldest first, from the bookmark (minus the lookback window)
    or the anchor date. Inclusive: records on the bookmark's second are read again; the
    warehouse dedupes by primary key. Sorted, so state can be saved mid-stream."""

    replication_key = "update_time"
    is_sorted = True
    STATE_MSG_FREQUENCY = 500  # a resumable bookmark at least once per page

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        if self.is_sorted:
            # The lookback window re-reads records older than the bookmark on purpose; lower the
            # bookmark to the window's start so the SDK's sort check accepts them. Re-reading the
            # record that set the old bookmark brings it back up.
            state = self.get_context_state(context)
            since = self.since(context)
            if state.get("replication_key_value") and state["replication_key_value"] > since:
                state["replication_key_value"] = since
        return super().get_records(context)

    def request_params(self, context: dict | None) -> dict[str, Any]:
        params = {**self.params, "updated_since": self.since(context)}
        if self.generation == "v2":
            params.update(sort_by="update_time", sort_direction="asc")
        else:
            params["sort"] = "update_time ASC"
        return params


class NewestFirstStream(PipedriveStream):
    """For lists without updated_since (archived leads, files): newest first, stopping at the
    bookmark instead of reading the whole table. Not sorted ascending, so the bookmark only
    moves when the stream has finished."""

    replication_key = "update_time"
    is_sorted = False

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return {**self.params, "sort": "update_time DESC"}

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        since = self.since(context)
        for page in self.pages(context):
            for row in page.records:
                if rfc3339(row.get("update_time")) < since:
                    return
                yield row


class ReferenceStream(PipedriveStream):
    """Small lists read whole every run (full table)."""
