"""Base stream classes. A concrete stream only declares where its records live and how they
are keyed; time normalisation, deletes and custom fields happen here, the reading algorithms
live in readers.py (each stream or partition picks one), and all HTTP goes through the tap's
one paced client (pacing, retries and the `data: null` policy live there).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

import pendulum
from singer_sdk import Stream, metrics

from pipedrive_client import ApiError, attributed, counted_to

from . import (
    custom_fields,
    fast_conform,
    fast_writer,
    history,
    prepared,
    readers,
    sdk_internals,
    windows,
)
from .custom_fields import CustomField
from .times import normal_form, rfc3339

if TYPE_CHECKING:
    from .tap import TapPipedrive

DELETED_AT = "_sdc_deleted_at"
# Where a reconciliation reads from: before any record of any account.
WHOLE_LIST_SINCE = "1970-01-01T00:00:00Z"
CHILD_BATCH = 100  # parent records per child sync: the bulk deal-products endpoint's maximum


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
    read_ahead: ClassVar[bool] = True  # get_records reads `source` through `read`
    # The Pipedrive app whose access the token's user needs (users/me's `access`): projects is
    # a paid add-on, not every account has it.
    app: ClassVar[str] = "sales"
    plan: ClassVar[str | None] = None  # the lowest plan the API serves this list on
    reads_history: ClassVar[bool] = False  # a change-log child (its parent keeps a backlog)
    # Read whole, its rows are what exists: ACTIVATE_VERSION may retire the rest. Not so for a
    # stream of changes, which only ever adds rows.
    activates_version: ClassVar[bool] = True
    # The v2 list takes `updated_until`, so that a large read may go in time windows at once.
    has_updated_until: ClassVar[bool] = False

    def __init__(self, tap: TapPipedrive) -> None:
        self._pipedrive_tap = tap
        self._since: dict[str, str] = {}  # where each partition starts reading, once worked out
        self._strict = False  # the API refused a form its prose allows: use the schema's
        super().__init__(tap, schema=None)  # built on first use: see `schema`
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

    # -- RECORD messages: the schema's type conformance compiled once (see fast_conform) --------

    def _generate_record_messages(self, record: dict) -> Iterator[Any]:
        return sdk_internals.record_messages(self, record, self._record_output)

    def get_batch_config(self, config: Any) -> None:
        """Never the SDK's batch path, which would write the records unconformed: with
        `batch_config` the tap's writer puts the RECORD messages in files (batch_writer.py)."""

    @cached_property
    def _record_output(self) -> fast_conform.RecordOutput:
        return fast_conform.RecordOutput(self.name, self.logger)

    # -- whole reads tell the loader which rows still exist -------------------------------------

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never the SDK's way: it sends ACTIVATE_VERSION before the first record, so a run
        that failed on the way would leave every row of the table retired. `sync` sends it
        after the stream was read whole."""
        return False

    def reads_whole(self) -> bool:
        """Whether this run reads every record of the stream (not only changes)."""
        return self.replication_method == "FULL_TABLE" or self._pipedrive_tap.reconciling

    def sync(self, context: dict | None = None) -> None:
        # Requests made for this stream count to it in the run's progress and summary.
        with counted_to(self.name), self._pipedrive_tap.progress.syncing(self.name):
            if context is None and self.custom_columns:
                self._tell_renamed_custom_fields()
            self._sync_versioned(context)

    def _tell_renamed_custom_fields(self) -> None:
        """A warning per custom field renamed in Pipedrive since the last run, from the names
        that run kept in this stream's state (and this run keeps for the next)."""
        state = self.stream_state
        for now, old_name, old_column in custom_fields.renames(
            state.get(custom_fields.NAMES_STATE_KEY), self.custom_columns
        ):
            self.logger.warning(custom_fields.rename_warning(self.name, now, old_name, old_column))
        state[custom_fields.NAMES_STATE_KEY] = custom_fields.names_to_keep(self.custom_columns)

    def _sync_versioned(self, context: dict | None) -> None:
        """The SDK's sync; when versions are on and the stream (with its children that keep
        rows) is read whole, its records carry this run's table version and, once every
        partition was read, ACTIVATE_VERSION tells the loader the rest no longer exist."""
        tap = self._pipedrive_tap
        whole = context is None and not self.parent_stream_type and self.reads_whole()
        if not (whole and tap.activates_versions):
            super().sync(context)
            return
        versioned = [
            stream
            for stream in (self, *self.child_streams)
            if stream.selected and stream.activates_version
        ]
        for stream in versioned:
            sdk_internals.set_table_version(stream, tap.table_version)
        super().sync(context)
        for stream in versioned:
            sdk_internals.activate_version(stream, tap.table_version)

    # -- schema -------------------------------------------------------------------------------

    @property
    def schema(self) -> dict[str, Any]:
        """Built when first used: its custom field columns need the entity's field
        definitions, which the tap reads in the background so that a sync's first pages go
        beside them (with a catalog, the SDK uses the catalog's schema until the first record).
        Only the thread that writes uses it."""
        if self._schema is None:
            self._schema = self._build_schema()
        return self._schema

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
        if not self.custom_fields_path or not self._pipedrive_tap.needs_custom_columns(type(self)):
            return []
        try:
            return self._pipedrive_tap.custom_fields(self.custom_fields_path, self.name)
        except ApiError as exc:
            if self.app == "sales" or exc.status not in (402, 403, 404):
                raise
            # Discovery builds every stream's schema: an account without the add-on must still
            # discover and sync the rest. Selected, the stream's own list then fails the run.
            # (The schema is built before the stream has a logger of its own.)
            self._pipedrive_tap.logger.info(
                "%s: %s answered %s (the account may not have this add-on): no custom "
                "field columns.",
                self.describe(None),
                self.custom_fields_path,
                exc.status,
            )
            return []

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

    @cached_property
    def _in_normal_form(self) -> Callable[[str], Any]:
        return normal_form(self.millis)

    # -- reading ------------------------------------------------------------------------------

    @property
    def client(self):
        return self._pipedrive_tap.client

    def request_params(self, context: dict | None) -> dict[str, Any]:
        return dict(self.params)

    def list_path(self, context: dict | None) -> str:
        return self.path

    def time_of(self, record: dict[str, Any]) -> str:
        """A record's update_time in this stream's one format ('' when it has none)."""
        return self.normal(record.get("update_time")) or ""

    def listing(self, context: dict | None, **params: Any) -> readers.Listing:
        """This stream's list for the partition, with its filters and `params` on top."""
        return readers.Listing(
            self.client,
            self.list_path(context),
            {**self.request_params(context), **params},
            self.page_size,
            self.time_of,
            self.logger,
        )

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        """This stream's reads: batches of records, one per request, in order. What the tap
        reads ahead."""
        return readers.pages_batches(self.listing(context), self.generation)

    def read(self, context: dict | None) -> Iterator[readers.Batch]:
        """`source`, read ahead (see read_ahead.py); a child stream's one request per parent
        batch is simply made."""
        if self.parent_stream_type:
            return self.reading(context)
        return self._pipedrive_tap.read_ahead.open(self, context)

    def reading(self, context: dict | None) -> Iterator[readers.Batch]:
        """`source`, its requests counted to this stream in whichever thread reads it, and its
        records prepared for the writer there (prepared.py)."""
        return map(prepared.Preparer(self, context), attributed(self.name, self.source(context)))

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        return itertools.chain.from_iterable(self.read(context))

    def since(self, context: dict | None) -> str:
        """Where this run starts (RFC 3339 UTC, whole seconds): the bookmark minus the lookback
        window, never before the anchor date. A bookmark in the future (a bad state, a clock
        that was wrong) would stall the stream for ever: it counts as now."""
        key = json.dumps(context or {}, sort_keys=True)
        if key not in self._since:
            self._since[key] = self._work_out_since(context)
        return self._since[key]

    def _work_out_since(self, context: dict | None) -> str:
        if self._pipedrive_tap.reconciling:
            return WHOLE_LIST_SINCE  # every record, also those last changed before the anchor
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
        self._pipedrive_tap.progress.count_record(self.name)
        if type(row) is fast_writer.Prepared:
            return row  # processed (and conformed) by its reader (prepared.py)
        return self.processed(row)

    def processed(self, row: dict) -> dict:
        """The record as written: times in the stream's one form, custom fields as columns,
        the deletion time. Depends on the record alone, so a reader thread may do it."""
        in_normal_form = self._in_normal_form
        for name in self.time_fields:
            value = row.get(name)
            # A time the API already sends in this stream's form stays as it is (`normal`
            # would give it back unchanged).
            if value and not (type(value) is str and in_normal_form(value)):
                row[name] = self.normal(value)
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
    # What child streams learn of each parent record they read for (see `batch`).
    BATCH_FIELDS: ClassVar[tuple[str, ...]] = ("id", "update_time", "add_time", "is_deleted")

    def __init__(self, tap: TapPipedrive) -> None:
        super().__init__(tap)
        self.batch: dict[Any, dict[str, Any]] = {}  # the records the children are reading for
        self._pending: dict[Any, dict[str, Any]] = {}
        self._taken: set[Any] = set()  # a record read twice in a run goes to children once
        self._processed = 0
        self._history_from: str | None = None
        self._bookmark: str | None = None

    # -- children: batches of the records read, never one request per record on every run ----

    def history_from(self, context: dict | None) -> str | None:
        """Where the partition's change logs are read down to: where this run started, or
        None (the whole history) on a first run."""
        if not self.get_starting_replication_key_value(context):
            return None
        return self.normal(self.since(context))

    def generate_child_contexts(self, record: dict, context: dict | None) -> Iterable[dict]:
        """Children get the records read in batches of CHILD_BATCH (a bulk endpoint's maximum),
        synced here directly, before any state that covers them is written. (Not yielded per
        record, so that a stream map filtering out the record that closes a batch does not drop
        the whole batch.)"""
        if not self.reads_for_children:
            return []  # nothing kept per record: memory stays flat however many are read
        self._processed += 1
        key = record.get("id")
        if key not in self._taken and self.stream_maps[0].get_filter_result(record):
            self._taken.add(key)
            kept = {name: record.get(name) for name in self.BATCH_FIELDS}
            # Changed since the last run's bookmark: re-read in the lookback window only, a
            # record's history was read when it changed (a record committed late inside the
            # window has its history read when it next changes).
            changed = not self._bookmark or (record.get("update_time") or "") > self._bookmark
            changed = changed and not self._pipedrive_tap.reconciling  # lists, not changes
            self._pending[key] = {**kept, "history_from": self._history_from, "changed": changed}
        if len(self._pending) >= CHILD_BATCH or self._processed % self.STATE_MSG_FREQUENCY == 0:
            self.flush_batch()
        return []

    @cached_property
    def reads_for_children(self) -> bool:
        return any(c.selected or c.has_selected_descendents for c in self.child_streams)

    @cached_property
    def history_backlog(self) -> history.Backlog:
        return history.Backlog(self.stream_state)

    def work_off_history_backlog(self) -> None:
        """Records whose history an earlier run's budget left over, read while this run's
        budget lasts: their records are listed by id (1 page per 100, per partition's list),
        then their children read as for any batch. A record no longer listed (purged) leaves
        the backlog."""
        readers_of_history = [c for c in self.child_streams if c.reads_history and c.selected]
        if self._pipedrive_tap.reconciling:
            return  # a reconciliation reads lists, not changes
        budget = self._pipedrive_tap.history_budget
        newest_first = self.config.get("history_backlog_order") == "newest"
        while readers_of_history and len(self.history_backlog):
            if not budget.allows(history.page_cost(self.name)):
                break
            waiting = dict(self.history_backlog.take(CHILD_BATCH, newest_first))
            ids = ",".join(map(str, waiting))
            for context in self.partitions or [None]:
                params = {**self.request_params(context), "ids": ids}  # deleted deals too
                pages = self.client.v2_pages(self.list_path(context), params)
                for record in itertools.chain.from_iterable(page.records for page in pages):
                    kept = {name: record.get(name) for name in self.BATCH_FIELDS}
                    for name in ("update_time", "add_time"):
                        kept[name] = self.normal(kept.get(name))
                    self._pending[record["id"]] = {
                        **kept,
                        "history_from": waiting[record["id"]],
                        "changed": True,
                    }
            self.logger.info(
                "%s: reading the history of %d record(s) from the backlog (%d still waiting).",
                self.describe(None),
                len(self._pending),
                len(self.history_backlog),
            )
            self.flush_batch()

    def flush_batch(self) -> None:
        self.batch, self._pending = self._pending, {}
        if self.batch and any(c.selected or c.has_selected_descendents for c in self.child_streams):
            sdk_internals.sync_children(self, {"ids": list(self.batch)})
        self._pipedrive_tap.change_logs.clear()
        self.batch = {}

    def begin_partition(self, context: dict | None) -> None:
        """Log where the partition starts, once. The lookback window re-reads records older
        than the bookmark on purpose; lower the bookmark to the window's start so the SDK's
        sort check accepts them. Re-reading the record that set the old bookmark brings it
        back up."""
        state = self.get_context_state(context)
        since = self.normal(self.since(context))
        if self._pipedrive_tap.reconciling:
            self.logger.info("Reconciling %s: reading the whole list.", self.describe(context))
        else:
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
            time = self.time_of(record)
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

    # What a partition reads with: `source` picks one (by generation here; a stream whose list
    # has no updated_since picks `newest_first`).

    def source(self, context: dict | None) -> Iterator[readers.Batch]:
        return self.keyset(context) if self.generation == "v1" else self.v2(context)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        self.begin_partition(context)
        self._history_from = self.history_from(context)
        self._bookmark = self.normal(self.get_starting_replication_key_value(context))
        yield from self.kept_in_order(super().get_records(context), context)
        self.flush_batch()  # the partition's last, partial batch
        if context == (self.partitions or [None])[-1]:
            self.work_off_history_backlog()

    def sort(self, direction: str) -> str:
        """The v1 `sort` the prose allows ('update_time ASC'), or, once the API refused that,
        the bare field name its schema allows (ascending)."""
        return "update_time" if self._strict else f"update_time {direction}"

    def v2(self, context: dict | None, **extra: Any) -> Iterator[readers.Batch]:
        since = self.since(context)
        order = {"sort_by": "update_time", "sort_direction": "asc"}
        listing = self.listing(context, updated_since=since, **order, **extra)
        most = self._pipedrive_tap.time_windows
        if self.has_updated_until and most > 1:
            prepare = prepared.Preparer(self, context)
            return iter(windows.WindowedListing(listing, most, prepare))
        return readers.v2_batches(listing)

    def keyset(self, context: dict | None) -> Iterator[readers.Batch]:
        since = self.since(context)
        return readers.keyset_batches(
            self.listing(context, updated_since=since, sort=self.sort("ASC"))
        )

    def newest_first(self, context: dict | None) -> Iterator[readers.Batch]:
        listing = self.listing(context, sort="update_time DESC")
        return readers.newest_first_batches(listing, self.normal(self.since(context)) or "")

    def ascending_since(self, context: dict | None) -> Iterator[readers.Batch]:
        """What `newest_first` reads, for an API that refuses a descending sort: the whole
        list, oldest first, from the bookmark on."""
        listing = self.listing(context, sort=self.sort("ASC"))
        return readers.ascending_since_batches(listing, self.normal(self.since(context)) or "")


class ReferenceStream(PipedriveStream):
    """Small lists read whole every run (full table)."""
