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
from collections import deque
from collections.abc import Callable

from .config import BURST_WINDOW_SECONDS
from .errors import ConfigError

# The server stamps a request when it arrives, we when we send it; latency jitter can squeeze two
# sends further apart than their arrivals. A small margin keeps us under the limit anyway.
WINDOW_MARGIN_SECONDS = 0.05


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

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return waited
                delay = self._sent[0] + self.window - now
                self._sleep(delay)
                waited += delay


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
        return waited + self._general.acquire()

    def observe(self, limit: int | None, remaining: int | None, reset: float | None) -> None:
        """Learn from the `x-ratelimit-*` headers of a response."""
        local = isinstance(self._general, SlidingWindow)
        if local and limit and (limit < self._general.limit or self._adopt_server_limit):
            self._general.limit = limit
        if remaining is not None and remaining <= 0 and reset:
            self.pause(reset)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)
