"""Proactive pacing: never send more requests than the burst limit allows.

Pipedrive counts requests per token in any rolling 2-second window. A plain token bucket lets
through twice its capacity across a window boundary, so we keep the send times of the last
`limit` requests (a sliding log) and wait until the oldest leaves the window. The server's
`x-ratelimit-*` headers tighten the pace further when it knows better (another process using the
same token, a lower plan).
"""

from __future__ import annotations

import itertools
import threading
import time
from bisect import bisect_right, insort
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .config import BURST_WINDOW_SECONDS
from .errors import ConfigError

# The server stamps a request somewhere between its sending and its answer. Counting each one
# until 2 s after its answer would be safe whatever the network does, but it holds every place
# for a whole round trip more than the server does: at 1 s of latency a third of the limit goes
# unused. So a request counts until 2 s after its answer less the fastest round trip seen. The
# part of a round trip that every request pays shifts our requests and the server's stamps alike;
# what an answer took beyond the fastest may have been spent on the way to the server (stamped
# late), so that part is counted. A request freed this way is safe when its own way there plus the
# earlier one's time at the server and way back is at least the fastest round trip. That is not
# guaranteed (other requests' legs may each be shorter than the fastest trip's), but the legs vary
# little next to the round trip, and the small margin on top covers that and the clocks'
# granularity. 10 ms rather than 50 ms gave 0 answered 429s in 14 runs at 100-1,000 ms and 2-3%
# less wall time.
# The server's own count in every answer (`count_others`) and the 429 handling are the net
# under it.
WINDOW_MARGIN_SECONDS = 0.01
# Across processes a request counts from its send only (pyrate-limiter's log), so the jitter of
# the way there is not covered by the answer: a wider margin.
SHARED_WINDOW_MARGIN_SECONDS = 0.05
# With a test's clock: how long a request waits to look again when all places are in flight.
IN_FLIGHT_POLL_SECONDS = 0.01
_thread = threading.local()


@contextmanager
def urgency(value: float) -> Iterator[None]:
    """Requests made by this thread inside the block take a place before waiting requests of
    lower urgency (0 unless set): a reader being read from before one reading ahead, a chain
    of pages that nothing can shorten before one that a cut can."""
    before = getattr(_thread, "urgency", 0.0)
    _thread.urgency = value
    try:
        yield
    finally:
        _thread.urgency = before


def current_urgency() -> float:
    """The urgency of this thread's requests now."""
    return getattr(_thread, "urgency", 0.0)


class SlidingWindow:
    """At most `limit` requests in any `window` seconds as the server counts them, within one
    process: those in flight and those answered less than `window` ago."""

    def __init__(
        self,
        limit: int,
        window: float = BURST_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.limit = limit
        self.window = window + WINDOW_MARGIN_SECONDS
        self._flying: dict[int, float] = {}  # tickets of requests in flight: when each went
        self._fastest = float("inf")  # the fastest round trip seen
        self._tickets = itertools.count()
        # Tickets of requests waiting: their place in the queue (urgency, then first come).
        self._waiting: dict[int, tuple[float, int]] = {}
        self._mine = threading.local()  # the ticket of this thread's request
        self._answered: list[float] = []  # when each answer came, in order
        self._others: list[float] = []  # when we learned of others' requests on this token
        self.others_counted = 0  # others' requests counted in all (benchmarks/rate_timeline.py)
        self._sends: list[float] = []  # when each of our requests of the last windows went
        self._sends_dropped = 0  # how many older ones were dropped from it
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # an answer came, or a waiter left
        self._clock = clock
        self._sleep = sleep  # tests with their own clock sleep by it; else the condition waits

    def _counted(self, now: float) -> int:
        for times in (self._answered, self._others):
            del times[: bisect_right(times, now - self.window)]
        return len(self._flying) + len(self._answered) + len(self._others)

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited. Each acquire is
        followed by one `settle`."""
        ticket = next(self._tickets)
        rank = (current_urgency(), -ticket)
        waited = 0.0
        with self._lock:
            try:
                while True:
                    now = self._clock()
                    # Places go to the more urgent requests waiting first, then to the first
                    # come.
                    ahead = sum(1 for other in self._waiting.values() if other > rank)
                    counted = self._counted(now) + ahead
                    if counted < self.limit:
                        self._mine.ticket = ticket
                        self._flying[ticket] = now
                        self._mine.ours = len(self._flying) + len(self._answered)  # with this
                        old = bisect_right(self._sends, now - 2 * self.window)
                        del self._sends[:old]
                        self._sends_dropped += old
                        self._mine.number = self._sends_dropped + len(self._sends)  # its number
                        self._sends.append(now)
                        return waited
                    self._waiting[ticket] = rank
                    # The answered request whose leaving frees this request's place; if none
                    # (all are in flight), the next answer tells more.
                    oldest = counted - self.limit
                    leaving = sorted(self._answered + self._others)
                    delay = leaving[oldest] + self.window - now if oldest < len(leaving) else None
                    waited += self._wait(delay)
            finally:
                if self._waiting.pop(ticket, None) is not None:
                    self._changed.notify_all()  # those behind this one move up

    def _wait(self, delay: float | None) -> float:
        """Wait with the lock released, until `delay` passed or an answer came (None: only the
        answer), so that a more urgent request can take a place that frees up meanwhile."""
        if self._sleep is not None:  # a test's clock
            self._lock.release()
            try:
                delay = IN_FLIGHT_POLL_SECONDS if delay is None else delay
                self._sleep(delay)
                return delay
            finally:
                self._lock.acquire()
        began = time.monotonic()
        self._changed.wait(delay)
        return time.monotonic() - began

    @property
    def fastest_round_trip(self) -> float:
        """The fastest round trip seen (infinite before the first answer)."""
        return self._fastest

    def settle(self) -> None:
        """The answer to an acquired request came back (or the attempt failed)."""
        with self._lock:
            now = self._clock()
            sent = self._flying.pop(self._mine.ticket, now)
            self._mine.sent, self._mine.trip = sent, now - sent
            self._fastest = min(self._fastest, now - sent)
            insort(self._answered, now - self._fastest)
            self._changed.notify_all()  # those waiting for an answer can count again

    def count_others(self, server_count: int) -> None:
        """The server counted `server_count` requests in its window when this thread's request
        reached it: what our own requests do not explain was someone else's (the discovery run
        just before, the target on the same token). Count those for a window from now.

        Ours are those counted when this one was sent (not now: by the answer, requests the
        server still counted then may have left our window), and those sent just after it that
        may have overtaken it on the way: sent no later than its own sending plus what its
        round trip took beyond the fastest (and the margin). Threads that take places at the
        same moment send in any order, so without these our own overtaking requests were taken
        for someone else's, and each held a place for a whole window (1 to 4 in a
        230-request sync)."""
        with self._lock:
            now = self._clock()
            self._counted(now)
            mine = self._mine
            ours = getattr(mine, "ours", server_count)
            sent = getattr(mine, "sent", None)
            if sent is not None:
                overtook_by = sent + max(0.0, mine.trip - self._fastest) + WINDOW_MARGIN_SECONDS
                sent_by = self._sends_dropped + bisect_right(self._sends, overtook_by)
                ours += max(0, sent_by - mine.number - 1)  # sent after it, by then
            new = max(0, server_count - ours - len(self._others))
            self.others_counted += new
            self._others.extend([now] * new)


class SharedWindow:
    """The same limit, shared by every process that points at the same store.

    Backed by pyrate-limiter's sliding-log buckets: SQLite with a file lock for processes on one
    machine, Redis or PostgreSQL for several machines.
    """

    def __init__(self, limit: int, store: str, name: str) -> None:
        from pyrate_limiter import Duration, Limiter, Rate

        self.limit = limit
        self._name = name
        self._mine = threading.local()  # when this thread's request went
        self.fastest_round_trip = float("inf")
        rate = Rate(
            limit, int((BURST_WINDOW_SECONDS + SHARED_WINDOW_MARGIN_SECONDS) * Duration.SECOND)
        )
        self._limiter = Limiter(_bucket_for(store, rate, table=name))

    def acquire(self) -> float:
        """Urgency is not kept across processes: every request takes the next place."""
        started = time.monotonic()
        self._limiter.try_acquire(self._name, blocking=True)
        self._mine.sent = time.monotonic()
        return self._mine.sent - started

    def settle(self) -> None:
        """The shared log counts sends only; the round trip is timed."""
        trip = time.monotonic() - getattr(self._mine, "sent", time.monotonic())
        self.fastest_round_trip = min(self.fastest_round_trip, trip)


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

    def acquire(self, search: bool = False) -> None:
        """Wait as long as needed before the next request."""
        with self._lock:
            pause = self._resume_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if search:
            self._search.acquire()
        self._general.acquire()

    @property
    def fastest_round_trip(self) -> float:
        """Seconds: what every request pays, however many are in flight."""
        return self._general.fastest_round_trip

    def settle(self, search: bool = False) -> None:
        if search:
            self._search.settle()
        self._general.settle()

    def observe(self, limit: int | None, remaining: int | None, reset: float | None) -> None:
        """Learn from the `x-ratelimit-*` headers of a response."""
        local = isinstance(self._general, SlidingWindow)
        if local and limit and (limit < self._general.limit or self._adopt_server_limit):
            self._general.limit = limit
        if local and limit and remaining is not None:
            # Counted in our window, others' requests make it wait exactly as long as needed,
            # where the reset header's whole seconds would overshoot by up to a second.
            self._general.count_others(limit - remaining)
        elif remaining is not None and remaining <= 0 and reset:
            self.pause(reset)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)
