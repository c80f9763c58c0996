"""What a deletes reconciliation costs: `reconcile: true` over the main streams and deal products
(what meltano.yml's tap-pipedrive-reconcile selects), on the sandbox's medium and large
companies: requests, tokens, wall time, records, and tokens per 1,000 records.

    .venv/bin/python benchmarks/reconcile_cost.py [--size medium --size large]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness

RECONCILED = {
    "deals",
    "persons",
    "organizations",
    "activities",
    "products",
    "leads",
    "notes",
    "files",
    "deal_products",
}


def measure(size: str, work: Path) -> dict[str, Any]:
    with harness.sandbox(size) as sb:
        config = {"api_url": sb.api_url, "api_token": sb.token, "reconcile": True}
        catalog = harness.catalog(config, RECONCILED)  # discovery is not counted
        sb.reset_stats()
        run = harness.ours(sb, work, RECONCILED, selected=catalog, reconcile=True)
        stats = sb.stats()
    by_endpoint = {k: v for k, v in sorted(stats["by_endpoint"].items()) if v["requests"]}
    return {
        "size": size,
        "records": run.total,
        "per_stream": dict(sorted(run.records.items())),
        "requests": stats["requests"],
        "tokens": stats["tokens"],
        "tokens_per_1000_records": round(1000 * stats["tokens"] / run.total, 2),
        "seconds": round(run.seconds, 1),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "by_endpoint": by_endpoint,
    }


def compare(sizes: list[str], work: Path) -> list[dict[str, Any]]:
    return [measure(size, work) for size in sizes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", action="append", help="medium, large (repeatable)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = compare(args.size or ["medium", "large"], Path(tmp))
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
