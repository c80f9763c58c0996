"""Where the tap leans on Singer SDK internals (private names, log texts), in one place, so an
SDK upgrade that changes them breaks here, and tests/tap/test_sdk_internals.py says so.

- Per-partition METRIC lines: the SDK syncs every partition of a stream under one record counter
  and one timer, and only retags them when the partition changes, so the total of all partitions
  went out tagged with the last one. These meters first report what the finished partition
  counted (and how long it took) under its own tags.
- Records out of order across pages: a sorted stream's state manager raises on them. The tap
  switches that stream's state to the SDK's unsorted mode (bookmark promoted at the end of the
  partition) instead of ending the run.
- "Starting incremental sync ... with bookmark value" is logged by the SDK's state manager each
  time a partition's start is written (twice with reading ahead, never naming the partition);
  the tap logs its own line once per partition, so that one is filtered out.
- The order of the streams: `sync_all` repeats the SDK's `Tap.sync_all` step for step, but the
  next stream to write is chosen among those left (a stream read whole ahead of its turn first,
  see read_ahead.py).
- A partition read ahead needs its starting bookmark before the SDK syncs it
  (`Stream._write_starting_replication_value`, the same value the SDK writes later).
- Deal products are synced per batch of 100 deals from the deals stream
  (`Stream._sync_children`), not per deal record.
- ACTIVATE_VERSION goes after a stream's last record, not before its first as the SDK sends it:
  the records carry the version (`Stream._stream_version`) and the message is written with
  `Stream._write_activate_version_message` once the stream was read whole.
- RECORD messages: `Stream._generate_record_messages` is replaced by `record_messages`, the
  same steps with the schema's type conformance compiled once (fast_conform.py, built on the
  SDK's private schema predicates in `singer_sdk.helpers._typing`) and the pruning of
  deselected properties skipped when nothing is deselected; a record its reader prepared
  (prepared.py) is conformed already. The keys of a partition that `Stream._process_record`
  adds to each record are worked out with `Stream._get_state_partition_context`.
- `--test`: the SDK's callback makes the tap with its stream maps, whose setup discovers every
  stream (5 requests); the connection check needs none, so `connection_test_tap` makes it
  without them, from the config the SDK's CLI parsed (`ctx.params["config"]`, a private
  `_ConfigInput`), and plain `--test` is told apart by the option's value.
- BATCH messages (batch_writer.py): the SDK's batch settings and message,
  `singer_sdk.helpers._batch.BatchConfig` and `SDKBatchMessage`, re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from time import time
from typing import Any

from singer_sdk import Stream, metrics
from singer_sdk.helpers import _typing
from singer_sdk.helpers._batch import BatchConfig, SDKBatchMessage
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage

from .fast_writer import Prepared

__all__ = [  # what other modules take from here besides its functions
    "BatchConfig",
    "SDKBatchMessage",
]

SDK_START_MESSAGE = "Starting incremental sync of '%s' with bookmark value: %s"


class PartitionCounter(metrics.Counter):
    def with_context(self, value: Any) -> None:
        if metrics.Tag.CONTEXT in self.tags:
            self._pop()  # the finished partition's count, under its own tags
        super().with_context(value)


class PartitionTimer(metrics.Timer):
    def with_context(self, value: Any) -> None:
        if metrics.Tag.CONTEXT in self.tags:
            tags = {**self.tags, metrics.Tag.STATUS: metrics.Status.SUCCEEDED}
            metrics.log(self.logger, metrics.Point("timer", self.metric, self.elapsed(), tags))
            self.start_time = time()
        super().with_context(value)


def record_counter(stream: str, log_interval: float) -> metrics.Counter:
    tags = {metrics.Tag.STREAM: stream}
    return PartitionCounter(metrics.Metric.RECORD_COUNT, tags, log_interval=log_interval)


def sync_timer(stream: str) -> metrics.Timer:
    return PartitionTimer(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: stream})


def sync_all(tap: Any, next_stream: Callable[[list[Stream]], Stream]) -> None:
    """The SDK's `Tap.sync_all`, step for step, but for the order of the streams: the next to
    sync is `next_stream` of those left (in the SDK's order)."""
    tap._reset_state_progress_markers()
    tap._set_compatible_replication_methods()
    if tap.state:
        tap._state_writer.write_state(tap.state)
    left: list[Stream] = []
    for stream in tap.streams.values():
        if not stream.selected and not stream.has_selected_descendents:
            tap.logger.info("Skipping deselected stream '%s'.", stream.name)
        elif not stream.parent_stream_type:  # a child is synced by its parent
            left.append(stream)
    while left:
        stream = next_stream(left)
        left.remove(stream)
        stream.sync()
        stream.finalize_state_progress_markers()
    for stream in tap.streams.values():  # children too: each logs its costs
        stream.log_sync_costs()


def write_starting_value(stream: Any, context: dict | None) -> None:
    stream._write_starting_replication_value(context)


def sync_children(stream: Any, child_context: dict) -> None:
    stream._sync_children(child_context)


def set_table_version(stream: Any, version: int) -> None:
    """The version the stream's RECORD messages carry from now on."""
    stream._stream_version = version


def activate_version(stream: Any, version: int) -> None:
    stream._write_activate_version_message(version)


def stop_trusting_sort(stream: Any) -> None:
    """From now on the stream's bookmark moves only when a partition is read whole."""
    stream.state_manager._is_sorted = False


class _DropSdkStartLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != SDK_START_MESSAGE


def quiet_sdk_start_line(logger: logging.Logger) -> None:
    if not any(isinstance(f, _DropSdkStartLine) for f in logger.filters):
        logger.addFilter(_DropSdkStartLine())


# -- RECORD messages (see fast_conform.py) ------------------------------------------------------

is_uniform_list = _typing.is_uniform_list
is_object_type = _typing.is_object_type
is_exclusive_boolean_type = _typing._is_exclusive_boolean_type
warn_unmapped_properties = _typing._warn_unmapped_properties


def sdk_conform(record: dict, schema: dict) -> tuple[dict, list]:
    """The SDK's recursive type conformance of one record, and the paths of its properties
    not in the schema (what `conform_record_data_types` warns about)."""
    return _typing._conform_record_data_types(record, schema, TypeConformanceLevel.RECURSIVE, None)


def state_partition_context(stream: Any, context: dict | None) -> dict | None:
    """The keys of the partition that the SDK adds to each of its records that lacks them
    (`Stream._process_record`)."""
    return stream._get_state_partition_context(context)


def conforms_recursively(stream: Any) -> bool:
    """Whether the stream's records are conformed as the SDK does by default."""
    return stream.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.RECURSIVE


def record_messages(stream: Any, record: dict, output: Any) -> Iterator[RecordMessage]:
    """`Stream._generate_record_messages` of singer-sdk 0.54, step for step: prune deselected
    properties, conform to the effective schema, one message per stream map. The conformance
    is `output`'s compiled conformer (fast_conform.RecordOutput) when the level is the SDK's
    default, RECURSIVE; any other level is the SDK's own method. A record its reader prepared
    (prepared.py) was conformed there already."""
    if not conforms_recursively(stream):
        yield from Stream._generate_record_messages(stream, record)
        return
    if type(record) is not Prepared:  # else conformed already, by its reader (prepared.py)
        schema = stream.effective_schema
        mask = stream.mask
        if not output.every_property_selected(mask):
            pop_deselected_record_properties(record, stream.schema, mask)
        record = output.conformer(schema)(record)
    for stream_map in stream.stream_maps:
        mapped_record = stream_map.transform(record)
        if mapped_record is not None:
            yield RecordMessage(
                stream=stream_map.stream_alias,
                record=mapped_record,
                version=stream._stream_version,
                time_extracted=utc_now(),
            )


def plain_test_option(value: str) -> bool:
    """Whether `--test` was given without a value (the SDK then syncs a record per stream;
    `--test=schema` writes the schemas)."""
    from singer_sdk.tap_base import CliTestOptionValue

    return value == CliTestOptionValue.All.value


def connection_test_tap(tap_class: Any, ctx: Any) -> Any:
    """The tap as the SDK's `--test` callback makes it, but without stream maps (whose setup
    would discover every stream)."""
    config = ctx.params.get("config")
    return tap_class(
        config=getattr(config, "config", None) or {},
        parse_env_config=getattr(config, "parse_env", False),
        validate_config=True,
        setup_mapper=False,
    )
