"""Deal history beside singer-io tap-pipedrive 2.1.0's `dealflow`, on one sandbox.

    .venv/bin/python benchmarks/history.py [--size medium] [--changed 0.01]

Two runs each, on the same data: a first run (the whole history of every deal), then, after a
share of the deals moved to another stage through the API (a sales team's hour), a run from the
first run's state. Requests and tokens come from the sandbox's counters, per endpoint.

- ours: `deals`, `deal_changes` and `deal_stage_changes` selected, the history cap lifted. The
  change logs (`/api/v1/deals/{id}/changelog`, 20 tokens a page of up to 500 entries) are read
  for the deals the `deals` stream read in the run.
- the peer: `dealflow` selected. It lists deals updated since its bookmark (`/api/v2/deals`, 100
  a page) and reads `/api/v1/deals/{id}/flow` (40 tokens a page of 100 updates) for each deal
  added or moved to another stage in its window, keeping only the `add_time` and `stage_id`
  changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import peer
import requests

OURS = {"deals", "deal_changes", "deal_stage_changes"}
PEER = {"dealflow"}
HISTORY_ENDPOINTS = {"GET /api/v1/deals/{id}/changelog", "GET /api/v1/deals/{id}/flow"}
UNCAPPED = 10**12  # history_max_tokens: the whole history in one run


def _per_endpoint(stats: dict) -> dict[str, dict[str, int]]:
    return {k: v for k, v in sorted(stats["by_endpoint"].items()) if v["requests"]}


def _measured(run: dict[str, Any], stats: dict, deals: int) -> dict[str, Any]:
    """The run's counts; `history_*` are those of the per-deal history endpoint alone (the
    change log, or the flow), per deal read (first run) or per deal changed (hourly run)."""
    per_deal = {k: v for k, v in stats["by_endpoint"].items() if k in HISTORY_ENDPOINTS}
    history_tokens = sum(v["tokens"] for v in per_deal.values())
    return {
        **run,
        "requests": stats["requests"],
        "tokens": stats["tokens"],
        "history_requests": sum(v["requests"] for v in per_deal.values()),
        "history_tokens": history_tokens,
        "history_tokens_per_deal": round(history_tokens / deals, 2) if deals else None,
        "tokens_per_deal": round(stats["tokens"] / deals, 2) if deals else None,
        "status": stats["status"],
        "by_endpoint": _per_endpoint(stats),
    }


def move_deals(sb: harness.SandboxProcess, share: float) -> list[int]:
    """Move `share` of the deals (every n-th id) one stage on in their pipeline, through the API
    as a user would; the sandbox's stats are reset afterwards by the caller."""
    headers = {"x-api-token": sb.token}
    stages: dict[int, list[int]] = {}
    for stage in _all(sb, "/api/v2/stages"):
        stages.setdefault(stage["pipeline_id"], []).append(stage["id"])
    deals = _all(sb, "/api/v2/deals")  # open, won and lost (a stage can change in each)
    step = max(1, round(1 / share))
    moved = []
    for deal in deals[: round(len(deals) * share) * step : step]:
        line = sorted(stages[deal["pipeline_id"]])
        target = line[(line.index(deal["stage_id"]) + 1) % len(line)]
        answer = requests.patch(
            f"{sb.api_url}/api/v2/deals/{deal['id']}",
            json={"stage_id": target},
            headers=headers,
            timeout=60,
        )
        answer.raise_for_status()
        moved.append(deal["id"])
    return moved


def _all(sb: harness.SandboxProcess, path: str) -> list[dict]:
    out, cursor = [], None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        body = requests.get(
            sb.api_url + path, params=params, headers={"x-api-token": sb.token}, timeout=60
        ).json()
        out += body["data"] or []
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return out


def ours(
    sb: harness.SandboxProcess, work: Path, catalog: dict, state: dict | None
) -> dict[str, Any]:
    run = harness.ours(sb, work, OURS, state=state, selected=catalog, history_max_tokens=UNCAPPED)
    return {
        "records": dict(sorted(run.records.items())),
        "seconds": round(run.seconds, 2),
        "state": run.state,
    }


def the_peer(
    sb: harness.SandboxProcess, work: Path, venv: Path, catalog: dict, state: dict | None
) -> dict[str, Any]:
    run = peer.run_peer(
        sb.api_url, sb.token, "2020-01-01", work, venv, state=state, catalog=catalog
    )
    if run["returncode"]:
        raise RuntimeError(f"the peer failed: {run['stderr_tail']}")
    return {
        "records": run["per_stream"],
        "seconds": round(run["seconds"], 2),
        "state": run["state"],
    }


def compare(size: str, work: Path, changed: float = 0.01) -> dict[str, Any]:
    """Both taps' first and hourly runs, each on a fresh sandbox with the same seed, so that
    both read the same deals and the same changes."""
    out: dict[str, Any] = {"size": size, "changed_share": changed}
    venv = peer.ensure_peer_venv()
    for name in ("ours", "peer"):
        with harness.sandbox(size) as sb:
            deals = sb.counts()["deals"]
            out["deals"] = deals
            # Discovery (both read the field lists for it) is left out of the counts.
            if name == "ours":
                catalog = harness.catalog({"api_url": sb.api_url, "api_token": sb.token}, OURS)
            else:
                config = peer.write_config(work, sb.token, "2020-01-01")
                found = peer.peer_catalog(venv, sb.api_url, config, set(), work)
                catalog = harness.select(found, PEER)

            def run(state: dict | None, name: str = name, catalog: dict = catalog) -> dict:
                if name == "ours":
                    return ours(sb, work, catalog, state)
                return the_peer(sb, work, venv, catalog, state)

            sb.reset_stats()
            first = run(None)
            first = _measured(first, sb.stats(), deals)
            moved = move_deals(sb, changed)
            # An hour's changes are older than the run that reads them; the peer takes only
            # stage changes strictly before the second its run starts.
            time.sleep(1.5)
            sb.reset_stats()
            hourly = run(first.pop("state"))
            hourly = _measured(hourly, sb.stats(), len(moved))
            hourly.pop("state")
            out[name] = {"first": first, "hourly": hourly, "moved": len(moved)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--changed", type=float, default=0.01, help="share of deals moved")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = compare(args.size, Path(tmp), args.changed)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
