"""End to end through real Meltano: the sandbox -> tap-pipedrive -> target-postgres, the reference
refresh, the email write-back, and a wrong token. Needs PostgreSQL at 127.0.0.1:5432 (database
`test`, trust auth), as in CI."""

from __future__ import annotations

import json
import subprocess
import uuid

import psycopg
import pytest
import requests

from pipedrive_sandbox import Sandbox
from pipedrive_sandbox.meltano_project import environment, meltano

from .conftest import UNPACED

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
MAIN = ["deals", "persons", "organizations", "activities", "products", "leads", "notes", "files"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, meltano_installed):
    """Meltano in the repository's project, with its own system database and warehouse schema."""
    tmp = tmp_path_factory.mktemp("meltano")
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    sandbox = Sandbox(seed=5, size="small").start()
    env = environment(
        tmp,
        sandbox,
        TAP_PIPEDRIVE_API_URL=sandbox.api_url,
        TAP_PIPEDRIVE_API_TOKEN=sandbox.token,
        TAP_PIPEDRIVE_ANCHOR_DATE="2020-01-01",
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
        **UNPACED,
    )
    yield {"env": env, "sandbox": sandbox, "schema": schema}
    sandbox.stop()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run(project: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return meltano({**project["env"], **(env or {})}, *args)


def rows(project: dict, sql: str) -> list[tuple]:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute(sql.format(schema=project["schema"])).fetchall()


def expected(sb: Sandbox, entity: str) -> set:
    if entity in ("pipelines", "stages", "users"):
        return set(sb.ids(entity))
    if entity in ("deals", "leads"):
        return set(sb.ids(entity, include_deleted=entity == "deals"))
    return set(sb.ids(entity))


def test_full_load_then_incremental_with_churn(project) -> None:
    sb: Sandbox = project["sandbox"]
    first = run(project, "run", "tap-pipedrive", "target-postgres")
    assert first.returncode == 0, first.stderr[-3000:]
    for table in MAIN:
        ids = {r[0] for r in rows(project, f"SELECT id FROM {{schema}}.{table}")}
        assert ids == {str(i) if table == "leads" else i for i in expected(sb, table)}, table
    for table in ("pipelines", "stages", "users", "deal_fields"):
        assert rows(project, f"SELECT count(*) FROM {{schema}}.{table}")[0][0] > 0

    updated = sb.churn.update("deals", n=4)
    created = sb.churn.create("persons", n=3)
    deleted = sb.churn.delete("deals", n=2)
    sb.reset_stats()
    second = run(project, "run", "tap-pipedrive", "target-postgres")
    assert second.returncode == 0, second.stderr[-3000:]
    assert sb.stats()["requests"] <= 30  # incremental: state came from Meltano's system db
    titles = dict(rows(project, "SELECT id, title FROM {schema}.deals"))
    assert all(titles[i].endswith("(edited)") for i in updated)
    persons = {r[0] for r in rows(project, "SELECT id FROM {schema}.persons")}
    assert set(created) <= persons
    gone = dict(rows(project, "SELECT id, _sdc_deleted_at FROM {schema}.deals"))
    assert all(gone[i] is not None for i in deleted)
    for table in MAIN:
        dupes = rows(project, f"SELECT id FROM {{schema}}.{table} GROUP BY id HAVING count(*) > 1")
        assert dupes == [], table
    state = run(project, "state", "list")
    assert "tap-pipedrive-to-target-postgres" in state.stdout


def test_embedded_duckdb_warehouse_gets_every_row(project, tmp_path) -> None:
    import duckdb

    sb: Sandbox = project["sandbox"]
    warehouse = tmp_path / "warehouse.duckdb"
    result = run(
        project,
        "run",
        "tap-pipedrive",
        "target-duckdb",
        env={
            "TARGET_DUCKDB_FILEPATH": str(warehouse),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for table in ("deals", "leads", "notes", "pipelines", "stages", "users"):
            count = db.execute(f"SELECT count(DISTINCT id) FROM pipedrive.{table}").fetchone()[0]
            assert count == len(expected(sb, table)), table


def test_reference_full_refresh_replaces_the_reference_tables(project) -> None:
    first = run(project, "run", "tap-pipedrive", "target-postgres")
    assert first.returncode == 0, first.stderr[-3000:]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {project['schema']}.stages (id, name) VALUES (9999, 'Stale')")
    result = run(project, "run", "--full-refresh", "tap-pipedrive-reference", "target-postgres")
    assert result.returncode == 0, result.stderr[-3000:]
    stale = rows(project, "SELECT _sdc_deleted_at FROM {schema}.stages WHERE id = 9999")
    assert stale == [] or stale[0][0] is not None  # removed or soft-deleted by the new version
    live = rows(project, "SELECT count(*) FROM {schema}.stages WHERE _sdc_deleted_at IS NULL")
    assert live[0][0] == project["sandbox"].count("stages")


def test_email_writeback_through_meltano(project) -> None:
    sb: Sandbox = project["sandbox"]
    before = {e: sb.count(e) for e in ("organizations", "persons", "deals", "activities")}
    result = run(project, "run", "tap-emails", "target-pipedrive")
    assert result.returncode == 0, result.stderr[-3000:]
    after = {e: sb.count(e) for e in before}
    assert after["activities"] - before["activities"] == 16  # 17 sample emails, one automated
    assert after["persons"] - before["persons"] == 8
    assert after["deals"] - before["deals"] == 2
    again = run(project, "run", "tap-emails", "target-pipedrive")
    assert again.returncode == 0
    assert {e: sb.count(e) for e in before} == after  # the rerun creates nothing


def test_wrong_token_fails_with_one_readable_line_and_no_token(project) -> None:
    secret = "wrong-token-5f1e2d3c4b5a6978"
    result = run(
        project, "run", "tap-pipedrive", "target-postgres", env={"TAP_PIPEDRIVE_API_TOKEN": secret}
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "rejected the API token" in output
    assert secret not in output


def test_the_connection_check_through_meltano_costs_one_request(project) -> None:
    sb: Sandbox = project["sandbox"]
    before = sb.stats()["requests"]
    result = run(project, "invoke", "tap-pipedrive", "--test")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Connection check: the API token was accepted." in result.stderr
    assert "Company: Sandbox Company" in result.stderr
    assert sb.stats()["requests"] - before == 1


def test_history_streams_and_their_cap_through_meltano(project) -> None:
    """deal_changes and deal_stage_changes into PostgreSQL under a small token cap: the backlog
    is kept in Meltano's state and worked off run after run, until every change entry of every
    deal is loaded once."""
    sb: Sandbox = project["sandbox"]
    history = {
        "TAP_PIPEDRIVE__SELECT": '["deals.*", "deal_changes.*", "deal_stage_changes.*"]',
        "TAP_PIPEDRIVE_HISTORY_MAX_TOKENS": "4000",  # 200 change-log pages a run
    }
    args = ("run", "--state-id-suffix", "history", "tap-pipedrive", "target-postgres")
    waiting = []  # whether a backlog was left, after each run
    while not waiting or (waiting[-1] and len(waiting) < 15):
        result = run(project, *args, env=history)
        assert result.returncode == 0, result.stderr[-3000:]
        state = run(project, "state", "get", "dev:tap-pipedrive-to-target-postgres:history")
        waiting.append("history_backlog" in state.stdout)
    assert waiting[0], "the cap left a backlog for later runs"
    assert not waiting[-1], "the backlog was worked off"
    entries = sum(len(sb.changelog("deals", i)) for i in sb.ids("deals", include_deleted=True))
    loaded = rows(project, "SELECT count(*), count(DISTINCT change_id) FROM {schema}.deal_changes")
    assert loaded[0] == (entries, entries)
    moves = rows(project, "SELECT count(DISTINCT deal_id) FROM {schema}.deal_stage_changes")
    assert moves[0][0] == len(sb.ids("deals", include_deleted=True))  # each has its first stage


RECONCILED = [*MAIN, "deal_products"]


def _live(project: dict) -> dict[str, set]:
    """Per reconciled table, the ids of rows not marked deleted (as text: leads have uuids)."""
    return {
        table: {
            str(r[0])
            for r in rows(
                project, f"SELECT id FROM {{schema}}.{table} WHERE _sdc_deleted_at IS NULL"
            )
        }
        for table in RECONCILED
    }


def _api(sb: Sandbox, method: str, path: str, **body) -> dict:
    answer = requests.request(
        method, sb.api_url + path, json=body or None, headers={"x-api-token": sb.token}, timeout=30
    )
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def _deletable(sb: Sandbox) -> dict[str, str]:
    """One record of each kind that nothing else hangs on, so its deletion retires it alone."""
    attached = {p["product_id"] for p in sb.store.tables["deal_products"].values()}
    product = next(i for i in sb.ids("products") if i not in attached)
    person, merged, survivor = sb.ids("persons")[-3:]
    deal = next(p["deal_id"] for p in sb.store.tables["deal_products"].values())
    attachment = next(
        p["id"] for p in sb.store.tables["deal_products"].values() if p["deal_id"] == deal
    )
    return {
        "persons": str(person),
        "organizations": str(sb.ids("organizations")[-1]),
        "activities": str(sb.ids("activities")[-1]),
        "products": str(product),
        "notes": str(sb.ids("notes")[-1]),
        "files": str(sb.ids("files")[-1]),
        "leads": str(sb.ids("leads", include_archived=False)[-1]),
        "deal_products": str(attachment),
        "deal": str(deal),
        "merged": str(merged),
        "survivor": str(survivor),
    }


def test_a_reconciliation_retires_exactly_what_was_deleted(project) -> None:
    """Deletes of every kind, a removed deal product and a merge, made through the API: after
    the weekly reconciliation job exactly those rows carry _sdc_deleted_at, and the next hourly
    run neither revives nor retires anything."""
    sb: Sandbox = project["sandbox"]
    reconcile = ("run", "deletes-reconciliation")
    first = run(project, *reconcile)
    assert first.returncode == 0, first.stderr[-3000:]
    hourly = run(project, "run", "tap-pipedrive", "target-postgres")
    assert hourly.returncode == 0, hourly.stderr[-3000:]
    before = _live(project)
    assert all(before.values())

    gone = _deletable(sb)
    for table, path in (
        ("persons", "/api/v2/persons/{}"),
        ("organizations", "/api/v2/organizations/{}"),
        ("activities", "/api/v2/activities/{}"),
        ("products", "/api/v2/products/{}"),
        ("notes", "/api/v1/notes/{}"),
        ("files", "/api/v1/files/{}"),
        ("leads", "/api/v1/leads/{}"),
    ):
        _api(sb, "DELETE", path.format(gone[table]))
    _api(sb, "DELETE", f"/api/v2/deals/{gone['deal']}/products/{gone['deal_products']}")
    _api(sb, "PUT", f"/api/v1/persons/{gone['merged']}/merge", merge_with_id=int(gone["survivor"]))
    expected = {table: {gone[table]} if table in gone else set() for table in RECONCILED}
    expected["persons"].add(gone["merged"])

    # Hourly runs cannot see these deletions; the reconciliation job does.
    assert run(project, "run", "tap-pipedrive", "target-postgres").returncode == 0
    assert _live(project) == before
    sb.reset_stats()
    result = run(project, *reconcile)
    assert result.returncode == 0, result.stderr[-3000:]
    after = _live(project)
    assert {table: before[table] - after[table] for table in RECONCILED} == expected
    assert all(after[table] <= before[table] for table in RECONCILED)  # nothing new revived
    assert gone["survivor"] in after["persons"]

    # The next hourly run leaves the deletions as they are.
    hourly = run(project, "run", "tap-pipedrive", "target-postgres")
    assert hourly.returncode == 0, hourly.stderr[-3000:]
    assert _live(project) == after
    state = run(project, "state", "list").stdout
    assert "tap-pipedrive-reconcile-to-target-postgres" in state  # its own state


# -- loading speed (docs/tap.md, "Loading speed") ----------------------------------------------

# What the loader stamps with its own clock, different on every run.
LOAD_TIMES = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_sequence")
LOAD_TIMES += ("_sdc_sync_started_at",)


def _content(schema: str) -> dict[str, tuple]:
    """Per table: rows, the column types, how many rows have each _sdc_ column set, and an md5
    of the rows as JSON without LOAD_TIMES."""
    drop = " ".join(f"- '{c}'" for c in LOAD_TIMES)
    out = {}
    with psycopg.connect(PG_URL) as conn:
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, column_name",
            (schema,),
        ):
            columns.setdefault(table, []).append((column, kind))
        for table, types in columns.items():
            sdc = ", ".join(f'count("{c}")' for c, _ in types if c.startswith("_sdc_"))
            out[table] = (
                types,
                conn.execute(f'SELECT count(*), {sdc} FROM "{schema}"."{table}"').fetchone(),
                conn.execute(
                    "SELECT md5(string_agg(x, chr(10) ORDER BY x)) FROM "
                    f'(SELECT (to_jsonb(r) {drop})::text AS x FROM "{schema}"."{table}" r) s'
                ).fetchone(),
            )
    return out


def test_the_loading_switches_load_what_records_validated_load(project, tmp_path) -> None:
    """meltano.yml's loading defaults, and BATCH files, give the warehouse what plain RECORD
    messages validated by the loader give: the same tables, columns, rows and values, and the
    same _sdc_ columns set (first runs, each into a schema of its own)."""
    ways = {
        "records, validated": {"TARGET_POSTGRES_VALIDATE_RECORDS": "true"},
        "meltano.yml as shipped": {},
        "batch": {
            "TAP_PIPEDRIVE_BATCH_CONFIG": json.dumps(
                {
                    "encoding": {"format": "jsonl", "compression": "none"},
                    "storage": {"root": (tmp_path / "batches").as_uri()},
                }
            )
        },
    }
    loaded = {}
    for name, env in ways.items():
        schema = f"e2e_{uuid.uuid4().hex[:8]}"
        result = run(
            project,
            "run",
            "tap-pipedrive",
            "target-postgres",
            env={
                **env,
                "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/{schema}.db",
            },
        )
        try:
            assert result.returncode == 0, result.stderr[-3000:]
            loaded[name] = _content(schema)
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    first = loaded.pop("records, validated")
    assert first["deals"][1][0] > 0
    for name, content in loaded.items():
        assert content == first, name
    assert list((tmp_path / "batches").iterdir())  # the batch run did write files
