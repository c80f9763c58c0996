"""What every benchmark shares: a sandbox in its own process, and a tap run measured from outside.

The sandbox runs as the `pipedrive-sandbox` command so that it never shares an interpreter (or
its lock) with what is measured; its own counters give requests and tokens. A tap runs as a
child process whose stdout is read here line by line and only counted, and whose peak RSS comes
from GNU time (`/usr/bin/time -f %M`, the kernel's figure for the process it starts: taken from
here, it would also count this process's pages copied at fork), so any tap, ours or a peer in
another virtual environment, is measured the same way. Each runs as a user installs it, in a
virtual environment of its own with its own dependencies only (`tap_python`, `peer.py`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from pipedrive_sandbox.generator import SIZES

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = str(Path(sys.executable).parent / "pipedrive-sandbox")
GNU_TIME = "/usr/bin/time"
# Our tap's own virtual environment (`tap_python`).
TAP_VENV = ROOT / ".bench" / "tap-venv"
RECORD = re.compile(rb'^\{"type": ?"RECORD", ?"stream": ?"([^"]+)"')
ARCHIVED = re.compile(rb'"is_archived": ?true')
# Our streams of the main entities, those a company's size is counted in.
MAIN_STREAMS = {
    "deals",
    "persons",
    "organizations",
    "activities",
    "products",
    "notes",
    "files",
    "leads",
}
# Our tap with the SDK's settings that matter for speed switched per variant (see VARIANTS).
OURS = """
import sys
variant = sys.argv.pop(1).split("+")
from tap_pipedrive import tap
if "no-conformance" in variant:
    from singer_sdk.helpers.conform import TypeConformanceLevel
    from tap_pipedrive.base_streams import PipedriveStream
    PipedriveStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
if "msgspec" in variant:
    from singer_sdk.contrib.msgspec import MsgSpecWriter
    tap.TapPipedrive.message_writer_class = MsgSpecWriter
tap.main()
"""
VARIANTS = {
    "default": "as shipped: recursive type conformance, the SDK's JSON writer",
    "no-conformance": "type conformance off (TypeConformanceLevel.NONE)",
    "msgspec": "msgspec message writer (singer_sdk.contrib.msgspec)",
    "no-conformance+msgspec": "both",
}


def system_python() -> str:
    """`python3` from PATH, skipping the bin directory of the virtual environment we run in."""
    here = Path(sys.prefix, "bin").resolve()
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != here
    )
    return shutil.which("python3", path=path) or "python3"


@functools.cache
def tap_python() -> str:
    """The interpreter of our tap as a user installs it (`pip_url: -e .` in meltano.yml): a
    virtual environment with the tap's dependencies alone, brought up to date once per process
    (the code is the working tree's, installed editable). Not the benchmarks' own: matplotlib
    brings numpy, which joblib (imported by the SDK) then loads, 0.1 s of every start that a
    user's install does not pay. msgspec is there for the writer variant (VARIANTS)."""
    python = TAP_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([system_python(), "-m", "venv", str(TAP_VENV)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(ROOT), "msgspec>=0.18"],
        capture_output=True,
        text=True,
        check=False,
    )
    if pip.returncode:
        raise RuntimeError(f"installing our tap failed: {pip.stderr[-2000:]}")
    return str(python)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def limit_windows(requests_: int, limit: int) -> int:
    """The windows of a burst limit (`limit` requests per rolling 2 s) that `requests_` requests
    need after the first: the last may go 2 s times this after the first (the rate-limited
    rows' bound)."""
    return max(0, math.ceil(requests_ / limit) - 1)


def scaled_counts(records: int) -> dict[str, int]:
    """Counts per entity in the large company's proportions, `records` main records in all."""
    large = SIZES["large"]
    main = sum(large[e] for e in MAIN_STREAMS)
    return {
        e: max(1, round(n * records / main)) if e in MAIN_STREAMS else n for e, n in large.items()
    }


@dataclass
class SandboxProcess:
    api_url: str
    token: str
    process: subprocess.Popen
    started_in: float

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.api_url}/_admin/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return self.admin("GET", "stats")

    def reset_stats(self) -> None:
        self.admin("POST", "reset-stats")

    def counts(self) -> dict[str, int]:
        return self.admin("GET", "counts")


@contextlib.contextmanager
def sandbox(
    size: str = "medium",
    counts: dict[str, int] | None = None,
    plan: str | None = None,
    faults: str | None = None,
    seed: int = 1,
) -> Iterator[SandboxProcess]:
    args = [SANDBOX, "--port", str(free_port()), "--seed", str(seed), "--size", size]
    if counts:
        args += ["--counts", ",".join(f"{k}={v}" for k, v in counts.items())]
    if plan:
        args += ["--plan", plan]
    if faults:
        args += ["--faults", faults]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = dict(process.stdout.readline().strip().split("=", 1) for _ in range(2))
        yield SandboxProcess(
            lines["api_url"], lines["token"], process, time.perf_counter() - started
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class TapRun:
    records: Counter = field(default_factory=Counter)
    archived: Counter = field(default_factory=Counter)
    state: dict | None = None
    seconds: float = 0.0
    # Wall-clock (epoch) seconds of the process's start, to set beside a server's times.
    started_at: float = 0.0
    peak_rss_mb: float = 0.0
    returncode: int = 0
    stderr_tail: str = ""

    @property
    def total(self) -> int:
        return sum(self.records.values())

    @property
    def ended_at(self) -> float:
        """Wall-clock (epoch) seconds of the process's end."""
        return self.started_at + self.seconds

    @property
    def per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def run_tap(
    argv: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 3600,
    cwd: Path | None = None,
) -> TapRun:
    """Run a Singer tap to the end, counting its records per stream (and archived ones), keeping
    its last STATE, and taking its wall time and peak RSS."""
    out = TapRun()
    with tempfile.TemporaryFile() as stderr, tempfile.NamedTemporaryFile("r") as usage:
        started = time.perf_counter()
        out.started_at = time.time()
        process = subprocess.Popen(
            [GNU_TIME, "-f", "%M", "-o", usage.name, *argv],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        deadline = started + timeout
        for line in process.stdout:
            match = RECORD.match(line)
            if match:
                out.records[match[1].decode()] += 1
                if ARCHIVED.search(line):
                    out.archived[match[1].decode()] += 1
            elif line.startswith((b'{"type": "STATE"', b'{"type":"STATE"')):
                out.state = json.loads(line)["value"]
            if time.perf_counter() > deadline:
                process.kill()
        out.returncode = process.wait()
        out.seconds = time.perf_counter() - started
        out.peak_rss_mb = int(usage.read().split()[-1]) / 1024  # kilobytes
        stderr.seek(0)
        out.stderr_tail = stderr.read().decode(errors="replace")[-2000:]
    return out


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def ours(
    sb: SandboxProcess,
    workdir: Path,
    streams: set[str] | None = None,
    state: dict | None = None,
    variant: str = "default",
    selected: dict | None = None,
    **settings: Any,
) -> TapRun:
    """A run of our tap on this sandbox: the given streams (default: its default selection), or
    a catalog already `selected` (so that discovery is not among what the sandbox counts)."""
    config = {
        "api_url": sb.api_url,
        "api_token": sb.token,
        "anchor_date": "2020-01-01",
        "max_requests_per_2s": 10_000,
        **settings,
    }
    argv = [tap_python(), "-c", OURS, variant, "--config", write_json(workdir / "c.json", config)]
    if selected is None and streams is not None:
        selected = catalog(config, streams)
    if selected is not None:
        argv += ["--catalog", write_json(workdir / "catalog.json", selected)]
    if state is not None:
        argv += ["--state", write_json(workdir / "state.json", state)]
    run = run_tap(argv)
    if run.returncode:
        raise RuntimeError(f"our tap failed ({variant}): {run.stderr_tail}")
    return run


def catalog(config: dict, streams: set[str]) -> dict:
    """Our discovered catalog with exactly these streams selected."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            OURS,
            "default",
            "--config",
            write_json(Path(tempfile.mkdtemp()) / "c.json", config),
            "--discover",
        ],
        capture_output=True,
        check=True,
    )
    return select(json.loads(found.stdout), streams)


def select(catalog: dict, streams: set[str]) -> dict:
    """A Singer catalog with exactly these streams selected."""
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog
