"""Counters of what a run cost: requests, API tokens, retries and seconds spent waiting, in all
and per part of the run (a stream, say: see `attributed`)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# What the requests made now are for (a stream's name); None: the run's own (discovery, checks).
_part: ContextVar[str | None] = ContextVar("pipedrive_part", default=None)
_END = object()


@contextmanager
def counted_to(part: str) -> Iterator[None]:
    """The requests this thread makes inside the block count to `part` (and those of the
    threads ReadAhead starts meanwhile, which carry the part along)."""
    token = _part.set(part)
    try:
        yield
    finally:
        _part.reset(token)


def attributed(part: str, items: Iterable) -> Iterator:
    """`items`, with the requests made while each is fetched counted to `part`, whichever
    thread fetches them."""
    iterator = iter(items)
    try:
        while True:
            with counted_to(part):
                item = next(iterator, _END)
            if item is _END:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


@dataclass
class PartStats:
    """What one part of a run cost, and when it made its first and last request."""

    requests: int = 0
    pages: int = 0  # answers that were not errors
    tokens: int = 0
    first_at: float | None = None  # time.monotonic()
    last_at: float | None = None

    def count(self, answered: bool, tokens: int) -> None:
        now = time.monotonic()
        self.first_at = self.first_at if self.first_at is not None else now
        self.last_at = now
        self.requests += 1
        self.pages += answered
        self.tokens += tokens


@dataclass
class RunStats:
    requests: int = 0
    tokens: int = 0
    retries: int = 0
    # Wall time during which at least one request waited (for the burst window, a backoff, a
    # reset): threads reading ahead wait at the same time, and their waits are not added up.
    seconds_waited: float = 0.0
    # The company's daily token budget left, as the last response's headers said (None: unsaid).
    daily_tokens_left: float | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    tokens_by_endpoint: Counter[str] = field(default_factory=Counter)
    by_part: dict[str | None, PartStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _waiting: int = field(default=0, repr=False, compare=False)
    _waiting_since: float = field(default=0.0, repr=False, compare=False)

    def record_response(self, endpoint: str, status: int, tokens: int) -> None:
        with self._lock:
            self.requests += 1
            self.tokens += tokens
            self.statuses[status] += 1
            self.requests_by_endpoint[endpoint] += 1
            self.tokens_by_endpoint[endpoint] += tokens
            self._part().count(status < 400, tokens)

    def _part(self) -> PartStats:
        part = _part.get()
        if part not in self.by_part:
            self.by_part[part] = PartStats()
        return self.by_part[part]

    def record_failed_attempt(self, endpoint: str) -> None:
        """A request that got no answer (reset, timeout): sent, so counted, but not charged."""
        with self._lock:
            self.requests += 1
            self.requests_by_endpoint[endpoint] += 1
            self._part().count(False, 0)

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def wait_began(self) -> None:
        with self._lock:
            if not self._waiting:
                self._waiting_since = time.monotonic()
            self._waiting += 1

    def wait_ended(self) -> None:
        with self._lock:
            self._waiting -= 1
            if not self._waiting:
                self.seconds_waited += time.monotonic() - self._waiting_since

    @contextmanager
    def waiting(self) -> Iterator[None]:
        self.wait_began()
        try:
            yield
        finally:
            self.wait_ended()

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "tokens": self.tokens,
            "retries": self.retries,
            "seconds_waited": round(self.seconds_waited, 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }

    def summary(self) -> str:
        return (
            f"Pipedrive API usage: {self.requests} requests, {self.tokens} tokens, "
            f"{self.retries} retries, {self.seconds_waited:.1f} s waited"
        )
