"""Records made ready to write by the thread that reads them, not by the writer.

The writer (the main thread) writes one stream at a time, in order. Over a network it spends
much of a run waiting for the next page of the stream it writes, while the pages of the streams
read ahead pile up; once they come, their records' processing (post_process, the schema's type
conformance, the JSON of the record) is what the run waits for after its last answer: 0.7 to
4 s at 1,000 ms of latency (benchmarks/rate_timeline.py). So the thread that reads a page (a
time window's, windows.py, or the stream's) does that work as the page comes, and hands over
`Prepared` records: the conformed record with its JSON.
The writer then only counts, keeps state and puts the line together.

The same functions run, only in another thread, so every byte written is what it was. A record
is left as read (and the writer does it all, as before) where the result could differ: a
property not in the schema (the SDK's warning goes out from the writer, in order), a value only
the SDK's encoder writes (fast_writer.py), or a stream whose records are changed after this
point (deselected properties, stream maps, type conformance other than the SDK's default). A
partition's keys, which the SDK adds to each record that lacks them before it is written, are
added here the same way.

A Prepared record that waits in a temporary file (read_ahead.py) is stored as its JSON alone,
and the record is read back from it: only what orjson wrote, which it reads back exactly, is
ever prepared. (A page stores in about half the time of its records as dicts, and reads back in
about the same: 1-7 ms for 500 records.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from singer_sdk.mapper import SameRecordTransform

from . import fast_writer, overlap, sdk_internals

if TYPE_CHECKING:
    from .base_streams import PipedriveStream
    from .readers import Batch


class Preparer:
    """Prepares the batches of one partition of a stream (`preparer(batch)`), in whichever
    thread reads them; a record prepared already stays as it is."""

    def __init__(self, stream: PipedriveStream, context: dict | None) -> None:
        self._stream, self._context = stream, context
        self._decided = False
        self._prepare: Callable[[dict], dict] | None = None

    def __call__(self, batch: Batch) -> Batch:
        if not self._decided:
            # At the first page, not before: the schema needs the field definitions, which
            # the tap reads while the first pages are on their way. (Two threads may both
            # work it out: the same answer.)
            self._prepare = _preparer(self._stream, self._context)
            self._decided = True
        prepare = self._prepare
        return batch if prepare is None else [prepare(record) for record in batch]


def _preparer(stream: PipedriveStream, context: dict | None) -> Callable[[dict], dict] | None:
    """How to prepare one record of this stream, or None when the writer must do it all."""
    writer = stream._pipedrive_tap.message_writer
    maps = stream.stream_maps
    if (
        # Beside the server (no network to wait for), the reader's next request waits for
        # the work done here, and the server sits idle meanwhile: the writer does it, while
        # the reader asks for the next page (1M records at zero latency: 163 s against 135 s
        # as the writer's work, one run each, benchmarks/versus_previous.py).
        not overlap.pays_off(stream.client)
        or not isinstance(writer, fast_writer.RecordLineWriter)
        or not fast_writer.fast_encoder_agrees()
        or not sdk_internals.conforms_recursively(stream)
        or len(maps) != 1
        or type(maps[0]) is not SameRecordTransform
        or maps[0].flattening_enabled
        or not stream._record_output.every_property_selected(stream.mask)
    ):
        return None
    conform = stream._record_output.conformer(stream.effective_schema).conform
    processed = stream.processed
    # The partition's keys, which the SDK adds to each of its records that lacks them.
    added = sdk_internals.state_partition_context(stream, context) or {}

    def prepare(record: dict) -> dict:
        if type(record) is fast_writer.Prepared:
            return record
        row = processed(dict(record))
        for key, value in added.items():
            if key not in row:
                row[key] = value
        conformed, unmapped = conform(row)
        text = None if unmapped else fast_writer.fast_record_json(conformed)
        if text is None:
            return record  # as read: the writer does it all
        out = fast_writer.Prepared(conformed)
        out.json = text
        return out

    return prepare
