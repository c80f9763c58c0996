"""What a run shows a person while it goes, and when it ends.

Every `progress_interval` seconds, one line per stream that moved: its records so far and their
rate since the last line, and the pages, requests and tokens its reading cost (the client counts
each request to the stream it was made for: pipedrive_client/stats.py). At the end, a table per
stream: records, requests, pages, tokens and seconds. Both go to standard error through the
tap's logger, beside the SDK's METRIC lines; standard output stays Singer messages only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator

from pipedrive_client import PartStats, RunStats

RUN_ITSELF = "(discovery, checks)"  # requests made for no stream


class Progress:
    def __init__(self, stats: RunStats, logger: logging.Logger) -> None:
        self.stats = stats
        self.logger = logger
        self.records: Counter[str] = Counter()
        self._synced: dict[str, list[float]] = {}  # when a stream's syncs began and ended
        self._reported: dict[str, tuple[int, int, float]] = {}  # records, requests, when
        self._stop = threading.Event()
        self._reporter: threading.Thread | None = None
        self._began = time.monotonic()

    def count_record(self, stream: str) -> None:
        """One record emitted (called for every record: one dict operation)."""
        self.records[stream] += 1

    @contextlib.contextmanager
    def syncing(self, stream: str) -> Iterator[None]:
        """A sync of the stream (a child's, once per batch of its parent's records): the
        stream's seconds run from its first to the end of its last."""
        span = self._synced.setdefault(stream, [time.monotonic(), 0.0])
        try:
            yield
        finally:
            span[1] = time.monotonic()

    # -- every few seconds --------------------------------------------------------------------

    def start(self, interval: float) -> None:
        """The sync begins: report every `interval` seconds until `stop` (0: never)."""
        self._began = time.monotonic()
        if interval <= 0 or self._reporter is not None:
            return
        self._stop.clear()
        self._reporter = threading.Thread(
            target=self._report_every, args=(interval,), name="tap-progress", daemon=True
        )
        self._reporter.start()

    def stop(self) -> None:
        self._stop.set()
        if self._reporter is not None:
            self._reporter.join()
            self._reporter = None

    def _report_every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.report()

    def report(self) -> None:
        """One line per stream whose records or requests moved since its last line."""
        now = time.monotonic()
        parts = dict(self.stats.by_part)  # a copy: the client adds parts as it goes
        for stream in sorted(set(self.records) | {p for p in parts if p is not None}):
            part = parts.get(stream) or PartStats()
            records = self.records[stream]
            before = self._reported.get(stream)
            if before is not None and before[:2] == (records, part.requests):
                continue
            since = before[2] if before else self._first_activity(stream, part, now)
            rate = (records - (before[0] if before else 0)) / max(now - since, 1e-9)
            self._reported[stream] = (records, part.requests, now)
            self.logger.info(
                "Progress: %s: %s records (%s/s), %s pages, %s requests, %s tokens",
                stream,
                f"{records:,}",
                f"{rate:,.0f}",
                f"{part.pages:,}",
                f"{part.requests:,}",
                f"{part.tokens:,}",
            )

    def _first_activity(self, stream: str, part: PartStats, now: float) -> float:
        began = self._synced.get(stream, [None])[0]
        starts = [t for t in (part.first_at, began) if t is not None]
        return min(starts, default=now)

    # -- at the end ---------------------------------------------------------------------------

    def log_table(self) -> None:
        """The run per stream: records, requests, pages, tokens and seconds (from its first
        request or the start of its sync to the end of its sync or its last request; streams
        read ahead overlap, so these add up to more
        than the run's wall time, the total's seconds)."""
        parts = dict(self.stats.by_part)
        streams = sorted(set(self.records) | {p for p in parts if p is not None})
        rows = [self._row(stream, parts.get(stream) or PartStats()) for stream in streams]
        if None in parts:
            rows.append(self._row(RUN_ITSELF, parts[None], records=False))
        wall = f"{time.monotonic() - self._began:.1f}"
        total = ("total", f"{sum(self.records.values()):,}", *self._costs(self.stats), wall)
        width = max([len(row[0]) for row in rows] + [len("stream")])
        self.logger.info("Run summary per stream:")
        header = ("stream", "records", "requests", "pages", "tokens", "seconds")
        for row in (header, *rows, total):
            name, *numbers = row
            self.logger.info("  %s", name.ljust(width) + "".join(f"{n:>10}" for n in numbers))

    def _row(self, name: str, part: PartStats, records: bool = True) -> tuple[str, ...]:
        span = self._synced.get(name, [])
        times = [t for t in (part.first_at, part.last_at, *span) if t]
        seconds = f"{max(times) - min(times):.1f}" if times else "-"
        count = f"{self.records[name]:,}" if records else "-"
        return (name, count, *self._costs(part), seconds)

    @staticmethod
    def _costs(part: PartStats | RunStats) -> tuple[str, str, str]:
        if isinstance(part, PartStats):
            pages = part.pages
        else:
            pages = sum(p.pages for p in list(part.by_part.values()))
        return f"{part.requests:,}", f"{pages:,}", f"{part.tokens:,}"
