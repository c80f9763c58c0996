"""Rate limits and accounting as the API applies them: a burst limit per token per rolling
2 seconds (lower for search), a daily token budget, the headers, and counters of what was
served."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipedrive_client.config import PLAN_BURST_LIMITS, SEARCH_BURST_LIMIT
from pipedrive_client.costs import token_cost

WINDOW = 2.0
# Rejected requests within ABUSE_WINDOW beyond ABUSE_FACTOR x the limit earn an HTML 403 from the
# CDN for BLOCK_SECONDS, as the API does with clients that ignore 429s.
ABUSE_WINDOW, ABUSE_FACTOR, BLOCK_SECONDS = 10.0, 3, 5.0


def burst_limit(plan: str | int | None) -> int | None:
    if plan is None:
        return None
    if isinstance(plan, int) or str(plan).isdigit():
        return int(plan)
    return PLAN_BURST_LIMITS[str(plan).lower()]


@dataclass
class Verdict:
    status: int  # 0: serve; 429; 403
    headers: dict[str, str]
    retry_after: float | None = None
    daily: bool = False


@dataclass
class Limits:
    plan: str | int | None = None
    daily_budget: int | None = None
    _sent: dict[str, deque] = field(default_factory=dict)
    _all: deque = field(default_factory=deque)
    _rejected: deque = field(default_factory=deque)
    _blocked_until: float = 0.0
    tokens_today: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # accounting
    requests: int = 0
    tokens: int = 0
    work_seconds: float = 0.0
    max_in_window: int = 0
    # Wall-clock times (epoch seconds, comparable across processes) of the first and the last
    # request to arrive and of the last answer: where a benchmark's wall time went.
    first_arrival: float | None = None
    last_arrival: float | None = None
    last_answer: float | None = None
    statuses: Counter = field(default_factory=Counter)
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)

    def check(self, endpoint: str, search: bool) -> Verdict:
        """Decide before serving: over the burst or the daily budget, or blocked."""
        now = time.monotonic()
        with self.lock:
            self._all.append(now)
            self.last_arrival = time.time()
            if self.first_arrival is None:
                self.first_arrival = self.last_arrival
            while self._all and now - self._all[0] >= WINDOW:
                self._all.popleft()
            self.max_in_window = max(self.max_in_window, len(self._all))
            limit = burst_limit(self.plan)
            headers: dict[str, str] = {}
            if now < self._blocked_until:
                return Verdict(403, {})
            if self.daily_budget is not None:
                left = max(0, self.daily_budget - self.tokens_today)
                reset = _seconds_to_midnight()
                headers.update(
                    {
                        "x-daily-ratelimit-token-limit": str(self.daily_budget),
                        "x-daily-ratelimit-token-remaining": str(left),
                        "x-daily-ratelimit-reset": str(reset),
                    }
                )
                if left <= 0:
                    return Verdict(429, {**headers, "Retry-After": str(reset)}, reset, daily=True)
            if limit is None:
                return Verdict(0, headers)
            for name, lim in (("all", limit), ("search", SEARCH_BURST_LIMIT)):
                if name == "search" and not search:
                    continue
                window = self._sent.setdefault(name, deque())
                while window and now - window[0] >= WINDOW:
                    window.popleft()
                if len(window) >= lim:
                    wait = max(0.001, WINDOW - (now - window[0]))
                    self._reject(now, limit)
                    return Verdict(
                        429,
                        {
                            **headers,
                            "x-ratelimit-limit": str(lim),
                            "x-ratelimit-remaining": "0",
                            "x-ratelimit-reset": f"{wait:.0f}" if wait >= 1 else "1",
                            "Retry-After": str(max(1, round(wait))),
                        },
                        wait,
                    )
            for name in ("all", "search") if search else ("all",):
                self._sent[name].append(now)
            remaining = limit - len(self._sent["all"])
            reset = WINDOW - (now - self._sent["all"][0])
            headers.update(
                {
                    "x-ratelimit-limit": str(limit),
                    "x-ratelimit-remaining": str(remaining),
                    "x-ratelimit-reset": str(max(1, round(reset))),
                }
            )
            return Verdict(0, headers)

    def _reject(self, now: float, limit: int) -> None:
        self._rejected.append(now)
        while self._rejected and now - self._rejected[0] >= ABUSE_WINDOW:
            self._rejected.popleft()
        if len(self._rejected) > ABUSE_FACTOR * limit:
            self._blocked_until = now + BLOCK_SECONDS
            self._rejected.clear()

    def account(
        self, method: str, path: str, endpoint: str, status: int, work: float = 0.0
    ) -> None:
        """Count a served request; answered errors cost nothing except 4xx validation."""
        cost = token_cost(method, path) if status < 429 else 0
        with self.lock:
            self.requests += 1
            self.work_seconds += work
            self.last_answer = time.time()
            self.tokens += cost
            self.tokens_today += cost
            self.statuses[str(status)] += 1
            row = self.by_endpoint.setdefault(endpoint, {"requests": 0, "tokens": 0})
            row["requests"] += 1
            row["tokens"] += cost

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": self.requests,
                "tokens": self.tokens,
                "status": dict(self.statuses),
                "by_endpoint": {k: dict(v) for k, v in sorted(self.by_endpoint.items())},
                "max_requests_in_2s": self.max_in_window,
                "answer_seconds": round(self.work_seconds, 3),
                "first_arrival": self.first_arrival,
                "last_arrival": self.last_arrival,
                "last_answer": self.last_answer,
            }

    def reset_stats(self) -> None:
        with self.lock:
            self.requests = self.tokens = self.max_in_window = 0
            self.work_seconds = 0.0
            self.first_arrival = self.last_arrival = self.last_answer = None
            self.statuses.clear()
            self.by_endpoint.clear()
            self._all.clear()


def _seconds_to_midnight() -> int:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((midnight - now).total_seconds()) + 1
