"""How fast the sandbox serves and starts: records/s in 500-record pages, and generation time.

    python benchmarks/sandbox_throughput.py [--size medium] [--large]

Pages through the main v2 lists with plain `requests` (no pacing) from one client thread and
prints records/s; with --large also, in a fresh process, the time to start the 1-million-record
company, the rate it serves at, and that process's peak RSS.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import requests

from pipedrive_sandbox import Sandbox

LISTS = ["/api/v2/deals", "/api/v2/persons", "/api/v2/organizations", "/api/v2/activities"]


def serve_rate(size: str, lists: list[str] = LISTS) -> tuple[int, float]:
    with Sandbox(seed=1, size=size).start() as sb:
        session = requests.Session()
        session.headers["x-api-token"] = sb.token
        records, started = 0, time.perf_counter()
        for path in lists:
            cursor = None
            while True:
                params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                body = session.get(sb.api_url + path, params=params, timeout=60).json()
                records += len(body["data"] or [])
                cursor = body["additional_data"]["next_cursor"]
                if not cursor:
                    break
        return records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="medium")
    parser.add_argument("--large", action="store_true", help="also time the 1M-record company")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    records, seconds = serve_rate(args.size)
    print(
        f"served {records} records in 500-record pages in {seconds:.2f} s: "
        f"{records / seconds:,.0f} records/s"
    )
    if args.large:
        started = time.perf_counter()
        sb = Sandbox(seed=1, size="large")
        total = sum(len(rows) for rows in sb.store.tables.values())
        print(f"large: {total:,} records ready in {time.perf_counter() - started:.1f} s")
        del sb
        records, seconds = serve_rate("large", ["/api/v2/deals"])
        print(
            f"large: served all {records:,} deals in {seconds:.1f} s: "
            f"{records / seconds:,.0f} records/s"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (both large sandboxes, one at a time): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
