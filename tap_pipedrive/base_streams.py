"""Base stream classes. A concrete stream only declares where its records live and how they
are keyed; paging, time normalisation, deletes and custom fields happen here, and all HTTP goes
through the tap's one paced client (pacing, retries and the `data: null` policy live there).

How each kind of list is read so that nothing is lost:

- v2 lists (`IncrementalStream`, generation v2): `updated_since` + `sort_by=update_time` asc,
  with the server's cursor, which continues after the last (update_time, id) read.
- v1 lists with `updated_since` (notes, leads): offsets move when a record in front of the offset
  changes during the read (it jumps to the end and the next page skips one record). So every page
  starts again at `start=0` with `updated_since` moved to the last second read (keyset paging);
  records already read on that second are skipped. Only a page made entirely of one second moves
  on by offset.
- v1 lists without `updated_since` (files, archived leads, `NewestFirstStream`): newest first,
  down to the bookmark. Each next page overlaps the previous one by a few records, and a page
  that does not overlap (records removed while reading) steps back, so nothing slides past
  unseen. What was read is then emitted oldest first (spooled to a temporary file), so the
  stream is sorted and its bookmark moves record by record like the others.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

import pendulum
from singer_sdk import Stream, metrics

from pipedrive_client import ApiError, Page

from . import sdk_internals
from .custom_fields import CustomField

if TYPE_CHECKING:
    from .tap import TapPipedrive

DELETED_AT = "_sdc_deleted_at"
# Records re-read at the start of each next page of a newest-first list.
NEWEST_FIRST_OVERLAP = 10
# How many pages a newest-first read may step back when the list moved under it.
NEWEST_FIRST_MAX_STEPS_BACK = 20


# "2026-01-02T03:04:05Z", "2026-01-02 03:04:05" (v1) or "2026-01-02T03:04:05.123Z" (leads).
_UTC_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?Z?")


def rfc3339(value: Any, millis: bool = False) -> str | None:
    """Any of the API's time formats as RFC 3339 UTC, one fixed width per stream so that string
    order is time order. Sub-second digits are cut (not rounded) without `millis`."""
    if value in (None, ""):
        return None
    text = str(value)
    # The API's usual shapes are UTC already: reshape them without parsing (a record has
    # several times, and parsing each was half of the tap's time).
    match = _UTC_TIME.fullmatch(text)
    if match:
        day, clock, fraction = match.groups()
        if millis:
            return f"{day}T{clock}.{(fraction or '')[:3].ljust(3, '0')}Z"
        return f"{day}T{clock}Z"
    parsed = pendulum.parse(text.replace(" ", "T"), tz="UTC").in_tz("UTC")
    if millis:
        return parsed.format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"
    return parsed.format("YYYY-MM-DDTHH:mm:ss") + "Z"


def _key(record: dict) -> tuple[Any, Any]:
    """A record version: the same id read again after an update is a new version."""
    return record.get("id"), record.get("update_time")


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
    reads_ahead: ClassVar[bool] = True  # get_records reads `source` through `read`

    def __init__(self, tap: TapPipedrive) -> None:
        self._pipedrive_tap = tap
        self._since: dict[str, str] = {}  # where each partition starts reading, once worked out
        self._strict = False  # the API refused a form its prose allows: use the schema's
        super().__init__(tap, schema=self._build_schema())
        sdk_internals.quiet_sdk_start_line(self.logger)

    # -- per-partition METRIC lines (see sdk_internals) ---------------------------------------

    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        return sdk_internals.record_counter(self.name, log_interval)

    def get_sync_timer(self) -> metrics.Timer:
        return sdk_internals.sync_timer(self.name)

    def describe(self, context: dict | None) -> str:
        """The stream and partition, as log lines name them."""
        if not context:
            return f"'{self.name}'"
        return f"'{self.name}' ({', '.join(f'{k}={v}' for k, v in sorted(context.items()))})"

    # -- schema -------------------------------------------------------------------------------

    def _build_schema(self) -> dict[str, Any]:
        text = resources.files(__package__).joinpath(f"schemas/{self.name}.json").read_text()
        schema = json.loads(text)
        for custom in self.custom_columns:
            schema["properties"].update(custom.schema())
        if self.deleted_flag:
            schema["properties"][DELETED_AT] = {
                "type": ["null", "string"],
                "format": "date-time",
                "description": "When the record was deleted in Pipedrive (its update_time); "
                "null while it exists.",
            }
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

    def normal(self, value: Any) -> str | None:
        """A time in this stream's one format (what records and bookmarks carry)."""
        return rfc3339(value, self.millis)

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

    def source(self, context: dict | None) -> Iterator[Any]:
        """This stream's reads, one item per request, in order: what the tap reads ahead."""
        return self.pages(context)

    def read(self, context: dict | None) -> Iterator[Any]:
        """`source`, fetched ahead (see prefetch.py); a child stream's one request per parent
        batch is simply made."""
        if self.parent_stream_type:
            return self.source(context)
        return self._pipedrive_tap.prefetch.open(self, context)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for page in self.read(context):
            yield from page.records

    def since(self, context: dict | None) -> str:
        """Where this run starts (RFC 3339 UTC, whole seconds): the bookmark minus the lookback
        window, never before the anchor date. A bookmark in the future (a bad state, a clock
        that was wrong) would stall the stream for ever: it counts as now."""
        key = json.dumps(context or {}, sort_keys=True)
        if key not in self._since:
            self._since[key] = self._work_out_since(context)
        return self._since[key]

    def _work_out_since(self, context: dict | None) -> str:
        anchor = pendulum.parse(self._pipedrive_tap.anchor)
        bookmark = self.get_starting_replication_key_value(context)
        if not bookmark:
            return rfc3339(anchor.isoformat())
        mark, now = pendulum.parse(bookmark), pendulum.now("UTC")
        if mark > now:
            self.logger.warning(
                "%s: the bookmark %s is in the future; reading from now minus the lookback "
                "window instead. Check the state and this machine's clock.",
                self.describe(context),
                bookmark,
            )
            mark = now
        lookback = self._pipedrive_tap.lookback_seconds
        start = max(anchor, mark.subtract(seconds=lookback))
        return rfc3339(start.isoformat())

    def strict_fallback(
        self,
        context: dict | None,
        loose: Callable[[dict | None], Iterator[Any]],
        strict: Callable[[dict | None], Iterator[Any]],
        what: str,
    ) -> Iterator[Any]:
        """Read `loose`, a request form that Pipedrive's prose allows and its schema does not;
        if the API refuses it (400 or 422 on the first request), read `strict` instead, for
        the rest of the run."""
        if not self._strict:
            items = loose(context)
            try:
                first = next(items, None)
            except ApiError as exc:
                if exc.status not in (400, 422):
                    raise
                self.logger.warning(
                    "%s: the API refused %s (%s); reading with the form its schema allows.",
                    self.describe(context),
                    what,
                    exc.status,
                )
                self._strict = True
            else:
                if first is not None:
                    yield first
                    yield from items
                return
        yield from strict(context)

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        self._pipedrive_tap.records_emitted[self.name] += 1
        for name in self.time_fields:
            if row.get(name):
                row[name] = self.normal(row[name])
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
    warehouse dedupes by primary key. Sorted, so state is saved mid-stream and a killed run
    resumes near where it stopped."""

    replication_key = "update_time"
    is_sorted = True
    STATE_MSG_FREQUENCY = 500  # a resumable bookmark at least once per 500-record page

    def begin_partition(self, context: dict | None) -> None:
        """Log where the partition starts, once. The lookback window re-reads records older
        than the bookmark on purpose; lower the bookmark to the window's start so the SDK's
        sort check accepts them. Re-reading the record that set the old bookmark brings it
        back up."""
        state = self.get_context_state(context)
        since = self.normal(self.since(context))
        self.logger.info(
            "Starting incremental sync of %s: bookmark %s, reading from %s.",
            self.describe(context),
            state.get("replication_key_value") or "none yet",
            since,
        )
        if state.get("replication_key_value") and state["replication_key_value"] > since:
            state["replication_key_value"] = since

    def kept_in_order(
        self, records: Iterable[dict[str, Any]], context: dict | None
    ) -> Iterator[dict[str, Any]]:
        """The records, each checked against the sort: one older than a record already emitted
        (a server that did not keep its order across pages) is emitted all the same, and the
        partition's bookmark then waits for the end of the partition (the SDK's unsorted mode),
        never passing a record that may still come."""
        newest, trusted = "", True
        for record in records:
            time = self.normal(record.get("update_time")) or ""
            if time >= newest:
                newest = time
            else:
                if trusted:
                    trusted = False
                    self.logger.warning(
                        "%s: the API answered records out of update_time order across pages "
                        "(%s after %s); all are read, and the bookmark moves only when the "
                        "stream has been read whole.",
                        self.describe(context),
                        time,
                        newest,
                    )
                    sdk_internals.stop_trusting_sort(self)
                state = self.get_context_state(context)
                if (state.get("replication_key_value") or "") > time:
                    state["replication_key_value"] = time
            yield record

    def source(self, context: dict | None) -> Iterator[Any]:
        if self.generation == "v1":
            return self.v1_keyset_batches(context)
        return self.pages(context)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        self.begin_partition(context)
        if self.generation == "v1":
            return self.kept_in_order(itertools.chain.from_iterable(self.read(context)), context)
        return self.kept_in_order(self.v2_records(context), context)

    def v2_records(self, context: dict | None) -> Iterator[dict[str, Any]]:
        for page in self.read(context):
            yield from self.in_order(page.records, more=page.next is not None)

    def in_order(self, records: list[dict], more: bool) -> list[dict]:
        """A page as the sort promised it. A record changed between the server's sort and its
        answer shows a time later than the page's last record: with more pages to come it is
        dropped here, because the cursor (or the next `updated_since`) brings it back later in
        this run with its new time; on the last page the page is sorted instead. Either way
        the stream stays sorted and its bookmark never runs ahead of what was read."""
        if not records:
            return records
        times = [self.normal(r.get("update_time")) or "" for r in records]
        if all(a <= b for a, b in itertools.pairwise(times)):
            return records
        if more:
            bound = times[-1]
            kept = [r for r, t in zip(records, times, strict=True) if t <= bound]
            self.logger.info(
                "%s: %d record(s) changed while the page was read; they come again later.",
                self.name,
                len(records) - len(kept),
            )
            return kept
        order = sorted(range(len(records)), key=times.__getitem__)
        return [records[i] for i in order]

    def request_params(self, context: dict | None) -> dict[str, Any]:
        params = {**self.params, "updated_since": self.since(context)}
        if self.generation == "v2":
            params.update(sort_by="update_time", sort_direction="asc")
        else:
            params["sort"] = "update_time ASC"
        return params

    def v1_keyset_batches(self, context: dict | None) -> Iterator[list[dict[str, Any]]]:
        """Oldest first through a v1 list, each page restarting at `updated_since` = the last
        second read (see the module docstring): an update during the read can not shift an
        unread record behind the offset. One batch of new records per page."""
        path, params = self.list_path(context), self.request_params(context)
        since, start = params["updated_since"], 0
        seen: set[tuple[Any, Any]] = set()  # versions already read on or after `since`
        while True:
            page = next(
                iter(
                    self.client.v1_pages(
                        path,
                        {**params, "updated_since": since},
                        limit=self.page_size,
                        start=start,
                        continuation=bool(seen),
                    )
                )
            )
            ordered = self.in_order(page.records, more=page.next is not None)
            batch = [record for record in ordered if _key(record) not in seen]
            if page.next is None or not page.records:
                yield batch
                return
            # Where the next page starts is worked out before the batch is handed over: the
            # SDK rewrites the records it is given (times to RFC 3339), and the versions in
            # `seen` must stay in the API's own format to match the next page's.
            last = rfc3339(page.records[-1].get("update_time"))
            if last and last > since:
                since, start = last, 0
                seen = {r for r in map(_key, page.records) if rfc3339(r[1]) >= last}
            else:  # a whole page on one second: move through that second by offset
                start += len(page.records)
                seen.update(map(_key, page.records))
            yield batch


class NewestFirstStream(IncrementalStream):
    """For lists without `updated_since` (archived leads, files): read newest first, stopping
    at the bookmark (minus the lookback window) instead of reading the whole table, then emit
    oldest first so the bookmark moves like any sorted stream's."""

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return {**self.params, "sort": "update_time DESC"}

    def source(self, context: dict | None) -> Iterator[Any]:
        return self.newest_first_batches(context)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        self.begin_partition(context)
        records = _oldest_first(itertools.chain.from_iterable(self.read(context)))
        return self.kept_in_order(records, context)

    def newest_first_batches(self, context: dict | None) -> Iterator[list[dict[str, Any]]]:
        """Newest first down to `since`, one batch of records to keep per page."""
        since = self.normal(self.since(context))
        path, params = self.list_path(context), self.request_params(context)
        start, steps_back = 0, 0
        floor = None  # time of the last record taken: newest first, nothing may be newer
        seen: set[tuple[Any, Any]] = set()
        while True:
            page = next(
                iter(
                    self.client.v1_pages(
                        path, params, limit=self.page_size, start=start, continuation=start > 0
                    )
                )
            )
            records, batch = page.records, []
            if (
                start > 0
                and records
                and _key(records[0]) not in seen
                and steps_back < NEWEST_FIRST_MAX_STEPS_BACK
            ):
                # The overlap is gone: records ahead of us were removed while reading, and the
                # list moved up by more than the overlap. Step back a page.
                steps_back += 1
                self.logger.info("%s moved while being read; stepping back a page.", self.name)
                start = max(0, start - self.page_size)
                continue
            for record in records:
                if _key(record) in seen:
                    continue
                seen.add(_key(record))
                time = self.normal(record.get("update_time")) or ""
                if time < since:
                    yield batch
                    return
                if floor is not None and time > floor:
                    # Changed while this read ran: newer than this run's bookmark will be, so
                    # the next run reads it (emitting it now would unsort the stream).
                    continue
                floor = time
                batch.append(record)
            yield batch
            if page.next is None or not records:
                return
            start = max(int(page.next) - NEWEST_FIRST_OVERLAP, start + 1)


def _oldest_first(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Reverse a newest-first read without holding it in memory (spooled to a temporary file;
    after the first run it is only what changed since the bookmark)."""
    with tempfile.TemporaryFile() as spool:
        offsets = []
        for record in records:
            offsets.append(spool.tell())
            spool.write(json.dumps(record).encode() + b"\n")
        for offset in reversed(offsets):
            spool.seek(offset)
            yield json.loads(spool.readline())


class ReferenceStream(PipedriveStream):
    """Small lists read whole every run (full table)."""
