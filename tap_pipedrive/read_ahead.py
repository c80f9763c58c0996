"""Read the next streams while the current one is written.

The SDK syncs streams one after another, and each stream's pages one after another (a v2 page
needs the cursor the page before it returned). Over a real network that leaves the request
budget half used: one request in flight, then the wait for its answer. So while one stream is
written, the next few streams in the SDK's order (`read_ahead_streams`) are already read,
through the same paced client, their requests waiting behind those of the stream being
written (`pacing.urgency`), into temporary files (up to `SPOOL_BYTES` each); when one is done
the next starts; only over a network (overlap.py). Each stream's messages, the bookmarks and
the requests made are all as before; only the waiting overlaps, and a stream read whole ahead
of its turn is written before one still being read (`next_to_write`). Memory stays at a few
pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pipedrive_client import ReadAhead, read_ahead

from . import overlap, sdk_internals

if TYPE_CHECKING:
    from .base_streams import PipedriveStream

PAGES_IN_MEMORY = 2  # of the stream being written
SPOOL_BYTES = 64 * 2**20  # what the stream read ahead may hold on disk before it waits


def _key(stream: PipedriveStream, context: dict | None) -> str:
    return f"{stream.name} {json.dumps(context or {}, sort_keys=True)}"


class ReadAheadStreams:
    """Readers for the (stream, partition) pairs of one sync, in the order they are synced:
    the one being written, and up to `streams_ahead` after it reading ahead. Only the main
    thread calls this."""

    def __init__(
        self, order: Iterable[tuple[PipedriveStream, dict | None]] = (), streams_ahead: int = 0
    ) -> None:
        self._order = list(order)  # (stream, partition) pairs
        self._streams_ahead = streams_ahead
        self._keys = [_key(stream, context) for stream, context in self._order]
        self._started: set[str] = set()
        self._waiting: dict[str, ReadAhead] = {}  # read ahead, not yet reached
        self._ahead: list[ReadAhead] = []  # reading ahead now

    def open(self, stream: PipedriveStream, context: dict | None) -> Iterator[Any]:
        """The reader of this stream and partition (already under way if it was read ahead)."""
        key = _key(stream, context)
        reader = self._waiting.pop(key, None)
        if reader is None:
            reader = read_ahead(stream.reading(context), PAGES_IN_MEMORY)
        elif reader in self._ahead:
            self._ahead.remove(reader)
        self._started.add(key)
        return self._read(reader)

    def next_to_write(self, streams: list[PipedriveStream]) -> PipedriveStream:
        """Of `streams` left to write (in the SDK's order), the first whose every partition was
        read whole ahead of its turn, else the first. A small stream read while the writer
        waited for a large one is written then, not after the last answer; a stream is still
        written whole, from its SCHEMA to its STATE, so a target sees nothing new. One whose
        reading failed keeps its turn: the streams before it are written first."""
        for stream in streams:
            readers = [
                self._waiting.get(key)
                for (other, _), key in zip(self._order, self._keys, strict=True)
                if other is stream
            ]
            if readers and all(r is not None and r.fetched and not r.failed for r in readers):
                return stream
        return streams[0]

    def start(self) -> None:
        """Start the first streams reading, before the SDK syncs the first of them."""
        self._advance()

    def _read(self, reader: ReadAhead) -> Iterator[Any]:
        try:
            # The next streams start now, not once this one's first page came: over a slow
            # network that wait is a whole round trip of the run's start.
            self._advance()
            for item in reader:
                self._advance()
                yield item
        finally:
            reader.close()

    def _advance(self) -> None:
        """Keep `streams_ahead` streams reading ahead: when one is fetched whole, the next not
        yet started (in the SDK's order) starts."""
        self._ahead = [reader for reader in self._ahead if not reader.fetched]
        for stream, context in self._order:
            if len(self._ahead) >= self._streams_ahead:
                return
            key = _key(stream, context)
            if key not in self._started:
                if not overlap.pays_off(stream.client):
                    return  # no network wait to overlap (a server beside the tap)
                self._started.add(key)
                # The SDK records where a partition starts (its bookmark) only when it syncs
                # it; reading ahead needs that now. Same value: the bookmark does not move
                # before then.
                sdk_internals.write_starting_value(stream, context)
                reader = read_ahead(stream.reading(context), PAGES_IN_MEMORY, SPOOL_BYTES)
                self._ahead.append(reader)
                self._waiting[key] = reader

    def close(self) -> None:
        """Stop readers that were never reached (a stream failed before them)."""
        for reader in self._waiting.values():
            reader.close()
        self._waiting.clear()
        self._ahead.clear()
