"""Records, requests and tokens of a full sync and of a no-change incremental run.

/work/venv/bin/python -m tests.tap.measure [size]      (default: medium)
"""

from __future__ import annotations

import sys

from pipedrive_sandbox import Sandbox

from .runner import catalog_selecting, config_for, run


def measure(size: str = "medium") -> None:
    with Sandbox(seed=1, size=size).start() as sb:
        config = config_for(sb)
        everything = {s["tap_stream_id"] for s in catalog_selecting(config, set())["streams"]}
        for label, catalog in (
            ("default selection", None),
            ("every stream, deal_products and mailbox too", catalog_selecting(config, everything)),
        ):
            sb.reset_stats()
            full = run(config, catalog=catalog)
            full_stats = sb.stats()
            sb.reset_stats()
            again = run(config, catalog=catalog, state=full.state)
            again_stats = sb.stats()
            print(f"\n## {size}: {label}")
            print("| stream | full sync records | no-change run records |")
            print("|---|---:|---:|")
            for stream in sorted(full.records):
                print(f"| {stream} | {len(full.records[stream])} | {len(again.records[stream])} |")
            for name, stats in (("full sync", full_stats), ("no-change run", again_stats)):
                print(f"{name}: {stats['requests']} requests, {stats['tokens']} tokens")


if __name__ == "__main__":
    measure(*sys.argv[1:])
