"""Fetch the next page while the caller works on this one.

Over a real network a sync otherwise pays for every request's round trip and then for its own
processing, one after the other; reading one page ahead makes it take the longer of the two.
Only one page waits at a time, so memory stays at a few pages. Pacing, retries and accounting
are the session's and already thread-safe; the order of pages is unchanged.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()
_POLL_SECONDS = 0.1


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                ready.put((item, error), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # every error belongs to the reader
            hand_over(_END, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="pipedrive-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        # The reader stopped (done, failed or closed): the worker ends after its current fetch.
        stop.set()
