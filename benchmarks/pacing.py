"""Measured pacing: requests per rolling 2 s seen by the sandbox against the plan's limit.

python benchmarks/pacing.py [--requests 120]
"""

from __future__ import annotations

import argparse
import time

from pipedrive_client import ClientConfig, PipedriveClient
from pipedrive_sandbox import Sandbox


def measure(plan: str, requests_: int) -> tuple[int, int, float, int]:
    with Sandbox(seed=1, size="tiny", plan=plan).start() as sb:
        client = PipedriveClient(ClientConfig(api_token=sb.token, api_url=sb.api_url, plan=plan))
        started = time.perf_counter()
        for _ in range(requests_):
            client.get("/api/v2/deals/1")
        elapsed = time.perf_counter() - started
        stats = sb.stats()
        return stats["max_requests_in_2s"], stats["status"].get("429", 0), elapsed, requests_


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=120)
    args = parser.parse_args()
    print("plan     limit/2s  max seen/2s  429s  achieved req/s  bound req/s")
    for plan, limit in (("lite", 20), ("growth", 40)):
        peak, throttled, seconds, n = measure(plan, args.requests)
        print(
            f"{plan:<8} {limit:>8}  {peak:>11}  {throttled:>4}  {n / seconds:>14.1f}  "
            f"{limit / 2:>11.1f}"
        )


if __name__ == "__main__":
    main()
