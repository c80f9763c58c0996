"""Throughput of our tap now, of our tap at an earlier commit, and of the peer, in the same runs.

    .venv/bin/python benchmarks/versus_previous.py --rev 4763ead [--reps 5] [--size medium]

The throughput step of run_all.py (a full sync of the main streams at zero latency, one sandbox
process for every run), with the contenders taking turns so that a machine busy with something
else slows each of them alike. The earlier commit's `tap_pipedrive` and `pipedrive_client` are
taken with `git archive` and put first on PYTHONPATH; both taps run from a directory outside
the repository. Besides wall time: the tap's CPU time (user + system, its child processes
included) and the sandbox's CPU time during the run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import harness
import peer

STREAMS = {"deals", "persons", "organizations", "activities", "products", "notes", "files", "leads"}


def _snapshot(rev: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", rev, "tap_pipedrive", "pipedrive_client"],
        cwd=harness.ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", required=True, help="the earlier commit (a git revision)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--size", default="medium")
    args = parser.parse_args(argv)
    rates: dict[str, list[int]] = {"peer": [], "previous": [], "ours": []}
    with tempfile.TemporaryDirectory() as tmp, harness.sandbox(args.size) as sb:
        work, previous = Path(tmp), Path(tmp) / "previous"
        previous.mkdir()
        _snapshot(args.rev, previous)
        config = {
            "api_url": sb.api_url,
            "api_token": sb.token,
            "anchor_date": "2020-01-01",
            "max_requests_per_2s": 10_000,
        }
        catalog = harness.catalog(config, STREAMS)
        tap_argv = [
            sys.executable,
            "-c",
            harness.OURS,
            "default",
            "--config",
            harness.write_json(work / "c.json", config),
            "--catalog",
            harness.write_json(work / "catalog.json", catalog),
        ]
        python = peer.ensure_peer_venv()
        for rep in range(args.reps):
            for who, runs in rates.items():
                cpu, sandbox_cpu = _children_cpu(), _process_cpu(sb.process.pid)
                if who == "peer":
                    done = peer.run_peer(sb.api_url, sb.token, "2020-01-01", work, python)
                    records, seconds = done["records"], done["seconds"]
                else:
                    env = {"PYTHONPATH": str(previous)} if who == "previous" else {}
                    run = harness.run_tap(tap_argv, env=env, cwd=work)
                    if run.returncode:
                        raise RuntimeError(f"{who} failed: {run.stderr_tail}")
                    records, seconds = run.total, run.seconds
                runs.append(round(records / seconds))
                print(
                    f"{rep} {who:9s} {records:6d} records {seconds:6.2f} s "
                    f"{runs[-1]:6,d}/s  tap CPU {_children_cpu() - cpu:5.2f} s  "
                    f"sandbox CPU {_process_cpu(sb.process.pid) - sandbox_cpu:5.2f} s  "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    medians = {who: statistics.median(r) for who, r in rates.items()}
    print("median records/s:", {who: f"{m:,.0f}" for who, m in medians.items()})
    print("x the peer:", {who: round(m / medians["peer"], 2) for who, m in medians.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
