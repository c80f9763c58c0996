"""Proactive pacing: never send more requests than the burst limit allows.

Pipedrive counts requests per token in any rolling 2-second window. A plain token bucket lets
through twice its capacity across a window boundary, so we keep the send times of the last
`limit` requests (a sliding log) and wait until the oldest leaves the window. The server's
`x-ratelimit-*` headers tighten the pace further when it knows better (another process using the
same token, a lower plan).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .config import BURST_WINDOW_SECONDS
from .errors import ConfigError

# The server stamps a request when it arrives, we when we send it; latency jitter can squeeze two
# sends further apart than their arrivals. A small margin keeps us under the limit anyway.
WINDOW_MARGIN_SECONDS = 0.05
# Places in the window that requests made in the background (reading ahead) leave free, so the
# request the sync is waiting for never queues behind them.
BACKGROUND_RESERVE = 1

_thread = threading.local()


@contextmanager
def in_background(active: bool = True) -> Iterator[None]:
    """Requests made by this thread inside the block yield to the others at the pacer."""
    before = getattr(_thread, "background", False)
    _thread.background = active
    try:
        yield
    finally:
        _thread.background = before


class SlidingWindow:
    """At most `limit` acquisitions in any `window` seconds, within one process."""

    def __init__(
        self,
        limit: int,
        window: float = BURST_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window + WINDOW_MARGIN_SECONDS
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self, reserve: int = 0) -> float:
        """Block until a request may be sent, leaving `reserve` places in the window to others;
        return the seconds waited."""
        allowed = max(1, self.limit - reserve)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                # Sends stay on record for a second window: `held_at` looks back from a send
                # that is a round trip old.
                while self._sent and now - self._sent[0] >= 2 * self.window:
                    self._sent.popleft()
                in_window = len(self._sent) - bisect_right(self._sent, now - self.window)
                if in_window < allowed:
                    self._sent.append(now)
                    return waited
                delay = self._sent[-allowed] + self.window - now
            # Sleep without the lock, so that a request with a smaller reserve can take a place
            # that frees up meanwhile.
            self._sleep(delay)
            waited += delay

    def held_at(self, moment: float) -> int:
        """How many of our own requests were in the window that ends at `moment`."""
        with self._lock:
            sent = self._sent
            return bisect_right(sent, moment) - bisect_right(sent, moment - self.window)


class SharedWindow:
    """The same limit, shared by every process that points at the same store.

    Backed by pyrate-limiter's sliding-log buckets: SQLite with a file lock for processes on one
    machine, Redis or PostgreSQL for several machines.
    """

    def __init__(self, limit: int, store: str, name: str) -> None:
        from pyrate_limiter import Duration, Limiter, Rate

        self.limit = limit
        self._name = name
        rate = Rate(limit, int((BURST_WINDOW_SECONDS + WINDOW_MARGIN_SECONDS) * Duration.SECOND))
        self._limiter = Limiter(_bucket_for(store, rate, table=name))

    def acquire(self) -> float:
        started = time.monotonic()
        self._limiter.try_acquire(self._name, blocking=True)
        return time.monotonic() - started


def _bucket_for(store: str, rate, table: str):
    scheme = store.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from pyrate_limiter import SQLiteBucket

        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db
        if not store.startswith("sqlite:///"):
            raise ConfigError("budget_store for SQLite must look like sqlite:///path/to/file.db")
        path = store.removeprefix("sqlite:///")
        return SQLiteBucket.init_from_file(
            [rate], table=table, db_path=path, create_new_table=True, use_file_lock=True
        )
    if scheme in ("redis", "rediss"):
        try:
            import redis
        except ImportError as exc:
            raise ConfigError("budget_store redis:// needs the 'redis' package installed.") from exc
        from pyrate_limiter import RedisBucket

        return RedisBucket.init([rate], redis.Redis.from_url(store), table)
    if scheme in ("postgres", "postgresql"):
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise ConfigError(
                "budget_store postgresql:// needs the 'psycopg-pool' package installed."
            ) from exc
        from pyrate_limiter import PostgresBucket

        return PostgresBucket(ConnectionPool(store), table, [rate])
    raise ConfigError(
        f"budget_store scheme '{scheme}' is not supported: use sqlite:///path, redis://host "
        "or postgresql://..."
    )


class Pacer:
    """All proactive waiting for one client: the burst window, the search window, and pauses
    the server asked for through its rate-limit headers."""

    def __init__(
        self,
        limit: int,
        search_limit: int,
        store: str | None = None,
        adopt_server_limit: bool = True,
    ) -> None:
        self._adopt_server_limit = adopt_server_limit
        self._general = self._window(limit, store, "pipedrive_burst")
        self._search = self._window(search_limit, store, "pipedrive_search")
        self._resume_at = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def _window(limit: int, store: str | None, name: str) -> SlidingWindow | SharedWindow:
        return SharedWindow(limit, store, name) if store else SlidingWindow(limit)

    @property
    def limit(self) -> int:
        return self._general.limit

    def acquire(self, search: bool = False) -> float:
        """Wait as long as needed before the next request; return the seconds waited."""
        waited = 0.0
        with self._lock:
            pause = self._resume_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
            waited += pause
        if search:
            waited += self._search.acquire()
        reserve = BACKGROUND_RESERVE if getattr(_thread, "background", False) else 0
        if isinstance(self._general, SlidingWindow):
            return waited + self._general.acquire(reserve)
        return waited + self._general.acquire()

    def observe(
        self,
        limit: int | None,
        remaining: int | None,
        reset: float | None,
        sent_at: float | None = None,
    ) -> None:
        """Learn from the `x-ratelimit-*` headers of the response to a request sent at
        `sent_at` (time.monotonic)."""
        local = isinstance(self._general, SlidingWindow)
        if local and limit and (limit < self._general.limit or self._adopt_server_limit):
            self._general.limit = limit
        if remaining is not None and remaining <= 0 and reset:
            if local and limit and sent_at is not None and self._general.held_at(sent_at) >= limit:
                # Every request the server counted was ours: the window already waits exactly
                # until the oldest leaves, where the header's whole seconds would overshoot by
                # up to a second.
                return
            self.pause(reset)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)
