"""Read one large v2 list as several time windows at once, handed over in order.

A v2 list is a chain: each page needs the cursor the page before it returned, so one list reads
one page per round trip however much of the burst limit is left. Over a real network (a second
or more for a 500-record page) a backfill then takes several times what the limit allows.

So when a list's chain of pages would outlast the reading of all the rest at the pace the
burst limit allows (its pages left times the fastest round trip, against the pages left of every
list read at once divided by the requests per second), the unread time range of its widest
window is cut in two: the window stops at the middle (records at or after it are dropped from
its pages; the server's sort is update_time ascending, so one record past the middle means all
the rest are), and a new window reads from the middle on (`updated_since`, with the old
window's end as its `updated_until`). The windows read at the same time through the same paced
client, the longest chains' pages first once they would outlast the rest, the others' in the
order they are written (see `_urgency`); a cut is weighed after each page of any window. The
first window is handed over as it comes, the others wait in temporary files until their turn.
Handed over one after another, in time order, they are the list read as one chain: the same
records, sorted, so bookmarks, resuming and the no-loss guarantees hold as before. Only the
waiting overlaps.

The last window is open-ended, as the chain's tail is: a record changed during the read moves
to the end and is read there.
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from pipedrive_client import ReadAhead, pacing, read_ahead
from pipedrive_client.read_ahead import READ_AHEAD_URGENCY

from . import overlap
from .readers import Batch, Listing, in_order

PAGES_IN_MEMORY = 2
# What a window read ahead of its turn may hold on disk before it waits.
SPOOL_BYTES = 256 * 2**20
# A cut costs about a page (the page that reads past the new end, the new window's first): only
# a window with at least this many pages still to read (at the density of its last page) is cut,
# so an hourly run's page or two never is.
MIN_PAGES_TO_CUT = 2
# Cut only when the writer spent at least this share of the listing's time waiting for pages,
# and this long in all: with the pages coming faster than they are written (no latency), the
# windows would only add the spooling.
WAITING_SHARE = 0.3
WAITING_SECONDS = 0.5

# A window's chain goes before the order of writing once its pages left, times this, outlast
# what the limit needs for the rest of the run: early enough to end with the rest, as its pages
# also wait for the limit. (1.0, 1.25, 1.5 and 2.5 gave the same times at 400 and 1,000 ms
# within the runs' noise, about a second: benchmarks/rate_timeline.py.)
CRITICAL_SHARE = 1.5

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _seconds(time_: str) -> float:
    return datetime.strptime(time_[:19] + "Z", _FORMAT).replace(tzinfo=UTC).timestamp()


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime(_FORMAT)


class _Window:
    """Records with update_time in [since, end): `end` None is open-ended. `end` may be moved
    down while the window reads (a cut); `reached` is the time of the last record read."""

    def __init__(self, since: str, end: str | None) -> None:
        self.since, self.end = since, end
        self.reached = since
        self.density = 0.0  # records per second in its last page
        # How long its last page took, from asking for it to its records made ready (its wait
        # at the pacer, the round trip, the preparation): the pace of its chain.
        self.seconds_per_page = 0.0
        self.done = False  # read to its end
        self.reader: ReadAhead[Batch] | None = None

    def unread_seconds(self, ceiling: float) -> float:
        end = _seconds(self.end) if self.end else ceiling
        return end - _seconds(self.reached)

    def pages_left(self, ceiling: float, page_size: int) -> float:
        """About how many pages are still to read, at the density of the last page (lists
        grow denser towards now more often than not)."""
        if self.done:
            return 0.0
        return self.density * self.unread_seconds(ceiling) / page_size


# The listings being read now, of every client: a cut weighs one list's chain against them all.
_OPEN: weakref.WeakSet[WindowedListing] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()
_BEGUN = itertools.count()


class WindowedListing:
    """The batches of `listing` (whose params carry `updated_since`), read in up to
    `max_windows` windows at once."""

    def __init__(
        self,
        listing: Listing,
        max_windows: int,
        prepare: Callable[[Batch], Batch] | None = None,
    ) -> None:
        self._listing = listing
        self._max = max_windows
        # Run on each page as it comes, in its window's thread (prepared.py).
        self._prepare = prepare
        self._lock = threading.Lock()  # a window's end and `reached`, between cut and reader
        # The open end counts as the time the listing began: what changes later is churn.
        self._ceiling = time.time()
        self._windows: list[_Window] = []  # in time order, the one handed over first
        self._waited = 0.0  # the seconds its reader waited for pages, but for the wait now
        self._waiting_since: float | None = None  # when the wait now began
        self._cutting = threading.Lock()  # one cut at a time, by the reader or a window
        self._eager = overlap.eager()
        self._written = False  # whether the writer reads this listing now

    def __iter__(self) -> Iterator[Batch]:
        first = _Window(self._listing.params["updated_since"], None)
        self._windows = [first]
        with _OPEN_LOCK:
            _OPEN.add(self)
            self._begun = next(_BEGUN)
        self._began = time.monotonic()
        self._start(first, self._listing.params.get("updated_until"))
        try:
            while self._windows:
                reader = self._windows[0].reader
                while True:
                    self._cut_while_worth()
                    # Read by the writer (not ahead of its turn), its windows' pages go before
                    # all others: the writer waits for them (`_urgency`).
                    self._written = pacing.current_urgency() >= 0
                    self._waiting_since = time.monotonic()
                    batch = next(reader, None)
                    self._waited += time.monotonic() - self._waiting_since
                    self._waiting_since = None
                    if batch is None:
                        break
                    yield batch
                with self._lock:
                    self._windows.pop(0)
        finally:
            with _OPEN_LOCK:
                _OPEN.discard(self)
            for window in self._windows:
                window.reader.close()

    def pages_left(self) -> float:
        with self._lock:
            windows = list(self._windows)
        return sum(w.pages_left(self._ceiling, self._listing.page_size) for w in windows)

    def _start(self, window: _Window, until: str | None) -> None:
        params = {"updated_since": window.since}
        if until:
            params["updated_until"] = until
        window.reader = read_ahead(
            self._pages(window, self._listing.with_params(**params)), PAGES_IN_MEMORY, SPOOL_BYTES
        )

    def _pages(self, window: _Window, listing: Listing) -> Iterator[Batch]:
        """The window's pages, each cut at its end (which a cut may have moved down)."""
        time_of = listing.time_of
        pages = listing.client.v2_pages(listing.path, listing.params, limit=listing.page_size)
        while True:
            asked = time.monotonic()
            with pacing.urgency(self._urgency(window)):
                page = next(pages, None)
            if page is None:
                return
            more = page.next is not None
            batch = in_order(page.records, more, time_of, listing.log)
            with self._lock:
                end = window.end
                if end is None or not batch or time_of(batch[-1]) < end:
                    kept = batch  # sorted: its last record is its newest
                else:
                    kept = [r for r in batch if time_of(r) < end]
                if kept:
                    window.reached = max(window.reached, time_of(kept[-1]))
                    span = _seconds(time_of(kept[-1])) - _seconds(time_of(kept[0]))
                    window.density = len(kept) / max(span, 1.0)
                # Decided under the lock: a window read to its end is never cut afterwards.
                window.done = not more or len(kept) < len(batch)
            ready = self._prepare(kept) if self._prepare else kept
            window.seconds_per_page = time.monotonic() - asked
            yield ready
            if window.done:
                return
            # Its page may have told enough to cut: a listing read ahead is cut as soon as its
            # pages tell its length, not once it is written.
            self._cut_while_worth()

    def _urgency(self, window: _Window) -> float:
        """The pages of the windows of the list being written go first, in time order: the
        writer waits for the first, and writes the others next (with only the first window
        first, the writer waited for the list's later windows while the lists read ahead
        piled up for it: 0.8 s more at 400 ms, benchmarks/rate_timeline.py). Then the pages
        of chains that cannot be cut read ahead (the v1 lists', `READ_AHEAD_URGENCY`). Then a
        window whose chain would outlast the rest of the run (with a margin, `CRITICAL_SHARE`)
        goes first, the longest before the others: the longest chain sets the run's end. The
        rest go in the order they are written (the listings in the order they began, a
        listing's windows in time order): they leave the least to write after the last
        answer."""
        with self._lock:
            position = self._windows.index(window)
            pages = window.pages_left(self._ceiling, self._listing.page_size)
        if self._written:
            # The writer reads this list now: its windows, the first first, go before every
            # list read ahead (between 0 and -0.1, above `READ_AHEAD_URGENCY`).
            return -0.1 * position / (self._max + 1)
        if self._outlasts_the_rest(window, pages * CRITICAL_SHARE):
            return READ_AHEAD_URGENCY - 0.5 / (1.0 + pages)
        return -(1 + self._begun + position / (self._max + 1))

    def _cut_while_worth(self) -> None:
        """Cut while the listing's longest chain outlasts the rest (one cut at a time: the
        reader and every window's thread ask)."""
        with self._cutting:
            while self._eager or self._worth_cutting():
                if not self._cut():
                    return

    def _worth_cutting(self) -> bool:
        waited = self._waited
        since = self._waiting_since
        if since is not None:
            waited += time.monotonic() - since
        if waited < WAITING_SECONDS or not overlap.pays_off(self._listing.client):
            return False
        return waited >= WAITING_SHARE * (time.monotonic() - self._began)

    def _outlasts_the_rest(self, window: _Window, pages: float) -> bool:
        """Whether the window's chain of `pages` takes longer than the limit needs for the
        pages left of every list read now (this one's with them), a cut's extra page counted:
        only then does a cut shorten the run. A chain pays at least the fastest round trip a
        page. The list written first, the writer waiting on it, goes at the pace its pages
        come: each pays its wait at the limit, its whole round trip and its preparation (at
        100 ms, 0.14 s a page against the fastest trip's 0.10 s: the last list, persons, was
        read as one chain of 40 pages for 5.8 s while the limit had room for twice as many).
        The waits of a list read ahead are for the lists before it, and end with them."""
        client = self._listing.client
        with _OPEN_LOCK:
            listings = [listing for listing in _OPEN if listing._listing.client is client]
        pages_left = sum(listing.pages_left() for listing in listings)
        trip = client.fastest_round_trip()
        if min(listing._begun for listing in listings) == self._begun:
            trip = max(trip, window.seconds_per_page)
        return pages * trip > (pages_left + 1) / client.requests_per_second()

    def _cut(self) -> bool:
        """Cut the window with the most pages left in two, at the middle of its unread time,
        when its chain outlasts the rest; whether one was cut."""
        page_size = self._listing.page_size
        with self._lock:
            reading = [w for w in self._windows if not w.done]
            if not reading or len(reading) >= self._max:
                return False
            least = MIN_PAGES_TO_CUT if not self._eager else 1e-9
            # The window with the most pages left: the longest chain sets the listing's time.
            widest = max(reading, key=lambda w: w.pages_left(self._ceiling, page_size))
            pages = widest.pages_left(self._ceiling, page_size)
        if pages < least or not (self._eager or self._outlasts_the_rest(widest, pages)):
            return False
        with self._lock:
            if widest.done:
                return False
            unread = widest.unread_seconds(self._ceiling)
            middle = _time(_seconds(widest.reached) + unread / 2)
            if not widest.reached < middle < (widest.end or "9"):
                return False  # a second wide: nothing to cut
            server_end, widest.end = widest.end, middle
            rest = _Window(middle, server_end)
            rest.density = widest.density  # until its own first page tells
            self._windows.insert(self._windows.index(widest) + 1, rest)
            # Under the lock: the reader never meets a window without its reader.
            self._start(rest, server_end)
        return True
