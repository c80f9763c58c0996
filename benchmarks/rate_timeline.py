"""Where a rate-limited full sync spends its time: a request timeline of the tap.

A full sync of the main streams (the large company's proportions) against a sandbox that
enforces a plan's burst limit and answers every request `latency` seconds late. The tap runs in
this process with its pacer watched: when each request began to wait for a place in the window,
when it was sent and when its answer came. Printed per 2 s: requests sent (the limit allows
`limit`), requests in flight and requests waiting at the pacer at the middle of the 2 s; then
where the wall time went: the start (the tap's construction and discovery until the first list
request), the sending, the answers after the last send, the writing after the last answer, and
the CPU seconds of the tap and of the sandbox.

python benchmarks/rate_timeline.py [--latency 1.0] [--records 100000] [--plan lite]
    [--time-windows N] [--requests]

`--requests` also lists when the writer began and ended each stream, and every request of the
sync in the order sent: when it was sent and answered, its path, its time range
(`updated_since`, `updated_until`) and whether it followed a cursor; the start and the tail of a
run are read off it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import requests

from pipedrive_client import pacing
from pipedrive_client.config import BURST_WINDOW_SECONDS, PLAN_BURST_LIMITS
from tap_pipedrive.tap import TapPipedrive


class Watch:
    """Each request's (began waiting, sent, answered), in seconds from `start`."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.requests: list[list[float]] = []
        self.others = 0  # places the pacer held for requests not ours (x-ratelimit-remaining)
        self._mine = threading.local()

    def __enter__(self) -> Watch:
        window = pacing.SlidingWindow
        acquire, settle, count_others = window.acquire, window.settle, window.count_others
        watch = self

        def watched_acquire(window) -> float:
            began = time.monotonic() - watch.start
            waited = acquire(window)
            watch._mine.request = [began, time.monotonic() - watch.start, math.nan]
            return waited

        def watched_settle(window) -> None:
            settle(window)
            request = watch._mine.request
            request[2] = time.monotonic() - watch.start
            watch.requests.append(request)

        def watched_count_others(window, server_count: int) -> None:
            before = window.others_counted
            count_others(window, server_count)
            watch.others += window.others_counted - before

        self._originals = acquire, settle, count_others
        window.acquire, window.settle = watched_acquire, watched_settle
        window.count_others = watched_count_others
        return self

    def __exit__(self, *exc: object) -> None:
        window = pacing.SlidingWindow
        window.acquire, window.settle, window.count_others = self._originals


class RequestLog:
    """Each HTTP request of the tap: (sent, answered, path, query), seconds from `start`."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.requests: list[tuple[float, float, str, dict]] = []

    def __enter__(self) -> RequestLog:
        send, log = requests.Session.send, self

        def logged_send(session, request, **kwargs):
            sent = time.monotonic() - log.start
            try:
                return send(session, request, **kwargs)
            finally:
                url = urlparse(request.url)
                answered = time.monotonic() - log.start
                log.requests.append((sent, answered, url.path, parse_qs(url.query)))

        self._original = send
        requests.Session.send = logged_send
        return self

    def __exit__(self, *exc: object) -> None:
        requests.Session.send = self._original

    def print(self) -> None:
        print(f"{'sent s':>6} {'answered s':>11}  {'path':<27} {'since':<20} {'until':<20} cursor")
        for sent, answered, path, query in sorted(self.requests):
            since = query.get("updated_since", [""])[0]
            until = query.get("updated_until", [""])[0]
            cursor = "yes" if query.get("cursor") else ""
            print(f"{sent:>6.2f} {answered:>11.2f}  {path:<27} {since:<20} {until:<20} {cursor}")


class WriterLog:
    """When the writer began and ended each stream (the SDK's `Stream.sync`), seconds from
    `start`: what it waited for and what it wrote after the last answer."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.streams: list[tuple[float, float, str]] = []

    def __enter__(self) -> WriterLog:
        from singer_sdk import Stream

        sync, log = Stream.sync, self

        def logged_sync(stream, *args, **kwargs):
            began = time.monotonic() - log.start
            try:
                return sync(stream, *args, **kwargs)
            finally:
                log.streams.append((began, time.monotonic() - log.start, stream.name))

        self._original = sync
        Stream.sync = logged_sync
        return self

    def __exit__(self, *exc: object) -> None:
        from singer_sdk import Stream

        Stream.sync = self._original

    def print(self) -> None:
        print(f"{'began s':>7} {'ended s':>8}  stream written")
        for began, ended, name in self.streams:
            print(f"{began:>7.2f} {ended:>8.2f}  {name}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--plan", default="lite", choices=sorted(PLAN_BURST_LIMITS))
    parser.add_argument("--time-windows", type=int, help="the tap's time_windows (default: 8)")
    parser.add_argument("--requests", action="store_true", help="list every request as well")
    args = parser.parse_args()
    limit = PLAN_BURST_LIMITS[args.plan]
    counts = harness.scaled_counts(args.records)
    faults = f"latency={args.latency}"
    with harness.sandbox("large", counts=counts, plan=args.plan, faults=faults) as sb:
        config = {
            "api_url": sb.api_url,
            "api_token": sb.token,
            "anchor_date": "2020-01-01",
            "plan": args.plan,
            "progress_interval": 0,
        }
        if args.time_windows:
            config["time_windows"] = args.time_windows
        catalog = harness.catalog(config, harness.MAIN_STREAMS)
        time.sleep(2.1)  # the catalog's requests leave the window
        sb.reset_stats()
        sandbox_cpu = cpu_seconds(sb.process.pid)
        tap_cpu = time.process_time()
        with Watch() as watch, contextlib.ExitStack() as listing:
            # Only when asked: the timing runs without the extra wrapper around each request.
            log = listing.enter_context(RequestLog(watch.start)) if args.requests else None
            writer = listing.enter_context(WriterLog(watch.start)) if args.requests else None
            with contextlib.redirect_stdout(io.StringIO()):
                TapPipedrive(config=config, catalog=catalog).sync_all()
            wall = time.monotonic() - watch.start
        tap_cpu = time.process_time() - tap_cpu
        sandbox_cpu = cpu_seconds(sb.process.pid) - sandbox_cpu
        stats = sb.stats()
    report(watch, wall, limit, args, stats, tap_cpu, sandbox_cpu)
    if log is not None:
        writer.print()
        log.print()


def report(watch, wall, limit, args, stats, tap_cpu, sandbox_cpu) -> None:
    requests_ = watch.requests
    n = stats["requests"]
    windows = harness.limit_windows(n, limit)
    bound = BURST_WINDOW_SECONDS * windows
    sends = sorted(r[1] for r in requests_)
    answers = sorted(r[2] for r in requests_)
    trips = sorted(r[2] - r[1] for r in requests_)
    print(
        f"{args.records:,} records, plan {args.plan} ({limit} per 2 s), latency {args.latency} s: "
        f"{n} requests, {stats['status'].get('429', 0)} answered 429, at most "
        f"{stats['max_requests_in_2s']} in any 2 s; places held for requests not ours "
        f"(x-ratelimit-remaining beyond our count): {watch.others}"
    )
    # Within one window's limit, the bound is 0 s: no ratio.
    ratio = f" ({wall / bound:.3f}x)" if bound else ""
    print(f"wall {wall:.2f} s; bound {bound:.1f} s{ratio}")
    median, ninetieth = statistics.median(trips), trips[int(0.9 * len(trips))]
    print(
        f"round trips s: fastest {trips[0]:.3f}, median {median:.3f}, 90th {ninetieth:.3f}, "
        f"slowest {trips[-1]:.3f}"
    )
    waits = sum(r[1] - r[0] for r in requests_)
    print(
        f"first request sent at {sends[0]:.2f} s; last sent at {sends[-1]:.2f} s; last answer "
        f"at {answers[-1]:.2f} s; writing after it {wall - answers[-1]:.2f} s; the requests "
        f"waited {waits:.1f} s at the pacer in all"
    )
    print(f"CPU s: tap {tap_cpu:.1f}, sandbox {sandbox_cpu:.1f} (2 CPUs: {2 * wall:.1f} s)")
    # The pacer holds a place until 2 s (and its margin) after an answer less the fastest round
    # trip: each reuse of a place comes that much after the last, plus how much longer than the
    # fastest the last answer took. So the limit's last window opens no earlier than the first
    # request plus that cycle once per window the bound counts.
    cycle = BURST_WINDOW_SECONDS + pacing.WINDOW_MARGIN_SECONDS + median - trips[0]
    opens = sends[0] + windows * cycle
    print(
        f"the pacer's cycle {cycle:.3f} s (2 s, the {pacing.WINDOW_MARGIN_SECONDS * 1000:.0f} ms "
        f"margin, the median trip above the fastest): the last window opens at {opens:.2f} s "
        f"at the earliest; the last request went {sends[-1] - opens:.2f} s after that"
    )
    print("from s   sent  in flight  waiting")
    for t in range(0, math.ceil(wall), 2):
        middle = t + 1
        sent = sum(1 for s in sends if t <= s < t + 2)
        flying = sum(1 for r in requests_ if r[1] <= middle < r[2])
        waiting = sum(1 for r in requests_ if r[0] <= middle < r[1])
        print(f"{t:>6} {sent:>6} {flying:>10} {waiting:>8}")


if __name__ == "__main__":
    main()
