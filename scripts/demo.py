"""The demo: Meltano loads a local Pipedrive sandbox into an embedded DuckDB warehouse, writes a
sample mailbox back to Pipedrive, shows that an incremental run moves only the changes, loads
the deals' stage moves, builds the dbt models in transform/ there (dbt-duckdb) and draws the
pipeline funnel and the time in stage into demo-output/ (funnel.png, time_in_stage.png).

Run from the repository root (README.md gives the one command that prepares .venv first):
    .venv/bin/python scripts/demo.py

Set DEMO_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to load the same
data into PostgreSQL with target-postgres as well. The sandbox is stopped whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import requests
from demo_charts import draw, funnel_table

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
BIN = Path(sys.executable).parent
WAREHOUSE = OUT / "warehouse.duckdb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox() -> tuple[subprocess.Popen, str, str]:
    cmd = [
        str(BIN / "pipedrive-sandbox"),
        "--port",
        str(free_port()),
        "--seed",
        "1",
        "--size",
        "small",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    settings: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(settings) < 2 and time.monotonic() < deadline:
        key, _, value = proc.stdout.readline().strip().partition("=")
        if key in ("api_url", "token"):
            settings[key] = value
    if len(settings) < 2:
        proc.kill()
        sys.exit("The sandbox did not start.")
    return proc, settings["api_url"], settings["token"]


def meltano(env: dict, *args: str) -> str:
    """Run a Meltano command; on failure show its last lines and stop."""
    result = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        sys.exit(f"meltano {' '.join(args)} failed")
    return result.stdout + result.stderr


def emitted(log: str) -> dict[str, int]:
    """Records per stream from the tap's end-of-run summary line."""
    match = re.findall(r"Records per stream: ([^\n]*)", log)
    pairs = re.findall(r"([a-z_]+) (\d+)", match[-1]) if match else []
    return {name: int(n) for name, n in pairs}


def table_counts() -> dict[str, int]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        tables = [
            t
            for (t,) in db.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'pipedrive' ORDER BY 1"
            ).fetchall()
        ]
        return {
            t: db.execute(f'SELECT count(*) FROM pipedrive."{t}"').fetchone()[0] for t in tables
        }


def show(title: str, counts: dict[str, int]) -> None:
    print(f"\n{title}")
    for name, n in sorted(counts.items()):
        print(f"  {name:<22} {n:>7}")
    print(f"  {'total':<22} {sum(counts.values()):>7}")


def transform(env: dict, admin: str) -> None:
    """The deals' stage moves, the dbt models over the warehouse, and the pictures."""
    print(
        "\n$ meltano run --state-id-suffix history tap-pipedrive target-duckdb"
        "   (deals and deal_stage_changes: one change-log request per deal)"
    )
    requests.post(f"{admin}/reset-stats", timeout=10)
    history = {**env, "TAP_PIPEDRIVE__SELECT": '["deals.*", "deal_stage_changes.*"]'}
    meltano(history, "run", "--state-id-suffix", "history", "tap-pipedrive", "target-duckdb")
    stats = requests.get(f"{admin}/stats", timeout=10).json()
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        moves, deals = db.execute(
            "SELECT count(*), count(DISTINCT deal_id) FROM pipedrive.deal_stage_changes"
        ).fetchone()
    print(f"  {moves} stage moves of {deals} deals")
    print(f"  API cost: {stats['requests']} requests, {stats['tokens']} tokens")

    print("\n$ meltano run dbt-duckdb:build   (the models in transform/ and their tests)")
    log = meltano(env, "run", "dbt-duckdb:build")
    done = re.findall(r"Done\. (PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+)", log)
    print(f"  dbt: {done[-1] if done else 'done'} (25 models, the rest tests)")
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        built = db.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables "
            "WHERE table_schema LIKE 'pipedrive_analytics%' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    print("  " + ", ".join(f"{schema}: {n} tables" for schema, n in built))

    pictures, funnel = draw(WAREHOUSE, OUT, "the sandbox's small company (seed 1)")
    print("\nThe funnel drawn (pipedrive_analytics.pipeline_funnel):")
    print(funnel_table(funnel))
    print("\nPictures:")
    for picture in pictures:
        print(f"  {picture.relative_to(ROOT)}")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    sandbox, api_url, token = start_sandbox()
    admin = f"{api_url}/_admin"
    try:
        print(f"Sandbox running at {api_url} (a generated company, seed 1, size small)")
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MELTANO_DATABASE_URI": f"sqlite:///{OUT}/meltano.db",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_ENVIRONMENT": "dev",
            "TAP_PIPEDRIVE_API_URL": api_url,
            "TAP_PIPEDRIVE_API_TOKEN": token,
            "TARGET_PIPEDRIVE_API_URL": api_url,
            "TARGET_PIPEDRIVE_API_TOKEN": token,
            "TARGET_PIPEDRIVE_LEDGER": str(OUT / "ledger.db"),
            "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE),
            # dbt-duckdb builds the models in the same warehouse; its files stay in demo-output.
            "DBT_DUCKDB_PATH": str(WAREHOUSE),
            "DBT_DUCKDB_TARGET_PATH": str(OUT / "dbt-target"),
            "DBT_DUCKDB_LOG_PATH": str(OUT / "dbt-logs"),
        }
        print("Installing the Meltano plugins (tap, targets, email source, dbt)...")
        meltano(env, "install")

        print("\n$ meltano run tap-pipedrive target-duckdb")
        meltano(env, "run", "tap-pipedrive", "target-duckdb")
        show("Warehouse rows per table (DuckDB, schema pipedrive)", table_counts())
        stats = requests.get(f"{admin}/stats", timeout=10).json()
        print(f"  API cost: {stats['requests']} requests, {stats['tokens']} tokens")

        print("\n$ meltano run tap-emails target-pipedrive   (demo/emails.jsonl, 17 emails)")
        before = requests.get(f"{admin}/counts", timeout=10).json()
        meltano(env, "run", "tap-emails", "target-pipedrive")
        after = requests.get(f"{admin}/counts", timeout=10).json()
        print("Created in Pipedrive by the email write-back:")
        for entity in ("organizations", "persons", "leads", "deals", "activities", "person_fields"):
            print(f"  {entity:<22} {after[entity] - before[entity]:>7}")

        changes = [
            ("update", "deals", 5),
            ("update", "persons", 5),
            ("delete", "deals", 2),
            ("create", "organizations", 3),
        ]
        for action, entity, n in changes:
            body = {"action": action, "entity": entity, "n": n}
            requests.post(f"{admin}/churn", json=body, timeout=10).raise_for_status()
        print("\nChanged in the sandbox: " + ", ".join(f"{a} {n} {e}" for a, e, n in changes))
        requests.post(f"{admin}/reset-stats", timeout=10)
        print("\n$ meltano run tap-pipedrive target-duckdb   (incremental, state from Meltano)")
        log = meltano(env, "run", "tap-pipedrive", "target-duckdb")
        moved = {
            k: v
            for k, v in emitted(log).items()
            if not k.endswith("_fields")
            and k
            not in (
                "pipelines",
                "stages",
                "users",
                "activity_types",
                "lead_labels",
                "currencies",
                "filters",
            )
        }
        show(
            "Records moved by the incremental run (main streams; reference lists are re-read "
            "whole)",
            moved,
        )
        stats = requests.get(f"{admin}/stats", timeout=10).json()
        print(f"  API cost: {stats['requests']} requests, {stats['tokens']} tokens")
        with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
            deleted = db.execute(
                "SELECT count(*) FROM pipedrive.deals WHERE _sdc_deleted_at IS NOT NULL"
            ).fetchone()[0]
        print(f"  deals marked deleted in the warehouse (_sdc_deleted_at): {deleted}")

        transform(env, admin)

        if os.environ.get("DEMO_POSTGRES_URL"):
            pg_env = {**env, "TARGET_POSTGRES_SQLALCHEMY_URL": os.environ["DEMO_POSTGRES_URL"]}
            print("\n$ meltano run tap-pipedrive target-postgres")
            log = meltano(pg_env, "run", "--full-refresh", "tap-pipedrive", "target-postgres")
            show("Records loaded into PostgreSQL (schema pipedrive)", emitted(log))
        print(f"\nWarehouse: {WAREHOUSE.relative_to(ROOT)}; Meltano state: demo-output/meltano.db")
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()
        print("Sandbox stopped.")


if __name__ == "__main__":
    main()
