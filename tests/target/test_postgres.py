"""The PostgreSQL ledger, for scheduled multi-worker setups (PostgreSQL at 127.0.0.1:5432 is
always present in CI: these tests never skip)."""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .feed import config, run, singer_lines, spread
from .written import activities_by_message, assert_no_duplicates

pytestmark = pytest.mark.postgres

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
TARGET = str(Path(sys.executable).parent / "target-pipedrive")
ENTITIES = ("organizations", "persons", "leads", "deals", "activities")


@pytest.fixture
def ledger_url() -> Iterator[str]:
    """A ledger in a schema of its own, dropped afterwards."""
    schema = f"target_pd_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{SERVER}?options=-csearch_path%3D{schema}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _done(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pd_messages WHERE status = 'done'").fetchone()
    return row[0]


def test_postgres_ledger_makes_the_rerun_a_no_op(sandbox_factory, tmp_path, ledger_url) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path, ledger=ledger_url)
    run(cfg, spread(12))
    first = {e: sb.count(e) for e in ENTITIES}
    run(cfg, spread(12))
    assert {e: sb.count(e) for e in ENTITIES} == first
    assert _done(ledger_url) == 12


def test_two_workers_on_one_ledger_write_everything_once(
    sandbox_factory, tmp_path, ledger_url
) -> None:
    """Two scheduled runs that overlap, on the same input: they take turns on the ledger."""
    sb = sandbox_factory(faults="latency=0.005")
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(json.dumps(config(sb, tmp_path, ledger=ledger_url)))
    msgs = spread(30)
    workers = [
        subprocess.Popen(
            [TARGET, "--config", str(cfg_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.stdin.write(singer_lines(msgs))
        worker.stdin.close()
    for worker in workers:
        assert worker.wait(timeout=120) == 0, worker.stderr.read()[-2000:]
        worker.stderr.close()
    assert activities_by_message(sb) == {m["id"]: 1 for m in msgs}
    assert_no_duplicates(sb)
    assert _done(ledger_url) == 30


def test_dry_run_leaves_the_postgres_ledger_alone(sandbox_factory, tmp_path, ledger_url) -> None:
    sb = sandbox_factory()
    run(config(sb, tmp_path, ledger=ledger_url), spread(6))
    before = {e: sb.count(e) for e in ENTITIES}
    intended = tmp_path / "intended.jsonl"
    more = [*spread(6), *spread(12)[6:]]
    run(config(sb, tmp_path, ledger=ledger_url, dry_run=True, dry_run_file=str(intended)), more)
    assert {e: sb.count(e) for e in ENTITIES} == before
    assert _done(ledger_url) == 6
    operations = [json.loads(line) for line in intended.read_text().splitlines()]
    assert sum(p["op"] == "create_activity" for p in operations) == 6  # only the six new messages


def test_moving_to_a_new_postgres_ledger_doubles_nothing(
    sandbox_factory, tmp_path, ledger_url
) -> None:
    """The recommended move for scheduled runs: runs on the default SQLite file, then the same
    input with a new, empty PostgreSQL ledger. Nothing is written twice, no counter goes down."""
    sb = sandbox_factory()
    msgs = spread(20)
    codes = run(config(sb, tmp_path), msgs).writer.field_codes
    made = {e: sb.count(e) for e in ENTITIES}
    fields = {pid: sb.store.get("persons", pid)["custom_fields"] for pid in sb.ids("persons")}
    sb.reset_stats()
    run(config(sb, tmp_path, ledger=ledger_url), msgs)
    assert {e: sb.count(e) for e in ENTITIES} == made
    assert activities_by_message(sb) == {m["id"]: 1 for m in msgs}
    assert "PATCH /api/v2/persons/{id}" not in sb.stats()["by_endpoint"]
    for pid, values in fields.items():
        assert sb.store.get("persons", pid)["custom_fields"].get(codes["thread_count"]) == (
            values.get(codes["thread_count"])
        )
    assert _done(ledger_url) == 20
