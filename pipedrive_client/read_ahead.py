"""Fetch the next pages while the caller works on this one.

Over a real network a sync otherwise pays for every request's round trip and then for its own
processing, one after the other; reading ahead makes it take the longer of the two. At most
`depth` pages wait in memory. A reader started before anyone reads it (a stream further down
the sync) may also spool pages to a temporary file, up to `spool_bytes`, so that it can keep
the request budget busy without holding its pages in memory; once its reading begins it spools
no more. Pacing, retries and accounting are the session's and already thread-safe; the order
of pages is unchanged.
"""

from __future__ import annotations

import contextvars
import pickle
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from .pacing import urgency

T = TypeVar("T")

_ITEM, _SPOOLED, _END, _ERROR = range(4)
_NOTHING = object()
# The urgency at the pacer of a reader not read from yet (a stream further down the sync): below
# the requests someone waits for (0), above the pages of time windows (see the tap's windows.py).
READ_AHEAD_URGENCY = -0.5


class _Channel:
    """What the fetching thread and the reader share (the thread holds no reference to the
    ReadAhead, so a reader that is dropped is collected and closes this)."""

    def __init__(self, depth: int, spool_bytes: int) -> None:
        self.cond = threading.Condition()
        self.entries: deque[tuple[int, Any]] = deque()
        self.depth, self.in_memory = depth, 0
        self.spool_bytes, self.spooled = spool_bytes, 0  # limit, and unread bytes now
        self.spool: Any = None
        self.spool_end = 0
        self.reading = self.closed = self.fetched = self.failed = False

    def put(self, item: Any) -> bool:
        """Hand over one item, waiting for room; False once the reader is gone."""
        with self.cond:
            while True:
                if self.closed:
                    return False
                # Read ahead of its turn, an item goes to the spool (if there is one).
                if self.in_memory < self.depth and (self.reading or not self.spool_bytes):
                    self.entries.append((_ITEM, item))
                    self.in_memory += 1
                    self.cond.notify_all()
                    return True
                if not self.reading and self.spooled < self.spool_bytes:
                    break
                self.cond.wait()
        data = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        with self.cond:
            if self.closed:
                return False
            if self.spool is None:
                # Closed in close(); the file has no name and vanishes with the process.
                self.spool = tempfile.TemporaryFile(prefix="pipedrive-read-ahead-")  # noqa: SIM115
            if not self.spooled:  # everything spooled was read: start the file over
                self.spool_end = 0
            self.spool.seek(self.spool_end)
            self.spool.write(data)
            self.entries.append((_SPOOLED, (self.spool_end, len(data))))
            self.spool_end += len(data)
            self.spooled += len(data)
            self.cond.notify_all()
        return True

    def finish(self, error: BaseException | None) -> None:
        with self.cond:
            self.entries.append((_ERROR, error) if error else (_END, None))
            self.fetched = True
            self.failed = error is not None
            self.cond.notify_all()

    def get(self) -> tuple[int, Any]:
        with self.cond:
            self.reading = True
            while not self.entries:
                self.cond.wait()
            kind, payload = self.entries.popleft()
            if kind == _ITEM:
                self.in_memory -= 1
            elif kind == _SPOOLED:
                offset, size = payload
                self.spool.seek(offset)
                payload = pickle.loads(self.spool.read(size))  # noqa: S301 - our own file
                self.spooled -= size
            self.cond.notify_all()
            return kind, payload

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.entries.clear()
            if self.spool is not None:
                self.spool.close()
                self.spool = None
            self.cond.notify_all()


def _work(items: Iterator[Any], channel: _Channel) -> None:
    error = None
    try:
        while True:
            # Until its reading begins, this reader's requests wait for the others at the pacer.
            with urgency(0.0 if channel.reading else READ_AHEAD_URGENCY):
                item = next(items, _NOTHING)
            if item is _NOTHING or not channel.put(item):
                break
    except BaseException as exc:  # every error belongs to the reader
        error = exc
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    channel.finish(error)


class ReadAhead(Generic[T]):
    """An iterator over `items` whose fetching starts at once, in a thread of its own. An error
    while fetching reaches the reader after the items before it. Closing it (or dropping it)
    stops the fetching after the item in hand."""

    def __init__(self, items: Iterator[T], depth: int = 1, spool_bytes: int = 0) -> None:
        self._channel = _Channel(depth, spool_bytes)
        self._done = False
        # The thread runs in a copy of this one's context: its requests count to the same part
        # of the run (stats.attributed).
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run,
            args=(_work, items, self._channel),
            name="pipedrive-read-ahead",
            daemon=True,
        ).start()

    @property
    def fetched(self) -> bool:
        """Whether the fetching has ended (all items, or an error, are waiting)."""
        return self._channel.fetched

    @property
    def failed(self) -> bool:
        """Whether the fetching ended with an error (which waits for the reader)."""
        return self._channel.failed

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        kind, payload = self._channel.get()
        if kind in (_END, _ERROR):
            self.close()
            if kind == _ERROR:
                raise payload
            raise StopIteration
        return payload

    def close(self) -> None:
        if not getattr(self, "_done", True):
            self._done = True
            self._channel.close()

    def __del__(self) -> None:
        self.close()


def read_ahead(items: Iterator[T], depth: int = 1, spool_bytes: int = 0) -> ReadAhead[T]:
    return ReadAhead(items, depth, spool_bytes)
