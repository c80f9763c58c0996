"""tap-pipedrive: the Singer tap."""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from singer_sdk import Tap

from pipedrive_client import PipedriveClient, PipedriveError

from . import connection_check, history, inputs, overlap, sdk_internals, settings
from .batch_writer import BatchFileWriter
from .custom_fields import CustomField, name_columns
from .malloc_arenas import limit_malloc_arenas
from .progress import Progress
from .quick_exit import end_process
from .read_ahead import ReadAheadStreams
from .streams import STREAMS


class TapPipedrive(Tap):
    """Pipedrive CRM data, incrementally by update_time, and its reference data in full."""

    # One line above: `--about --format markdown` renders the docstring as the heading's text,
    # and an indented second line would make it a code block.

    name = "tap-pipedrive"
    package_name = "pipedrive-connectors"
    config_jsonschema = settings.SETTINGS
    # The SDK's writer with faster RECORD lines, byte for byte the same (see fast_writer.py),
    # which writes them to files announced by BATCH messages under `batch_config`.
    message_writer_class = BatchFileWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._field_definitions: dict[str, list[dict]] = {}
        self._fetching_definitions: dict[str, futures.Future] = {}
        # The SDK makes a tap that will sync with its mappers set up (and its streams made at
        # once); `--discover` makes one without.
        self._syncing = kwargs.get("setup_mapper", True)
        self.change_logs: dict[tuple[str, Any], list[dict] | None] = {}
        self.read_ahead = ReadAheadStreams()
        super().__init__(*args, **kwargs)
        if self.config.get("batch_config") and isinstance(self.message_writer, BatchFileWriter):
            # BATCH messages: the records go to files (see batch_writer.py).
            config = sdk_internals.BatchConfig.from_dict(dict(self.config["batch_config"]))
            self.message_writer.batches(config, self.name)
        _ = self.client  # settings are checked at start even when no stream needs the API
        self.progress = Progress(self.client.stats, self.logger)
        inputs.warn_about_unknown_settings(self.config, self.config_jsonschema, self.logger)
        if self.input_catalog:  # (self.streams is discovery: not for --test or --about)
            inputs.warn_about_unknown_streams(self.input_catalog, self.streams, self.logger)

    def load_state(self, state: dict[str, Any]) -> None:
        inputs.check_bookmarks(state, "the state")
        super().load_state(state)

    @property
    def records_emitted(self) -> Counter[str]:
        return self.progress.records

    @cached_property
    def client(self) -> PipedriveClient:
        return PipedriveClient(settings.validate(self.config))

    @cached_property
    def anchor(self) -> str:
        return settings.anchor_date(self.config)

    @cached_property
    def reconciling(self) -> bool:
        """A reconciliation run: the selected streams are read whole (see `reconcile`)."""
        return bool(self.config.get("reconcile", False))

    @cached_property
    def activates_versions(self) -> bool:
        return self.reconciling or bool(self.config.get("emit_activate_version_messages"))

    @cached_property
    def table_version(self) -> int:
        """This run's table version (seconds since the epoch, as the SDK's): a later run's is
        greater, so the loader retires the rows it did not read."""
        return int(time.time())

    @cached_property
    def time_windows(self) -> int:
        return settings.time_windows(self.config)

    @cached_property
    def lookback_seconds(self) -> int:
        return settings.lookback_seconds(self.config)

    def change_log(self, entity: str, record: dict) -> list[dict] | None:
        """A record's change entries for this run, read once for every stream that needs them
        (the parent clears them after each batch); None when they are not read in this run: the
        record did not change since the last run (the lookback window), or its history did not
        fit the run's budget and waits in its parent's backlog."""
        key = (entity, record["id"])
        if not record["changed"]:
            return None
        if key not in self.change_logs:
            cost = history.page_cost(entity)
            if self.history_budget.allows(cost):
                stop = record.get("history_from")
                entries, pages = history.change_log(self.client, entity, record["id"], stop)
                self.history_budget.spend(pages * cost)
                self.change_logs[key] = entries
            else:
                self.streams[entity].history_backlog.add(record["id"], record["history_from"])
                self.change_logs[key] = None
        return self.change_logs[key]

    @cached_property
    def history_budget(self) -> history.Budget:
        left = self.client.stats.daily_tokens_left
        return history.Budget(settings.history_tokens(self.config, left))

    def field_definitions(self, path: str) -> list[dict]:
        """v2 field definitions, fetched once per run (they name the custom field columns and
        are also the *_fields streams). One fetched in the background is waited for; one that
        failed there is read again, and its error raised, here."""
        fetching = self._fetching_definitions.get(path)
        if fetching is not None:
            fetching.result()
        if path not in self._field_definitions:
            self._field_definitions[path] = list(self.client.v2_list(path))
        return self._field_definitions[path]

    def custom_fields(self, path: str, stream: str) -> list[CustomField]:
        reserved = _standard_columns(stream)
        return name_columns(
            self.field_definitions(path),
            reserved,
            self.config.get("custom_field_names", "readable"),
            self.config.get("custom_field_columns"),
        )

    def discover_streams(self) -> list:
        self._fetch_field_definitions(
            {s.custom_fields_path for s in STREAMS if self.needs_custom_columns(s)} - {None}
        )
        return [stream_class(self) for stream_class in STREAMS]

    def needs_custom_columns(self, stream_class: type) -> bool:
        """Discovery describes every stream whole; a sync reads the field definitions only for
        the streams it selects (or whose child streams it selects), by its catalog or, without
        one, by default: those of a stream left out are a request that no record needs."""
        family = [stream_class, *(c for c in STREAMS if _descends_from(c, stream_class))]
        if self.input_catalog:
            return any(inputs.catalog_selects(self.input_catalog, c.name) for c in family)
        if self._syncing:
            return any(c.selected_by_default for c in family)
        return True

    def _fetch_field_definitions(self, paths: set[str]) -> None:
        """Every stream's schema needs its entity's field definitions: start reading them all
        at once, in the background, so that a sync's first pages go beside them (a schema is
        built when first used, see `PipedriveStream.schema`)."""

        def fetch(path: str) -> None:
            with contextlib.suppress(PipedriveError):
                self._field_definitions[path] = list(self.client.v2_list(path))

        pool = ThreadPoolExecutor(max_workers=len(paths) or 1, thread_name_prefix="fields")
        self._definitions_sent = time.monotonic()
        for path in sorted(paths):
            self._fetching_definitions[path] = pool.submit(fetch, path)
        pool.shutdown(wait=False)

    def _first_answer(self) -> None:
        """Before the sync reads ahead: wait for the first field definitions to come back, at
        most until `overlap.FIRST_ANSWER_SECONDS` after they went, so that `overlap.pays_off`
        knows whether a server sits beside the tap before streams start reading. No answer by
        then: a network's round trip, where reading ahead pays off."""
        fetching = list(self._fetching_definitions.values())
        if fetching:
            left = self._definitions_sent + overlap.FIRST_ANSWER_SECONDS - time.monotonic()
            futures.wait(fetching, max(left, 0.0), futures.FIRST_COMPLETED)

    def sync_all(self) -> None:
        self.read_ahead = ReadAheadStreams(
            self._sync_order(), settings.read_ahead_streams(self.config)
        )
        self.progress.start(settings.progress_interval(self.config))
        try:
            self._first_answer()
            # The first streams start reading now, beside the field definitions still on their
            # way (the first stream's sync waits for its own before it writes).
            self.read_ahead.start()
            with _spaced_collections():
                sdk_internals.sync_all(self, self.read_ahead.next_to_write)
        finally:
            self.flush_messages()
            self.read_ahead.close()
            self.progress.stop()
            self._log_summary()

    @classmethod
    def cb_test(cls, ctx: Any, param: Any, value: str) -> None:
        """Plain `--test` is the connection check, without discovery."""
        if not sdk_internals.plain_test_option(value):
            super().cb_test(ctx, param, value)
            return
        sdk_internals.connection_test_tap(cls, ctx).run_connection_test()
        ctx.exit()

    def run_connection_test(self) -> bool:  # type: ignore[misc]
        """`--test`: one request (users/me) where the SDK's test reads a record of every
        stream after discovery (see connection_check.py)."""
        for line in connection_check.report(self.client, STREAMS):
            self.logger.info(line)
        return True

    def run_sync_dry_run(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().run_sync_dry_run(*args, **kwargs)
        finally:
            self.flush_messages()

    def flush_messages(self) -> None:
        """Write the RECORD lines the writer holds (see fast_writer.py)."""
        flush = getattr(self.message_writer, "flush", None)
        if flush is not None:
            flush()

    def _sync_order(self) -> list[tuple[Any, dict | None]]:
        """The (stream, partition) pairs the SDK's sync_all reads through `stream.read`, in
        its order."""
        return [
            (stream, context)
            for stream in self.streams.values()
            if (stream.selected or stream.has_selected_descendents)
            and not stream.parent_stream_type
            and stream.read_ahead
            for context in stream.partitions or [None]
        ]

    def _log_summary(self) -> None:
        if "client" not in self.__dict__:
            return
        per_stream = ", ".join(f"{name} {n}" for name, n in sorted(self.records_emitted.items()))
        self.logger.info("Records per stream: %s", per_stream or "none")
        self.logger.info(self.client.stats.summary())
        self.progress.log_table()


def _descends_from(child: type, ancestor: type) -> bool:
    parent = getattr(child, "parent_stream_type", None)
    return parent is not None and (parent is ancestor or _descends_from(parent, ancestor))


@contextlib.contextmanager
def _spaced_collections() -> Iterator[None]:
    """Python's cycle collector runs every 700 new objects, and its passes go over what
    outlived the last ones (pages of records held while they are written, the SDK, the
    catalog): a full sync of the medium company made 230 passes, 0.2 to 0.45 s of its 1.6 s
    of CPU. The objects from before the sync are set aside (gc.freeze) and passes come every
    10,000 new objects: 5 passes, 0.03 to 0.05 s. Records hold no cycles (they are freed as
    soon as they are written), so memory does not grow. Both are undone after the sync."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 10_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _standard_columns(stream: str) -> set[str]:
    import json
    from importlib import resources

    text = resources.files(__package__).joinpath(f"schemas/{stream}.json").read_text()
    return set(json.loads(text)["properties"]) | {"_sdc_deleted_at"}


def main() -> None:
    """Console entry point: a configuration or API failure ends in one readable line, and a
    run that succeeded ends the process (quick_exit.py)."""
    limit_malloc_arenas()
    try:
        inputs.check_command_line(sys.argv[1:])
        exit_code = TapPipedrive.cli.main(standalone_mode=False)
    except PipedriveError as exc:
        print(f"tap-pipedrive: {exc}", file=sys.stderr)
        sys.exit(1)
    if isinstance(exit_code, int) and exit_code:
        sys.exit(exit_code)
    end_process()


if __name__ == "__main__":
    main()
