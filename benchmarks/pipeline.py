"""End to end: the sandbox -> a tap -> a loader, through real `meltano run`, beside the peer.

    .venv/bin/python benchmarks/pipeline.py            # 100k and 1M records, and the rate limits
    .venv/bin/python benchmarks/pipeline.py --quick    # 2,000 records, one plan: about a minute
    .venv/bin/python benchmarks/pipeline.py --records 100000 --latency-records 0 --json out.json
    .venv/bin/python benchmarks/pipeline.py --variants --records 100000   # loading switches

What runs, on one sandbox per scenario (seed 1, the large company's proportions scaled to N main
records, as the scale step of run_all.py makes them), each run a full sync into a fresh schema
(PostgreSQL) or file (DuckDB) with a fresh Meltano system database (so no state):

- `meltano run tap-pipedrive target-postgres` and `... target-duckdb`: the headline. The loaders
  are the versions meltano.yml pins (installed by `meltano install`), the tap its default
  selection. Zero added latency; the sandbox has no rate limit and the tap is told 10,000
  requests per 2 s, as in the scale step.
- the tap alone: the executable and the config and catalog Meltano gives it (`meltano invoke
  --dump=config/catalog`), its output to a file: what the tap costs with no loader behind it.
- up to `--detail-max` records also: each loader alone, fed that file, and our tap piped
  straight into target-postgres without Meltano (the peer's way, below).
- the peer, singer-io tap-pipedrive 2.1.0 (`.bench/peer-venv`, see peer.py), its output piped
  into the same target-postgres executable with the config Meltano gives it (its own schema),
  and the peer alone into a file. It reads fewer streams: all it has but `dealflow` and
  `deal_products` (one request per deal, endpoints the sandbox does not serve) and `files` (its
  schema wants an integer `mail_message_id`, the API and the sandbox give a string, and the peer
  stops at the first file).
- at 250 ms added latency under the lite and growth plans' burst limits (20 and 40 requests per
  2 s; the sandbox enforces them, the tap gets `plan`): the meltano runs, our tap alone, the
  peer's pipeline.

`--variants` runs instead, at each zero-latency size, the ways of loading into target-postgres
side by side (VARIANTS): `meltano run` of ours with each variant's tap and loader settings
(meltano.yml's defaults and these over them, through the environment), and the peer piped
into the same loader with each loader config (it writes RECORD messages only). After each
run, per table: rows, a checksum of the rows with the columns the loader stamps with its clock
(`_sdc_extracted_at`, `_received_at`, `_batched_at`, `_sequence`, `_sync_started_at`) left out,
the column types, and how many rows have each `_sdc_` column set; every variant of ours must
equal the first (`content` in its row), and so must every one of the peer.

Measured from outside: wall time (for `meltano run`: Meltano's start, the tap's discovery, the
sync, saving the state); rows in the warehouse afterwards (records/s = rows / wall seconds); and,
polling /proc every 0.1 s for the process tree, each process's peak RSS (the kernel's VmHWM) and
CPU seconds, by role (Meltano itself, the tap's discovery, the tap's sync, the loader), and when
the tap and the loader exited. Beside them: the sandbox's and PostgreSQL's CPU seconds and how
busy the machine's CPUs were (/proc/stat), and the sandbox's request counters.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import peer
import psycopg
import yaml

from pipedrive_client.config import PLAN_BURST_LIMITS
from pipedrive_sandbox.meltano_project import MELTANO, ROOT, environment, install, meltano

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ANCHOR = "2020-01-01"
LOADERS = ("target-postgres", "target-duckdb")
PEER_LEFT_OUT = {
    "dealflow": "one /v1/deals/{id}/flow per deal, which the sandbox does not serve",
    "deal_products": "one /v1/deals/{id}/products per deal, which the sandbox does not serve",
    "files": "its schema wants an integer mail_message_id, the API gives a string: it stops",
}
LATENCY_S = 0.25
PLANS = ("lite", "growth")
POLL_S = 0.1
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sizes:
    records: list[int]  # zero-latency runs
    latency_records: int  # the rate-limited runs (0: none)
    detail_max: int  # the loaders alone and our tap piped without Meltano, up to this size
    latency_loaders: tuple[str, ...] = LOADERS
    plans: tuple[str, ...] = PLANS


FULL = Sizes(records=[100_000, 1_000_000], latency_records=100_000, detail_max=100_000)
# A smoke run: every kind of run but the loaders alone and our piped one, one plan, one loader
# under it. Its figures are mostly start-up time, not ones to quote.
QUICK = Sizes(
    records=[2_000],
    latency_records=2_000,
    detail_max=0,
    latency_loaders=("target-postgres",),
    plans=("lite",),
)


# The ways of loading, each (tap settings, target-postgres settings) over meltano.yml's. The
# BATCH files go to a directory of the run's own (`{batch_root}`).
INSERT = {"use_copy": False}
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "records, validated, INSERT (the SDK's defaults)": ({}, {"validate_records": True, **INSERT}),
    "records, not validated, INSERT": ({}, {"validate_records": False, **INSERT}),
    "records, not validated, COPY (meltano.yml)": ({}, {}),
    "batch (jsonl), COPY": (
        {
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": {"root": "{batch_root}"},
            }
        },
        {},
    ),
    "batch (jsonl, gzip), COPY": (
        {
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": "{batch_root}"},
            }
        },
        {},
    ),
}


# -- measuring a process tree from /proc ------------------------------------------------------


def _stat(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds of its own, command name) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        name = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        return int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK, name
    except (OSError, ValueError, IndexError):  # gone, or read while it went
        return None


def _hwm_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _argv(pid: int) -> list[str]:
    """Its command line; empty once it has exited (a zombie has none)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").rstrip("\0").split("\0") if raw.strip(b"\0") else []


def role_of(argv: list[str]) -> str | None:
    """What a process of a pipeline is, from its command line (interpreter and script)."""
    names = {Path(a).name for a in argv[:2]}
    if names & {"tap-pipedrive", peer.WRAPPER_NAME}:
        return "discovery" if "--discover" in argv else "tap"
    if names & set(LOADERS):
        return "loader"
    if "meltano" in names:
        return "meltano"
    return None


@dataclass
class Seen:
    parent: int
    argv: list[str]
    first_s: float
    last_s: float = 0.0
    cpu_s: float = 0.0
    hwm_kb: int = 0


class TreeWatch:
    """Polls /proc for the processes descending from `roots`: per process, its command line,
    when it was first and last seen, its CPU seconds and its peak RSS (VmHWM, which the kernel
    keeps as a high-water mark, so a poll only has to come before the exit). A process that
    exits between two polls loses at most one interval of CPU time."""

    def __init__(self, roots: list[int], t0: float, interval: float = POLL_S) -> None:
        self.roots, self.t0, self.interval = set(roots), t0, interval
        self.seen: dict[int, Seen] = {}
        self.own_cpu_s = 0.0  # the polling's own CPU time, once stopped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        started = time.thread_time()
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)
        self.own_cpu_s = time.thread_time() - started

    def poll(self) -> None:
        now = time.perf_counter() - self.t0
        stats = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                found = _stat(int(entry.name))
                if found:
                    stats[int(entry.name)] = found
        tree, frontier = set(), [p for p in self.roots if p in stats]
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in stats.items():
            children.setdefault(parent, []).append(pid)
        while frontier:
            pid = frontier.pop()
            tree.add(pid)
            frontier += children.get(pid, [])
        for pid in tree:
            parent, cpu, _ = stats[pid]
            seen = self.seen.get(pid)
            if seen is None:
                seen = self.seen[pid] = Seen(parent, [], now)
            # Read again until it stops changing: a child shows its parent's command line
            # between fork and exec.
            seen.argv = _argv(pid) or seen.argv
            seen.last_s, seen.cpu_s = now, cpu
            seen.hwm_kb = max(seen.hwm_kb, _hwm_kb(pid))

    def roles(self) -> dict[str, dict[str, Any]]:
        """Per role: processes, peak RSS (the largest of them), CPU seconds (summed), and when
        the first started and the last ended (seconds from the start)."""

        def role(pid: int) -> str:
            while pid in self.seen:
                found = role_of(self.seen[pid].argv)
                if found:
                    return found
                pid = self.seen[pid].parent
            return "other"

        out: dict[str, dict[str, Any]] = {}
        for pid, seen in self.seen.items():
            row = out.setdefault(
                role(pid),
                {"processes": 0, "peak_rss_mb": 0.0, "cpu_s": 0.0, "first_s": 1e9, "last_s": 0.0},
            )
            row["processes"] += 1
            row["peak_rss_mb"] = max(row["peak_rss_mb"], round(seen.hwm_kb / 1024, 1))
            row["cpu_s"] = round(row["cpu_s"] + seen.cpu_s, 1)
            row["first_s"] = round(min(row["first_s"], seen.first_s), 1)
            row["last_s"] = round(max(row["last_s"], seen.last_s), 1)
        return out


def _cpu_of(names: tuple[str, ...]) -> float:
    """CPU seconds of every process with one of these command names, their reaped children's
    included (a PostgreSQL backend's time lands in the postmaster when it exits)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        if text[text.index("(") + 1 : text.rindex(")")] in names:
            rest = text[text.rindex(")") + 2 :].split()
            total += sum(int(x) for x in rest[11:15]) / CLK_TCK
    return total


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Measured:
    seconds: float
    returncodes: list[int]
    roles: dict[str, dict[str, Any]]
    sandbox_cpu_s: float
    postgres_cpu_s: float
    machine_busy: float  # share of all CPUs' time that was busy during the run
    other_cpu_s: float  # CPU seconds of everything else on the machine during the run
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def measure(
    commands: list[dict[str, Any]], sb: harness.SandboxProcess | None, timeout: float = 7200
) -> Measured:
    """Start these commands (Popen keyword arguments each; with `pipe: True` a command's stdout
    feeds the next one's stdin), wait for them all, and measure them as one process tree."""
    sandbox_pid = sb.process.pid if sb else None
    sandbox_before = _stat(sandbox_pid)[1] if sandbox_pid else 0.0
    pg_before = _cpu_of(("postgres",))
    busy_before, total_before = _machine_ticks()
    with contextlib.ExitStack() as stack:
        stderr_files = [stack.enter_context(tempfile.TemporaryFile()) for _ in commands]
        t0 = time.perf_counter()
        processes: list[subprocess.Popen] = []
        for command, err in zip(commands, stderr_files, strict=True):
            spec = dict(command)
            pipe = spec.pop("pipe", False)
            upstream = processes[-1].stdout if processes and processes[-1].stdout else None
            if upstream is not None:
                spec["stdin"] = upstream
            spec.setdefault("stdout", subprocess.PIPE if pipe else subprocess.DEVNULL)
            processes.append(subprocess.Popen(stderr=err, **spec))
            if upstream is not None:
                upstream.close()  # the reader has it now; the writer sees EPIPE if it goes
        with TreeWatch([p.pid for p in processes], t0) as watch:
            deadline = t0 + timeout
            for process in processes:
                try:
                    process.wait(timeout=max(1.0, deadline - time.perf_counter()))
                except subprocess.TimeoutExpired:
                    for p in processes:
                        p.kill()
                    process.wait()
        seconds = time.perf_counter() - t0
        busy_after, total_after = _machine_ticks()
        tails = []
        for process, err in zip(processes, stderr_files, strict=True):
            if process.returncode:
                err.seek(0)
                tails.append(failure_excerpt(err.read().decode(errors="replace")))
    roles = watch.roles()
    sandbox_cpu = _stat(sandbox_pid)[1] - sandbox_before if sandbox_pid else 0.0
    postgres_cpu = _cpu_of(("postgres",)) - pg_before
    machine_cpu = (busy_after - busy_before) / CLK_TCK
    ours = sum(role["cpu_s"] for role in roles.values()) + sandbox_cpu + postgres_cpu
    return Measured(
        seconds=seconds,
        returncodes=[p.returncode for p in processes],
        roles=roles,
        sandbox_cpu_s=round(sandbox_cpu, 1),
        postgres_cpu_s=round(postgres_cpu, 1),
        machine_busy=round((busy_after - busy_before) / max(1, total_after - total_before), 3),
        other_cpu_s=round(max(0.0, machine_cpu - ours - watch.own_cpu_s), 1),
        stderr_tail="\n".join(tails),
    )


ERROR_LINE = re.compile(r"error|exception|traceback|failed|killed", re.IGNORECASE)


def failure_excerpt(log: str, lines: int = 40, tail: int = 2000) -> str:
    """What tells why a run failed: the log's lines that name an error (a loader's message is
    far from the end of Meltano's log, under Meltano's own traceback), then the log's end."""
    named = [line[:300] for line in log.splitlines() if ERROR_LINE.search(line)]
    return "\n".join([*named[:lines], "...", log[-tail:]])


# -- the warehouse --------------------------------------------------------------------------


def postgres_rows(schema: str, drop: bool = True) -> dict[str, int]:
    """Rows per table in this schema (then the schema is dropped)."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (schema,),
            )
        ]
        rows = {
            t: conn.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]  # noqa: S608
            for t in tables
        }
        if drop:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return dict(sorted(rows.items()))


# What the loader stamps with its own clock, which differs from run to run.
LOAD_TIME_COLUMNS = (
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_sync_started_at",
)


def postgres_content(schema: str) -> dict[str, dict[str, Any]]:
    """Per table: rows, an md5 of its rows (as JSON, sorted) without LOAD_TIME_COLUMNS, the
    column types, and the rows that have each `_sdc_` column set. Numbers are compared as
    values: a numeric keeps the scale it was written with (COPY writes 80 as 80.0), and
    `trim_scale` drops the trailing zeros, not a digit of the value."""
    drop = " ".join(f"- '{c}'" for c in LOAD_TIME_COLUMNS)
    out: dict[str, dict[str, Any]] = {}
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        columns: dict[str, dict[str, str]] = {}
        for table, column, kind in conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, column_name",
            (schema,),
        ):
            columns.setdefault(table, {})[column] = kind
        for table, types in sorted(columns.items()):
            values = ", ".join(
                f'trim_scale("{c}") AS "{c}"' if kind == "numeric" else f'"{c}"'
                for c, kind in types.items()
            )
            rows, digest = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(x, chr(10) ORDER BY x), '')) "  # noqa: S608
                f"FROM (SELECT (to_jsonb(r) {drop})::text AS x "
                f'FROM (SELECT {values} FROM "{schema}"."{table}") r) s'
            ).fetchone()
            sdc = [c for c in types if c.startswith("_sdc_")]
            counts = (
                conn.execute(
                    "SELECT "  # noqa: S608
                    + ", ".join(f'count("{c}")' for c in sdc)
                    + f' FROM "{schema}"."{table}"'
                ).fetchone()
                if sdc
                else ()
            )
            out[table] = {
                "rows": rows,
                "md5": digest,
                "types": types,
                "sdc_set": dict(zip(sdc, counts, strict=True)),
            }
    return out


def content_differences(a: dict[str, dict], b: dict[str, dict]) -> list[str]:
    """What differs between two postgres_content results, one line per table."""
    out = []
    for table in sorted(set(a) | set(b)):
        x, y = a.get(table), b.get(table)
        if x is None or y is None:
            out.append(f"{table}: only in one")
            continue
        for key in ("rows", "md5", "types", "sdc_set"):
            if x[key] != y[key]:
                out.append(f"{table}: {key} {x[key]} != {y[key]}")
    return out


def duckdb_rows(path: Path, schema: str = "pipedrive") -> dict[str, int]:
    """Rows per table of this schema in the DuckDB file (then the file is removed)."""
    import duckdb

    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [schema],
            ).fetchall()
        ]
        rows = {
            t: db.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]  # noqa: S608
            for t in tables
        }
    path.unlink()
    return dict(sorted(rows.items()))


class Warehouse:
    """A fresh place for one run to load into: a PostgreSQL schema or a DuckDB file."""

    def __init__(self, loader: str, work: Path) -> None:
        self.loader = loader
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.path = work / f"{self.schema}.duckdb"

    def env(self) -> dict[str, str]:
        if self.loader == "target-postgres":
            return {"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema}
        return {"TARGET_DUCKDB_FILEPATH": str(self.path)}

    def config(self, base: dict[str, Any]) -> dict[str, Any]:
        if self.loader == "target-postgres":
            return {**base, "default_target_schema": self.schema}
        return {**base, "filepath": str(self.path)}

    def rows(self) -> dict[str, int]:
        if self.loader == "target-postgres":
            return postgres_rows(self.schema)
        return duckdb_rows(self.path)


# -- the runs -------------------------------------------------------------------------------


def plugin_executable(kind: str, name: str) -> str:
    return str(ROOT / ".meltano" / kind / name / "venv" / "bin" / name)


class Project:
    """The repository's Meltano project pointed at one sandbox, each run with a system database
    of its own (so each `meltano run` is a first, full sync)."""

    def __init__(self, sb: harness.SandboxProcess, work: Path, **tap_settings: str) -> None:
        self.sb, self.work, self.tap_settings = sb, work, tap_settings

    def env(self, **extra: str) -> dict[str, str]:
        run_dir = Path(tempfile.mkdtemp(dir=self.work))
        tap = {f"TAP_PIPEDRIVE_{k.upper()}": str(v) for k, v in self.tap_settings.items()}
        return environment(
            run_dir,
            self.sb,
            TAP_PIPEDRIVE_API_URL=self.sb.api_url,
            TAP_PIPEDRIVE_API_TOKEN=self.sb.token,
            TAP_PIPEDRIVE_ANCHOR_DATE=ANCHOR,
            **tap,
            **extra,
        )

    def dump(self, what: str, plugin: str) -> dict[str, Any]:
        """The config or catalog Meltano gives a plugin (`meltano invoke --dump=...`)."""
        result = meltano(self.env(), "invoke", f"--dump={what}", plugin)
        if result.returncode:
            raise RuntimeError(f"meltano invoke --dump={what} {plugin}: {result.stderr[-2000:]}")
        return json.loads(result.stdout)


def _row(m: Measured, **fields: Any) -> dict[str, Any]:
    rows = fields.pop("per_table", None)
    row: dict[str, Any] = {**fields, "seconds": round(m.seconds, 2)}
    if rows is not None:
        row["rows"] = sum(rows.values())
        row["records_per_s"] = round(row["rows"] / m.seconds) if m.seconds else 0
        row["per_table"] = rows
    row.update(
        returncodes=m.returncodes,
        processes=m.roles,
        sandbox_cpu_s=m.sandbox_cpu_s,
        postgres_cpu_s=m.postgres_cpu_s,
        machine_busy=m.machine_busy,
        other_cpu_s=m.other_cpu_s,
        **m.extra,
    )
    if any(m.returncodes):
        row["stderr_tail"] = m.stderr_tail
    return row


def _stats(sb: harness.SandboxProcess) -> dict[str, Any]:
    s = sb.stats()
    return {
        "requests": s["requests"],
        "answered_429": s["status"].get("429", 0),
        "max_requests_in_2s": s.get("max_requests_in_2s"),
    }


def _fresh(sb: harness.SandboxProcess, limited: bool) -> None:
    if limited:
        time.sleep(2.1)  # the previous run's requests leave the rate window
    sb.reset_stats()


def count_records(path: Path) -> dict[str, int]:
    counts: Counter = Counter()
    with path.open("rb") as lines:
        for line in lines:
            match = harness.RECORD.match(line)
            if match:
                counts[match[1].decode()] += 1
    return dict(sorted(counts.items()))


def meltano_run(project: Project, loader: str, scenario: dict, limited: bool) -> dict[str, Any]:
    """`meltano run tap-pipedrive <loader>`: a first run (its own system database)."""
    warehouse = Warehouse(loader, project.work)
    _fresh(project.sb, limited)
    m = measure(
        [
            {
                "args": [MELTANO, "run", "tap-pipedrive", loader],
                "cwd": ROOT,
                "env": project.env(**warehouse.env()),
            }
        ],
        project.sb,
    )
    m.extra.update(_stats(project.sb))
    return _row(
        m,
        **scenario,
        contender="ours",
        mode="meltano run",
        loader=loader,
        per_table=warehouse.rows(),
    )


def tap_alone(
    spec: dict[str, Any],
    out: Path,
    sb: harness.SandboxProcess,
    scenario: dict,
    contender: str,
    limited: bool,
) -> dict[str, Any]:
    """A tap's run with its output into a file, then its records counted."""
    _fresh(sb, limited)
    with out.open("wb") as sink:
        m = measure([{**spec, "stdout": sink}], sb)
    m.extra.update(_stats(sb))
    records = count_records(out)
    total = sum(records.values())
    return _row(
        m,
        **scenario,
        contender=contender,
        mode="tap alone, into a file",
        loader=None,
        records=total,
        records_per_s=round(total / m.seconds) if m.seconds else 0,
        per_stream=records,
    )


def loader_alone(
    loader: str, base: dict, tap_output: Path, work: Path, scenario: dict, contender: str
) -> dict[str, Any]:
    """The loader fed a tap's output from a file."""
    warehouse = Warehouse(loader, work)
    config = harness.write_json(work / f"{warehouse.schema}.json", warehouse.config(base))
    with tap_output.open("rb") as feed:
        m = measure(
            [{"args": [plugin_executable("loaders", loader), "--config", config], "stdin": feed}],
            None,
        )
    return _row(
        m,
        **scenario,
        contender=contender,
        mode="loader alone, from the tap's output",
        loader=loader,
        per_table=warehouse.rows(),
    )


def piped(
    tap: dict[str, Any],
    base: dict,
    sb: harness.SandboxProcess,
    work: Path,
    scenario: dict,
    contender: str,
    limited: bool,
) -> dict[str, Any]:
    """A tap's stdout straight into target-postgres's stdin, no Meltano between."""
    warehouse = Warehouse("target-postgres", work)
    config = harness.write_json(work / f"{warehouse.schema}.json", warehouse.config(base))
    _fresh(sb, limited)
    loader = [plugin_executable("loaders", "target-postgres"), "--config", config]
    m = measure([{**tap, "pipe": True}, {"args": loader}], sb)
    m.extra.update(_stats(sb))
    return _row(
        m,
        **scenario,
        contender=contender,
        mode="piped into the loader (no Meltano)",
        loader="target-postgres",
        per_table=warehouse.rows(),
    )


@dataclass
class Setup:
    """What every scenario needs once: the loaders' base config as Meltano gives it, and the
    peer's interpreter."""

    loader_config: dict[str, dict[str, Any]]
    peer_python: Path


def scenario_runs(
    sb: harness.SandboxProcess,
    work: Path,
    setup: Setup,
    scenario: dict[str, Any],
    loaders: tuple[str, ...],
    detail: bool,
    **tap_settings: str,
) -> list[dict[str, Any]]:
    limited = scenario["plan"] is not None
    project = Project(sb, work, **tap_settings)
    rows = []
    for loader in loaders:
        print(f"#   meltano run tap-pipedrive {loader}", file=sys.stderr, flush=True)
        rows.append(meltano_run(project, loader, scenario, limited))
    # Our tap as Meltano runs it (its venv, config and catalog), alone.
    config = harness.write_json(work / "tap-config.json", project.dump("config", "tap-pipedrive"))
    catalog = harness.write_json(
        work / "tap-catalog.json", project.dump("catalog", "tap-pipedrive")
    )
    tap_argv = [
        plugin_executable("extractors", "tap-pipedrive"),
        "--config",
        config,
        "--catalog",
        catalog,
    ]
    output = work / "tap-output.jsonl"
    print("#   our tap alone", file=sys.stderr, flush=True)
    rows.append(tap_alone({"args": tap_argv}, output, sb, scenario, "ours", limited))
    if detail:
        for loader in loaders:
            print(f"#   {loader} alone", file=sys.stderr, flush=True)
            rows.append(
                loader_alone(loader, setup.loader_config[loader], output, work, scenario, "ours")
            )
        print("#   our tap | target-postgres", file=sys.stderr, flush=True)
        rows.append(
            piped(
                {"args": tap_argv},
                setup.loader_config["target-postgres"],
                sb,
                work,
                scenario,
                "ours",
                limited,
            )
        )
    output.unlink(missing_ok=True)
    # The peer, with the streams it can read here.
    peer_tap, streams = _peer_tap(sb, work, setup)
    if not limited:
        print("#   the peer alone", file=sys.stderr, flush=True)
        rows.append(tap_alone(peer_tap, output, sb, scenario, "peer", limited))
        output.unlink(missing_ok=True)
    print("#   the peer | target-postgres", file=sys.stderr, flush=True)
    rows.append(
        piped(peer_tap, setup.loader_config["target-postgres"], sb, work, scenario, "peer", limited)
    )
    for row in rows:
        row["streams"] = sorted(streams) if row["contender"] == "peer" else "default selection"
    return rows


def _peer_tap(
    sb: harness.SandboxProcess, work: Path, setup: Setup
) -> tuple[dict[str, Any], set[str]]:
    """The peer's command (with the streams it can read here, selected), and those streams."""
    peer_config = peer.write_config(work, sb.token, ANCHOR)
    found = peer.peer_catalog(setup.peer_python, sb.api_url, peer_config, set(), work)
    streams = set(peer.peer_streams(found)) - set(PEER_LEFT_OUT)
    peer_catalog = harness.write_json(work / "peer-catalog.json", harness.select(found, streams))
    command = {
        "args": [*peer._argv(setup.peer_python, peer_config), "--catalog", peer_catalog],
        "env": {**os.environ, "PEER_BASE_URL": sb.api_url},
        "cwd": work,
    }
    return command, streams


def _with_root(settings: dict[str, Any], root: str) -> dict[str, Any]:
    return json.loads(json.dumps(settings).replace("{batch_root}", root))


def _env_settings(prefix: str, settings: dict[str, Any]) -> dict[str, str]:
    return {
        f"{prefix}_{k.upper()}": json.dumps(v) if isinstance(v, dict | bool) else str(v)
        for k, v in settings.items()
    }


def _chosen(only: list[str] | None) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """VARIANTS, or those named in `only` (in VARIANTS' order; the first is the reference)."""
    unknown = set(only or ()) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")
    return {k: v for k, v in VARIANTS.items() if not only or k in only}


def variant_runs(
    sb: harness.SandboxProcess,
    work: Path,
    setup: Setup,
    scenario: dict,
    only: list[str] | None = None,
    **tap_settings: str,
) -> list[dict[str, Any]]:
    """Each of VARIANTS: ours through `meltano run`, the peer piped, into target-postgres; the
    warehouse's content compared with the first variant's."""
    project = Project(sb, work, **tap_settings)
    rows: list[dict[str, Any]] = []
    first: dict[str, dict[str, Any]] = {}
    for name, (tap_variant, loader) in _chosen(only).items():
        batch_root = work / f"batch-{uuid.uuid4().hex[:8]}"
        tap = _with_root(tap_variant, batch_root.as_uri())
        warehouse = Warehouse("target-postgres", work)
        env = project.env(
            **warehouse.env(),
            **_env_settings("TAP_PIPEDRIVE", tap),
            **_env_settings("TARGET_POSTGRES", loader),
        )
        print(f"#   {name}: meltano run tap-pipedrive target-postgres", file=sys.stderr, flush=True)
        _fresh(sb, False)
        run = [MELTANO, "run", "tap-pipedrive", "target-postgres"]
        m = measure([{"args": run, "cwd": ROOT, "env": env}], sb)
        m.extra.update(_stats(sb))
        content = postgres_content(warehouse.schema)
        files = sorted(batch_root.glob("*")) if batch_root.exists() else []
        m.extra["batch_files"] = len(files)
        m.extra["batch_mb"] = round(sum(f.stat().st_size for f in files) / 2**20, 1)
        for f in files:
            f.unlink()
        first = first or content
        rows.append(_variant_row(m, scenario, name, warehouse, content, first, "ours"))
    peer_tap, _ = _peer_tap(sb, work, setup)
    seen: list[dict[str, Any]] = []
    first = {}
    for name, (_, loader) in _chosen(only).items():
        base = {"validate_records": True, **setup.loader_config["target-postgres"], **loader}
        if base in seen:
            continue  # the peer writes RECORD messages only: the same run as before
        seen.append(base)
        print(f"#   {name}: the peer | target-postgres", file=sys.stderr, flush=True)
        warehouse = Warehouse("target-postgres", work)
        config = harness.write_json(work / f"{warehouse.schema}.json", warehouse.config(base))
        _fresh(sb, False)
        loader_argv = [plugin_executable("loaders", "target-postgres"), "--config", config]
        m = measure([{**peer_tap, "pipe": True}, {"args": loader_argv}], sb)
        m.extra.update(_stats(sb))
        content = postgres_content(warehouse.schema)
        first = first or content
        rows.append(_variant_row(m, scenario, name, warehouse, content, first, "peer"))
    return rows


def _variant_row(
    m: Any,
    scenario: dict[str, Any],
    variant: str,
    warehouse: Any,
    content: Any,
    first: Any,
    contender: str,
) -> dict[str, Any]:
    """One variant's row, its warehouse compared with the first variant's."""
    m.extra["content"] = content_differences(first, content) or "same as the first"
    mode = "meltano run" if contender == "ours" else "piped into the loader (no Meltano)"
    return _row(
        m,
        **scenario,
        contender=contender,
        mode=mode,
        variant=variant,
        loader="target-postgres",
        per_table=warehouse.rows(),
    )


def variants_table(rows: list[dict[str, Any]]) -> list[str]:
    """A markdown table of the variant rows."""
    out = [
        "| records | contender | variant | wall s | rows | records/s | tap CPU s | loader CPU s "
        "| content |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        procs = row["processes"]
        content = row.get("content")
        content = content if isinstance(content, str) else f"DIFFERS: {'; '.join(content[:5])}"
        failed = f" (exit {row['returncodes']})" if any(row["returncodes"]) else ""
        out.append(
            f"| {row['target_records']:,} | {row['contender']} | {row['variant']}{failed} "
            f"| {row['seconds']} | {row['rows']:,} | {row['records_per_s']:,} "
            f"| {procs.get('tap', {}).get('cpu_s', 0)} | {procs.get('loader', {}).get('cpu_s', 0)} "
            f"| {content} |"
        )
    return out


def compare_variants(sizes: list[int], work: Path, only: list[str] | None = None) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    setup: Setup | None = None
    for records in sizes:
        scenario = {"target_records": records, "plan": None, "limit_per_2s": None, "latency_ms": 0}
        print(f"# variants: {scenario}", file=sys.stderr, flush=True)
        with harness.sandbox("large", counts=harness.scaled_counts(records)) as sb:
            setup = setup or _setup(sb, work)
            rows += variant_runs(sb, work, setup, scenario, only, max_requests_per_2s="10000")
    return {"source": source(), "loaders": loader_pins(), "rows": rows}


def source() -> dict[str, Any]:
    """The commit the tap was measured at, and the plugins' files changed since (the tap runs
    from this checkout: meltano.yml installs it with `-e .`)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    changed = git("status", "--porcelain", "--", "tap_pipedrive", "pipedrive_client")
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed": changed.splitlines()}


def loader_pins() -> dict[str, str]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return {p["name"]: p["pip_url"] for p in project["plugins"]["loaders"] if p["name"] in LOADERS}


def compare(sizes: Sizes, work: Path) -> dict[str, Any]:
    """Every scenario of `sizes`; the rows of results.json's `pipeline`."""
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    setup: Setup | None = None
    scenarios: list[tuple[int, str | None]] = [(n, None) for n in sizes.records]
    if sizes.latency_records:
        scenarios += [(sizes.latency_records, plan) for plan in sizes.plans]
    for records, plan in scenarios:
        latency = LATENCY_S if plan else 0.0
        faults = f"latency={latency}" if plan else None
        scenario = {
            "target_records": records,
            "plan": plan,
            "limit_per_2s": PLAN_BURST_LIMITS[plan] if plan else None,
            "latency_ms": round(latency * 1000),
        }
        print(f"# pipeline: {scenario}", file=sys.stderr, flush=True)
        counts = harness.scaled_counts(records)
        with harness.sandbox("large", counts=counts, plan=plan, faults=faults) as sb:
            if setup is None:
                setup = _setup(sb, work)
            if plan:
                tap_settings = {"plan": plan}
                loaders, detail = sizes.latency_loaders, False
            else:
                tap_settings = {"max_requests_per_2s": "10000"}
                loaders, detail = LOADERS, records <= sizes.detail_max
            for row in scenario_runs(sb, work, setup, scenario, loaders, detail, **tap_settings):
                row["sandbox_start_s"] = round(sb.started_in, 1)
                rows.append(row)
    return {
        "source": source(),
        "loaders": loader_pins(),
        "peer": f"{peer.PACKAGE} {peer.VERSION}",
        "peer_left_out": PEER_LEFT_OUT,
        "poll_s": POLL_S,
        "rows": rows,
    }


def _setup(sb: harness.SandboxProcess, work: Path) -> Setup:
    """Install the plugins (quick when they are there) and read the loaders' config."""
    env = environment(Path(tempfile.mkdtemp(dir=work)), sb)
    install(env, "tap-pipedrive", *LOADERS)
    project = Project(sb, work)
    return Setup(
        loader_config={loader: project.dump("config", loader) for loader in LOADERS},
        peer_python=peer.ensure_peer_venv(),
    )


def _sizes(text: str) -> list[int]:
    """'100000,1000000' or '100_000'; 0 alone: none (only the rate-limited runs)."""
    sizes = [int(part.strip().replace("_", "")) for part in text.split(",") if part.strip()]
    return [n for n in sizes if n > 0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 records: a smoke run")
    parser.add_argument("--records", help="zero-latency sizes, e.g. 100000,1000000 (0: none)")
    parser.add_argument(
        "--latency-records", type=int, help="size of the rate-limited runs (0: none)"
    )
    parser.add_argument("--detail-max", type=int, help="loaders alone and piped runs up to this")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument(
        "--variants", action="store_true", help="the ways of loading (VARIANTS) side by side"
    )
    parser.add_argument(
        "--only", action="append", help="with --variants: only this variant (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.variants:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="pipeline-") as tmp:
            result = compare_variants(_sizes(args.records or "2000"), Path(tmp), args.only)
        result["seconds"] = round(time.perf_counter() - started)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2, default=str))
        print("\n".join(variants_table(result["rows"])))
        return 0
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(
        records=_sizes(args.records) if args.records else sizes.records,
        latency_records=(
            sizes.latency_records if args.latency_records is None else args.latency_records
        ),
        detail_max=sizes.detail_max if args.detail_max is None else args.detail_max,
        latency_loaders=sizes.latency_loaders,
        plans=sizes.plans,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pipeline-") as tmp:
        result = compare(sizes, Path(tmp))
    result["seconds"] = round(time.perf_counter() - started)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    import report

    print("\n".join(report.pipeline_section(result)))
    print(
        report.table(
            ["goal", "measured", "verdict"], [list(g) for g in report.pipeline_goals(result)]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
