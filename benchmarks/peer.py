"""singer-io's tap-pipedrive 2.1.0, the peer we measure against, run on the sandbox.

It is installed from PyPI into its own virtual environment (`.bench/peer-venv`), so its pins
(singer-python, requests, backoff) never meet ours. Its base URL is the module constant
`tap_pipedrive.tap.BASE_URL`; a small wrapper sets it from PEER_BASE_URL and calls its `main()`.
It calls `{BASE_URL}/v1/...` and `{BASE_URL}/api/v2/...`, reads custom fields from the v1 field
lists (noteFields included) and, once its bookmark is less than a month old, files and users
from `/v1/recents`; the sandbox serves all of these. It authenticates with the `api_token`
query parameter (legacy, still accepted by the API).

    .venv/bin/python benchmarks/peer.py [--size medium]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness

PACKAGE = "tap-pipedrive==2.1.0"
VENV = harness.ROOT / ".bench" / "peer-venv"
WRAPPER = """
import os
import tap_pipedrive.tap
tap_pipedrive.tap.BASE_URL = os.environ["PEER_BASE_URL"]
from tap_pipedrive.cli import main
main()
"""
# The peer's streams that hold what our main streams hold (it has no leads stream).
MAIN_STREAMS = {"deals", "persons", "organizations", "activities", "products", "notes", "files"}


def ensure_peer_venv(path: Path = VENV) -> Path:
    """The peer's interpreter, installing it on first use."""
    python = path / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('tap-pipedrive'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.stdout.strip() == PACKAGE.split("==")[1]:
            return python
    subprocess.run(["python3", "-m", "venv", str(path)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", PACKAGE],
        check=True,
        stderr=subprocess.DEVNULL,  # pip's index-location warnings, not errors
    )
    return python


def _argv(python: Path, config: str) -> list[str]:
    return [str(python), "-c", WRAPPER, "--config", config]


def peer_catalog(python: Path, api_url: str, config: str, streams: set[str], workdir: Path) -> dict:
    found = subprocess.run(
        [*_argv(python, config), "--discover"],
        capture_output=True,
        cwd=workdir,  # not the repository, whose own tap_pipedrive would shadow the peer's
        env={**os.environ, "PEER_BASE_URL": api_url},
        check=False,
    )
    if found.returncode:
        raise RuntimeError(f"the peer's discovery failed: {found.stderr.decode()[-2000:]}")
    return harness.select(json.loads(found.stdout), streams)


def run_peer(
    api_url: str,
    token: str,
    start_date: str,
    workdir: Path,
    python: Path | None = None,
    state: dict | None = None,
    streams: set[str] = MAIN_STREAMS,
) -> dict[str, Any]:
    """One sync of the peer's main streams: records per stream, wall time, peak RSS, its state."""
    python = python or ensure_peer_venv()
    config = harness.write_json(
        workdir / "peer-config.json",
        {"api_token": token, "start_date": f"{start_date}T00:00:00Z"},
    )
    catalog = harness.write_json(
        workdir / "peer-catalog.json", peer_catalog(python, api_url, config, streams, workdir)
    )
    argv = [*_argv(python, config), "--catalog", catalog]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="medium")
    args = parser.parse_args()
    python = ensure_peer_venv()
    with harness.sandbox(args.size) as sb:
        workdir = Path(harness.tempfile.mkdtemp())
        result = run_peer(sb.api_url, sb.token, "2020-01-01", workdir, python)
        stats = sb.stats()
    result.pop("state")
    result.update(requests=stats["requests"], tokens=stats["tokens"], status=stats["status"])
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0 if result["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
