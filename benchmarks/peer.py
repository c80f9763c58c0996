"""singer-io's tap-pipedrive 2.1.0, the peer we measure against, run on the sandbox.

Why a module of its own: the peer is installed from PyPI into its own virtual environment
(`.bench/peer-venv`) so that its pins (singer-python 6, requests, backoff) never meet ours, and
it runs as a child process measured the way `harness.run_tap` measures our tap: stdout counted
line by line, wall time, and peak RSS from GNU time. (`os.wait4` from here would not do: Linux
charges the parent's resident pages at fork/exec to the child's `ru_maxrss`, so it reports
max(this process, the peer).)

How the peer works, from its source: its base URL is the module constant
`tap_pipedrive.tap.BASE_URL`; a wrapper sets it from PEER_BASE_URL and calls its `main()`. It
authenticates with the `api_token` query parameter and needs `start_date`; without a catalog it
discovers one with nothing selected and syncs nothing, so we select streams in its discovered
catalog. Pages are always 100 records. Incremental semantics, per stream:

- deals, persons, organizations, activities: `/api/v2/...?updated_since=<bookmark>&sort_by=
  update_time` (cursor pages); bookmark = the greatest `update_time` read. deals asks for
  `status=open,won,lost,deleted`, so it gets deleted deals but never the archived ones.
- products, pipelines, stages: `/api/v2/...?sort_by=update_time&sort_direction=desc`, read until
  a record is older than the bookmark. notes: `/v1/notes?sort=update_time desc`, the same way.
- files, users: the full `/v1/files`, `/v1/users` while the bookmark is over a month old, else
  `/v1/recents?since_timestamp=<bookmark>&items=file|user`.
- dealflow, deal_products: one `/v1/deals/{id}/flow` or `/v1/deals/{id}/products` per deal, which
  the sandbox does not serve (404, and the peer stops), so they are not among the main streams.
- Every run also reads the v1 field lists (`/v1/dealFields` ...) for its schemas.
A record whose replication value equals the bookmark is dropped (it compares '...:05.000000Z'
with '...:05Z' as strings), so a second run over unchanged data emits only the full tables.

    .venv/bin/python benchmarks/peer.py [--size medium] [--streams main|all|a,b] [--again]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness
import requests

PACKAGE, VERSION = "tap-pipedrive", "2.1.0"
VENV = harness.ROOT / ".bench" / "peer-venv"
WRAPPER_NAME = "run_peer_tap.py"
# A file in the venv rather than `-c`, so that no working directory puts our own
# `tap_pipedrive` ahead of the peer's on sys.path.
WRAPPER = """\
import os

import tap_pipedrive.tap

tap_pipedrive.tap.BASE_URL = os.environ["PEER_BASE_URL"].rstrip("/")

from tap_pipedrive.cli import main

main()
"""
# The peer's streams that hold what our main streams hold (it has no leads stream).
MAIN_STREAMS = {"deals", "persons", "organizations", "activities", "products", "notes", "files"}
# Per-deal streams whose endpoints the sandbox does not serve.
UNSERVED = {"dealflow": "/v1/deals/{id}/flow", "deal_products": "/v1/deals/{id}/products"}


def ensure_peer_venv(path: Path = VENV) -> Path:
    """The peer's interpreter; the venv is created and the package installed on first use."""
    python = path / "bin" / "python"
    probe = [str(python), "-c", f"import importlib.metadata as m; print(m.version({PACKAGE!r}))"]
    found = (
        subprocess.run(probe, capture_output=True, text=True, check=False)
        if python.exists()
        else None
    )
    if found is None or found.stdout.strip() != VERSION:
        subprocess.run([harness.system_python(), "-m", "venv", str(path)], check=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"{PACKAGE}=={VERSION}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode:
            raise RuntimeError(f"installing the peer failed: {pip.stderr[-2000:]}")
    wrapper = path / WRAPPER_NAME
    if not wrapper.exists() or wrapper.read_text() != WRAPPER:
        wrapper.write_text(WRAPPER)
    return python


def _argv(python: Path, config: str) -> list[str]:
    return [str(python), str(python.parent.parent / WRAPPER_NAME), "--config", config]


def write_config(workdir: Path, token: str, start_date: str) -> str:
    start = start_date if "T" in start_date else f"{start_date}T00:00:00Z"
    return harness.write_json(
        workdir / "peer-config.json", {"api_token": token, "start_date": start}
    )


def peer_catalog(python: Path, api_url: str, config: str, streams: set[str], workdir: Path) -> dict:
    """The peer's discovered catalog with exactly these streams selected (discovery itself reads
    the v1 field lists from the API)."""
    found = subprocess.run(
        [*_argv(python, config), "--discover"],
        capture_output=True,
        cwd=workdir,
        env={**os.environ, "PEER_BASE_URL": api_url},
        check=False,
    )
    if found.returncode:
        raise RuntimeError(f"the peer's discovery failed: {found.stderr.decode()[-2000:]}")
    return harness.select(json.loads(found.stdout), streams)


def peer_streams(catalog: dict) -> list[str]:
    return sorted(entry["tap_stream_id"] for entry in catalog["streams"])


def selected_streams(catalog: dict) -> list[str]:
    return sorted(
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        for meta in entry["metadata"]
        if meta["breadcrumb"] == [] and meta["metadata"].get("selected")
    )


def run_peer(
    api_url: str,
    token: str,
    start_date: str,
    workdir: Path,
    python: Path | None = None,
    state: dict | None = None,
    streams: set[str] = MAIN_STREAMS,
    catalog: dict | None = None,
) -> dict[str, Any]:
    """One sync by the peer (discovering its catalog first unless given one): records per stream,
    wall time, peak RSS, exit code, its last STATE, and its stderr's tail if it failed."""
    python = python or ensure_peer_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir, token, start_date)
    if catalog is None:
        catalog = peer_catalog(python, api_url, config, streams, workdir)
    argv = [
        *_argv(python, config),
        "--catalog",
        harness.write_json(workdir / "peer-catalog.json", catalog),
    ]
    if state is not None:
        argv += ["--state", harness.write_json(workdir / "peer-state.json", state)]
    run = harness.run_tap(argv, env={"PEER_BASE_URL": api_url}, cwd=workdir)
    return {
        "records": run.total,
        "per_stream": dict(sorted(run.records.items())),
        "seconds": run.seconds,
        "peak_rss_mb": run.peak_rss_mb,
        "returncode": run.returncode,
        "state": run.state,
        "stderr_tail": run.stderr_tail if run.returncode else "",
    }


def failed_requests(sb: harness.SandboxProcess, stats: dict) -> list[dict[str, Any]]:
    """The distinct requests since the last reset that the sandbox answers with 4xx/5xx.

    Its counters give statuses per endpoint only, so when they show any error, each distinct
    logged GET is asked again (the peer only reads) and those that fail are listed."""
    if all(status.startswith("2") for status in stats["status"]):
        return []
    log = requests.get(f"{sb.api_url}/_admin/requests", timeout=60).text.splitlines()
    seen, failed = set(), []
    for line in log:
        request = json.loads(line)
        key = (request["method"], request["path"], tuple(sorted(request["query"].items())))
        if request["method"] != "GET" or key in seen:
            continue
        seen.add(key)
        answer = requests.get(sb.api_url + request["path"], params=request["query"], timeout=60)
        if answer.status_code >= 400:
            query = {k: v for k, v in request["query"].items() if k != "api_token"}
            failed.append({"status": answer.status_code, "path": request["path"], "query": query})
    return failed


def _counters(stats: dict) -> dict[str, Any]:
    return {key: stats[key] for key in ("requests", "tokens", "status", "by_endpoint")}


def _sync(sb: harness.SandboxProcess, work: Path, python: Path, args: Any, **kw: Any) -> dict:
    sb.reset_stats()
    result = run_peer(sb.api_url, sb.token, args.start_date, work, python, **kw)
    stats = sb.stats()
    result.update(_counters(stats), failed=failed_requests(sb, stats))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start-date", default="2020-01-01")
    parser.add_argument(
        "--streams", default="main", help="main (default), all, or a comma-separated list"
    )
    parser.add_argument("--again", action="store_true", help="a second run from the first's state")
    args = parser.parse_args()
    python = ensure_peer_venv()
    work = Path(tempfile.mkdtemp(prefix="peer-"))
    with harness.sandbox(args.size, seed=args.seed) as sb:
        config = write_config(work, sb.token, args.start_date)
        sb.reset_stats()
        everything = peer_catalog(python, sb.api_url, config, set(), work)
        discovery = _counters(sb.stats())
        names = set(peer_streams(everything))
        wanted = {"main": MAIN_STREAMS, "all": names}.get(args.streams)
        wanted = wanted or {s.strip() for s in args.streams.split(",") if s.strip()}
        catalog = harness.select(everything, wanted)
        first = _sync(sb, work, python, args, catalog=catalog)
        summary: dict[str, Any] = {
            "peer_python": str(python),
            "api_url": sb.api_url,
            "size": args.size,
            "peer_streams": sorted(names),
            "selected": selected_streams(catalog),
            "not_in_peer": sorted(wanted - names),
            "discovery": discovery,
            "sync": first,
        }
        if args.again:
            summary["again"] = _sync(sb, work, python, args, catalog=catalog, state=first["state"])
    json.dump(summary, sys.stdout, indent=2, default=str)
    print()
    runs = [first, summary.get("again", first)]
    return 0 if all(run["returncode"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
