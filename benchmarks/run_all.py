"""Every benchmark side by side in one run; writes benchmarks/RESULTS.md and benchmarks/results.png.

    .venv/bin/pip install -e '.[test,bench]' && .venv/bin/python benchmarks/run_all.py

Sections (each on a fresh sandbox process with seed 1, so every contender reads the same data):
throughput and peak RSS against singer-io tap-pipedrive 2.1.0 and across SDK settings; API cost
against the peer and the lower bound; wall time under a plan's rate limit with 100, 400 and
1,000 ms latency;
scale at 100k and 1M records; the target's tokens per message; deal history against the peer's
`dealflow`; the cost of a deletes reconciliation; end to end through `meltano run` into
target-postgres and target-duckdb at 100k and 1M records, beside the peer piped into the same
target-postgres, and under the lite and growth plans' limits with 250 ms latency (pipeline.py).
`--quick` shrinks the sizes for a smoke run (its figures are not the ones to quote).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import history
import peer
import pipeline
import reconcile_cost
import report
import target_cost

from pipedrive_client.config import PLAN_BURST_LIMITS
from pipedrive_client.costs import token_cost

HERE = Path(__file__).resolve().parent
MAIN_STREAMS = harness.MAIN_STREAMS
# Where each stream's records come from: (list, list of its archived records or None, page max).
LISTS = {
    "deals": ("/api/v2/deals", "/api/v2/deals/archived", 500),
    "persons": ("/api/v2/persons", None, 500),
    "organizations": ("/api/v2/organizations", None, 500),
    "activities": ("/api/v2/activities", None, 500),
    "products": ("/api/v2/products", None, 500),
    "notes": ("/api/v1/notes", None, 500),
    "files": ("/api/v1/files", None, 100),
    "leads": ("/api/v1/leads", "/api/v1/leads/archived", 500),
    "pipelines": ("/api/v2/pipelines", None, 500),
    "stages": ("/api/v2/stages", None, 500),
    "users": ("/api/v1/users", None, 10**9),
    "activity_types": ("/api/v1/activityTypes", None, 10**9),
    "lead_labels": ("/api/v1/leadLabels", None, 10**9),
    "currencies": ("/api/v1/currencies", None, 10**9),
    "filters": ("/api/v1/filters", None, 10**9),
    "lead_sources": ("/api/v1/leadSources", None, 10**9),
    "note_fields": ("/api/v1/noteFields", None, 10**9),
    "lead_fields": ("/api/v1/leadFields", None, 500),
    "deal_fields": ("/api/v2/dealFields", None, 500),
    "person_fields": ("/api/v2/personFields", None, 500),
    "organization_fields": ("/api/v2/organizationFields", None, 500),
    "product_fields": ("/api/v2/productFields", None, 500),
    "activity_fields": ("/api/v2/activityFields", None, 500),
}
LARGE_TOTAL = 1_000_000
scaled_counts = harness.scaled_counts
PEER_PER_DEAL_STREAMS = {"dealflow", "deal_products"}


def lower_bound(run: harness.TapRun) -> dict[str, int]:
    """The fewest requests and tokens that can deliver these records: every list read in pages
    of its maximum size (archived records come only from their own list), each page costing
    the endpoint's tokens; a list that returns nothing still takes one request."""
    requests = tokens = 0
    for stream, count in run.records.items():
        listing, archived_listing, page = LISTS[stream]
        archived = run.archived[stream] if archived_listing else 0
        for path, n in ((listing, count - archived), (archived_listing, archived)):
            if path is None:
                continue
            pages = max(1, math.ceil(n / page))
            requests += pages
            tokens += pages * token_cost("GET", path)
    return {"requests": requests, "tokens": tokens}


def streams_read(run: harness.TapRun) -> int:
    return sum(1 + (LISTS[s][1] is not None) for s in run.records)


# Each contender's throughput run is repeated and the median kept: a run of a few seconds
# moves with the machine's moment.
THROUGHPUT_REPEATS = 3


def throughput(records: int | None, work: Path) -> dict[str, Any]:
    """Records/s of a full sync of the main streams: the large company's proportions scaled to
    `records` (None: the small company), long enough that the start of a process (imports, the
    field definitions) is not what is measured."""
    size = f"large, scaled to {records:,} records" if records else "small"
    out: dict[str, Any] = {"size": size, "repeats": THROUGHPUT_REPEATS, "ours": {}}
    counts = harness.scaled_counts(records) if records else None
    with harness.sandbox("large" if records else "small", counts=counts) as sb:
        for variant in harness.VARIANTS:
            runs = [
                harness.ours(sb, work, MAIN_STREAMS, variant=variant)
                for _ in range(THROUGHPUT_REPEATS)
            ]
            out["ours"][variant] = summary(_median(runs, lambda run: run.seconds))
        venv = peer.ensure_peer_venv()
        # The peer stops at its first file (pipeline.PEER_LEFT_OUT): a rate over a run that
        # crashed is no rate, so it reads its other main streams, whole.
        streams = peer.MAIN_STREAMS - set(pipeline.PEER_LEFT_OUT)
        runs = []
        for _ in range(THROUGHPUT_REPEATS):
            run = peer.run_peer(sb.api_url, sb.token, "2020-01-01", work, venv, streams=streams)
            if run["returncode"]:
                raise RuntimeError(f"the peer failed: {run['stderr_tail']}")
            runs.append(run)
        out["peer"] = peer_summary(_median(runs, lambda run: run["seconds"]))
    return out


def _median(runs: list[Any], seconds: Callable[[Any], float]) -> Any:
    """The run of median time."""
    return sorted(runs, key=seconds)[len(runs) // 2]


def summary(run: harness.TapRun, stats: dict | None = None) -> dict[str, Any]:
    row = {
        "records": run.total,
        "seconds": round(run.seconds, 2),
        "records_per_s": round(run.per_second),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "per_stream": dict(sorted(run.records.items())),
    }
    if stats is not None:
        row.update(requests=stats["requests"], tokens=stats["tokens"], status=stats["status"])
    return row


def peer_summary(result: dict) -> dict[str, Any]:
    return {
        "records": result["records"],
        "seconds": round(result["seconds"], 2),
        "records_per_s": round(result["records"] / result["seconds"]) if result["seconds"] else 0,
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "per_stream": result["per_stream"],
        "returncode": result["returncode"],
    }


def api_cost(size: str, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size}
    with harness.sandbox(size) as sb:
        sb.reset_stats()
        full = harness.ours(sb, work, None)
        full_stats = sb.stats()
        sb.reset_stats()
        again = harness.ours(sb, work, None, state=full.state)
        again_stats = sb.stats()
        out["ours"] = {
            "full": summary(full, full_stats),
            "no_change": summary(again, again_stats),
            "bound_full": lower_bound(full),
            "bound_no_change": {"requests": streams_read(full)},
        }
        venv = peer.ensure_peer_venv()
        # The peer's counterpart of our default selection: its main and reference streams, not
        # dealflow and deal_products (one request per deal). Its discovery is left out of the
        # count, as ours is (it reads its field lists again while syncing anyway).
        config = peer.write_config(work, sb.token, "2020-01-01")
        found = peer.peer_catalog(venv, sb.api_url, config, set(), work)
        streams = set(peer.peer_streams(found)) - PEER_PER_DEAL_STREAMS
        selected = harness.select(found, streams)
        sb.reset_stats()
        first = peer.run_peer(sb.api_url, sb.token, "2020-01-01", work, venv, catalog=selected)
        first_stats = sb.stats()
        sb.reset_stats()
        second = peer.run_peer(
            sb.api_url,
            sb.token,
            "2020-01-01",
            work,
            venv,
            state=first.get("state"),
            catalog=selected,
        )
        second_stats = sb.stats()
        out["peer"] = {
            "full": {**peer_summary(first), **pick(first_stats)},
            "no_change": {**peer_summary(second), **pick(second_stats)},
        }
    return out


def pick(stats: dict) -> dict[str, Any]:
    return {"requests": stats["requests"], "tokens": stats["tokens"], "status": stats["status"]}


# Runs of the tap as shipped per latency: one run's wall time varies by about a second at
# 1,000 ms (where the last pages fall against the limit's windows), so the row is the median
# run and every run's ratio is shown beside it.
SHIPPED_RUNS = 3


def rate_limited(records: int, plan: str, latencies: list[float], work: Path) -> list[dict]:
    """Full syncs of the main streams on a plan's burst limit with added latency, as shipped
    (the median of SHIPPED_RUNS) and with each list as one chain of pages (`time_windows: 1`,
    one run). The bound is what the limit lets through: `limit` requests in the first 2 s, then
    `limit` per 2 s of the sliding window. A client with one request in flight is also held to
    one latency per request (shown beside)."""
    counts = scaled_counts(records)
    rows = []
    for latency in latencies:
        with harness.sandbox("large", counts=counts, plan=plan, faults=f"latency={latency}") as sb:
            # Discovered before the clock and the counters start, as a scheduled run's catalog
            # is: the sync alone is timed, and its requests alone are counted to its bound.
            selected = harness.catalog({"api_url": sb.api_url, "api_token": sb.token}, MAIN_STREAMS)
            for ahead in (None, 1):
                settings = {} if ahead is None else {"time_windows": ahead}
                runs = [
                    _rate_limited_run(sb, work, selected, plan, latency, settings)
                    for _ in range(SHIPPED_RUNS if ahead is None else 1)
                ]
                row = _median(runs, lambda run: run["ratio"] or 0)
                rows.append(
                    {
                        **row,
                        "time_windows": "default" if ahead is None else ahead,
                        "runs_ratio": [run["ratio"] for run in runs],
                        # Every run's, not only the median's.
                        "answered_429": sum(run["answered_429"] for run in runs),
                        "max_requests_in_2s": max(run["max_requests_in_2s"] or 0 for run in runs),
                    }
                )
    return rows


def _rate_limited_run(
    sb: Any, work: Path, selected: dict, plan: str, latency: float, settings: dict
) -> dict[str, Any]:
    limit = PLAN_BURST_LIMITS[plan]
    time.sleep(2.1)  # the previous run's requests leave the window
    sb.reset_stats()
    run = harness.ours(
        sb, work, selected=selected, plan=plan, max_requests_per_2s=limit, **settings
    )
    stats = sb.stats()
    n = stats["requests"]
    bound = 2.0 * harness.limit_windows(n, limit)
    return {
        "records": run.total,
        "plan": plan,
        "limit_per_2s": limit,
        "latency_s": latency,
        "requests": n,
        "answered_429": stats["status"].get("429", 0),
        "max_requests_in_2s": stats.get("max_requests_in_2s"),
        "seconds": round(run.seconds, 2),
        "bound_seconds": round(bound, 2),
        "one_at_a_time_seconds": round(n * latency, 2),
        "ratio": round(run.seconds / bound, 3) if bound else None,
        # No client is done before the last request's answer is back: the limit's bound plus
        # one round trip.
        "bound_answered_seconds": round(bound + latency, 2),
        "ratio_answered": round(run.seconds / (bound + latency), 3),
        "answer_seconds": stats.get("answer_seconds"),
        "split": wall_split(run, stats),
    }


def wall_split(run: harness.TapRun, stats: dict) -> dict[str, float] | None:
    """Where a run's wall time went, read off the sandbox's clock beside the process's: the
    start (the interpreter, the imports, the settings, until the first request arrived), the
    sending (first to last request arrived: the bound is the least the limit allows), the last
    request's round trip, and the end (what was written after the last answer, and the exit)."""
    first, last, answer = (stats.get(k) for k in ("first_arrival", "last_arrival", "last_answer"))
    if None in (first, last, answer):
        return None
    return {
        "start": round(first - run.started_at, 2),
        "sending": round(last - first, 2),
        "last_round_trip": round(answer - last, 2),
        "end": round(run.ended_at - answer, 2),
    }


def scale(totals: list[int], work: Path) -> list[dict[str, Any]]:
    rows = []
    for total in totals:
        with harness.sandbox("large", counts=scaled_counts(total)) as sb:
            sb.reset_stats()
            run = harness.ours(sb, work, MAIN_STREAMS)
            stats = sb.stats()
            rows.append(
                {
                    "target_records": total,
                    "sandbox_start_s": round(sb.started_in, 1),
                    **summary(run, stats),
                }
            )
    return rows


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--out", default=str(HERE), help="where RESULTS.md and the plot go")
    parser.add_argument(
        "--only",
        help="run these steps alone (comma-separated, e.g. rate_limited) and print their JSON; "
        "RESULTS.md, which holds one whole run, is left as it is",
    )
    args = parser.parse_args(argv)
    size = "small" if args.quick else "medium"
    totals = [2_000, 10_000] if args.quick else [100_000, LARGE_TOTAL]
    reconciled = ["small"] if args.quick else ["medium", "large"]
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        steps = (
            ("throughput", lambda: throughput(None if args.quick else 100_000, work)),
            ("api_cost", lambda: api_cost(size, work)),
            ("rate_limited", lambda: rate_limited(totals[0], "lite", [0.1, 0.4, 1.0], work)),
            ("scale", lambda: scale(totals, work)),
            ("target", target_cost.compare),
            ("history", lambda: history.compare(size, work)),
            ("reconciliation", lambda: reconcile_cost.compare(reconciled, work)),
            (
                "pipeline",
                lambda: pipeline.compare(
                    pipeline.QUICK if args.quick else pipeline.FULL, work / "pipeline"
                ),
            ),
        )
        if args.only:
            wanted = set(args.only.split(","))
            unknown = wanted - {name for name, _ in steps}
            if unknown:
                parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
            steps = tuple((name, step) for name, step in steps if name in wanted)
        for name, step in steps:
            started = time.perf_counter()
            print(f"# {name} ...", file=sys.stderr, flush=True)
            results[name] = step()
            print(f"# {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if args.only:
        print(json.dumps(results, indent=2, default=str))
        return 0
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report.write(results, out)
    print(f"wrote {out / 'RESULTS.md'} and {out / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
