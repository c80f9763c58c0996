"""Counters of what a run cost: requests, API tokens, retries and seconds spent waiting."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


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

    def record_failed_attempt(self, endpoint: str) -> None:
        """A request that got no answer (reset, timeout): sent, so counted, but not charged."""
        with self._lock:
            self.requests += 1
            self.requests_by_endpoint[endpoint] += 1

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
