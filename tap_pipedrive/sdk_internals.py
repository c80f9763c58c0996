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
- A partition read ahead needs its starting bookmark before the SDK syncs it
  (`Stream._write_starting_replication_value`, the same value the SDK writes later).
- Deal products are synced per batch of 100 deals from the deals stream
  (`Stream._sync_children`), not per deal record.
- ACTIVATE_VERSION goes after a stream's last record, not before its first as the SDK sends it:
  the records carry the version (`Stream._stream_version`) and the message is written with
  `Stream._write_activate_version_message` once the stream was read whole.
"""

from __future__ import annotations

import logging
from time import time
from typing import Any

from singer_sdk import metrics

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
