"""The sandbox's clock and the API's three time formats."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from functools import lru_cache


class Clock:
    """Real time plus an offset that churn can advance (to age deleted records past 30 days).

    Times are integer milliseconds since the epoch; every write gets a distinct, increasing
    stamp unless a test ties records on purpose."""

    def __init__(self, now: datetime | None = None) -> None:
        self._fixed = int(now.timestamp() * 1000) if now else None
        self._offset_ms = 0
        self._last = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            base = self._fixed if self._fixed is not None else int(time.time() * 1000)
            if self._fixed is not None:
                self._fixed += 1
            stamp = max(base + self._offset_ms, self._last + 1)
            self._last = stamp
            return stamp

    def anchor_ms(self) -> int:
        """The fixed `now`, or the start of today (UTC): a stable base for generated times."""
        if self._fixed is not None:
            return self._fixed
        return int(time.time() // 86400 * 86400 * 1000)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset_ms += int(seconds * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def v2_time(ms: int | None) -> str | None:
    """v2: RFC 3339 in UTC, seconds resolution."""
    return None if ms is None else _dt(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_time(ms: int | None) -> str | None:
    """Most v1 endpoints: 'YYYY-MM-DD HH:MM:SS' in UTC without a zone."""
    return None if ms is None else _dt(ms).strftime("%Y-%m-%d %H:%M:%S")


def lead_time(ms: int | None) -> str | None:
    """Leads, lead labels and the mailbox: ISO 8601 with milliseconds and Z."""
    return None if ms is None else _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def day(ms: int | None) -> str | None:
    """A date without a time: 'YYYY-MM-DD' (UTC, the sandbox users' time zone)."""
    return None if ms is None else _day(ms // 86_400_000)


@lru_cache(maxsize=4096)
def _day(number: int) -> str:
    return _dt(number * 86_400_000).strftime("%Y-%m-%d")


def parse_time(value: str) -> int:
    """Accept RFC 3339 (with Z or offset) or 'YYYY-MM-DD HH:MM:SS'; return epoch ms."""
    text = value.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)
