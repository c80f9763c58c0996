"""`pipedrive-sandbox`: serve a local Pipedrive API until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from . import EXTRA_MODULES, NEEDS_EXTRA


def _counts(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    return {k: int(v) for k, v in (part.split("=", 1) for part in text.split(","))}


def main(argv: list[str] | None = None) -> int:
    try:
        from .server import DEFAULT_TOKEN, Sandbox
    except ModuleNotFoundError as exc:
        if exc.name not in EXTRA_MODULES:
            raise
        sys.exit(NEEDS_EXTRA)
    parser = argparse.ArgumentParser(prog="pipedrive-sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--counts", help="per-entity counts, e.g. deals=1000,persons=500")
    parser.add_argument("--plan", help="burst limit by plan (lite, growth, ...) or a number")
    parser.add_argument("--faults", help="e.g. 5xx=0.05,reset=0.01,cutoff=0.02,latency=0.1")
    parser.add_argument("--daily-budget", type=int)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="hold parameters to their schemas: deals status one value, leads sort a bare field",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    sandbox = Sandbox(
        seed=args.seed,
        size=args.size,
        counts=_counts(args.counts),
        plan=args.plan,
        faults=args.faults,
        token=args.token,
        daily_budget=args.daily_budget,
        strict=args.strict,
    )
    sandbox.start(port=args.port, host=args.host)
    print(f"api_url={sandbox.api_url}", flush=True)
    print(f"token={sandbox.token}", flush=True)
    print(
        f"# generated in {time.monotonic() - started:.1f} s; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
