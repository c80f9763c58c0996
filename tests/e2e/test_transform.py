"""The dbt models in transform/ through real Meltano: the sample emails written back to the
sandbox's small company, then meltano.yml's load-then-transform job into PostgreSQL (the load,
then dbt-postgres:build: the models and their tests); then the stage moves of some deals loaded
(the others' history still in the tap's backlog) and the models built again. Needs PostgreSQL
at 127.0.0.1:5432 (database `test`, trust auth), as in CI."""

from __future__ import annotations

import json
import uuid
from itertools import pairwise
from pathlib import Path

import psycopg
import pytest

from pipedrive_sandbox import Sandbox

from .conftest import UNPACED

try:  # the e2e tests' Meltano helpers, shared with the pipeline benchmark from the package
    from pipedrive_sandbox.meltano_project import environment, meltano
except ModuleNotFoundError:  # a checkout where they are still tests/e2e's own
    from .meltano_project import environment, meltano

pytestmark = pytest.mark.postgres

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
MARTS = ("deal_stage_history", "pipeline_funnel", "deal_velocity", "email_engagement")


@pytest.fixture(scope="module")
def project(tmp_path_factory, meltano_installed):
    """Meltano in the repository's project: its own system database, a warehouse schema for
    the load, one for the models, and dbt's target and log directories of its own."""
    tmp = tmp_path_factory.mktemp("transform")
    schema = f"e2e_dbt_{uuid.uuid4().hex[:8]}"
    sandbox = Sandbox(seed=1, size="small").start()
    env = environment(
        tmp,
        sandbox,
        TAP_PIPEDRIVE_API_URL=sandbox.api_url,
        TAP_PIPEDRIVE_API_TOKEN=sandbox.token,
        TAP_PIPEDRIVE_ANCHOR_DATE="2020-01-01",
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
        DBT_POSTGRES_SOURCE_SCHEMA=schema,
        DBT_POSTGRES_SCHEMA=f"{schema}_models",
        DBT_POSTGRES_TARGET_PATH=str(tmp / "dbt-target"),
        DBT_POSTGRES_LOG_PATH=str(tmp / "dbt-logs"),
        **UNPACED,
    )
    yield {"env": env, "sandbox": sandbox, "schema": schema, "tmp": tmp}
    sandbox.stop()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for name in (schema, f"{schema}_models", f"{schema}_models_staging"):
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def run(project: dict, *args: str, env: dict | None = None) -> None:
    result = meltano({**project["env"], **(env or {})}, *args)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]


def rows(project: dict, sql: str) -> list[tuple]:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute(sql.format(models=f"{project['schema']}_models")).fetchall()


def dbt_outcome(project: dict) -> dict[str, int]:
    """What the last dbt build did: {"model success": 25, "test pass": 105, ...}, from dbt's
    run_results.json."""
    results = json.loads((Path(project["tmp"]) / "dbt-target" / "run_results.json").read_text())
    assert results["args"]["which"] == "build"
    counts: dict[str, int] = {}
    for result in results["results"]:
        key = f"{result['unique_id'].split('.')[0]} {result['status']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def all_built_and_passed(project: dict) -> None:
    outcome = dbt_outcome(project)
    assert set(outcome) == {"model success", "test pass"}, outcome
    assert outcome["model success"] == 25, outcome  # 21 staging models and 4 marts
    assert outcome["test pass"] >= 100, outcome


def funnel_is_sensible(project: dict) -> list[tuple]:
    funnel = rows(
        project,
        "SELECT pipeline_id, stage_position, deals_reached, conversion_to_next, "
        "median_days_in_stage, deals_open + deals_won + deals_lost "
        "FROM {models}.pipeline_funnel ORDER BY pipeline_id, stage_position",
    )
    assert funnel
    stages = rows(project, "SELECT count(*) FROM {models}_staging.stg_stages")[0][0]
    assert len(funnel) == stages
    by_pipeline: dict[int, list[tuple]] = {}
    for row in funnel:
        by_pipeline.setdefault(row[0], []).append(row)
    for pipeline, steps in by_pipeline.items():
        reached = [step[2] for step in steps]
        assert reached == sorted(reached, reverse=True), (pipeline, reached)
        assert reached[0] > 0
        for step, after in pairwise(steps):
            assert 0 <= step[3] <= 1
            assert step[3] == pytest.approx(after[2] / step[2])
        assert steps[-1][3] is None  # the last stage has no next one
        for step in steps:
            assert step[4] is None or step[4] >= 0
            assert step[5] <= step[2]  # the deals in a stage now have all reached it
    return funnel


def test_the_models_and_their_tests_pass_on_the_small_company(project) -> None:
    sb: Sandbox = project["sandbox"]
    run(project, "run", "tap-emails", "target-pipedrive")  # 16 email activities to find

    # meltano.yml's job: the load, then dbt-postgres:build (the models and their tests).
    run(project, "run", "warehouse-load-transform")
    all_built_and_passed(project)
    for mart in MARTS:
        assert rows(project, f"SELECT count(*) FROM {{models}}.{mart}")[0][0] > 0, mart

    live = len(sb.ids("deals"))
    funnel = funnel_is_sensible(project)
    assert sum(step[5] for step in funnel) == live  # every live deal is in one stage now
    first = {step[0]: step[2] for step in funnel if step[1] == 1}
    in_pipeline = dict(
        rows(project, "SELECT pipeline_id, count(*) FROM {models}_staging.stg_deals GROUP BY 1")
    )
    assert first == in_pipeline  # without moves, each deal reached its pipeline's first stage
    history = rows(project, "SELECT source, count(*) FROM {models}.deal_stage_history GROUP BY 1")
    assert history == [("deals", live)]  # deal_stage_changes not loaded: one stay per deal

    closed = rows(project, "SELECT outcome, sum(deals) FROM {models}.deal_velocity GROUP BY 1")
    statuses = dict(
        rows(project, "SELECT status, count(*) FROM {models}_staging.stg_deals GROUP BY 1")
    )
    assert dict(closed) == {"won": statuses["won"], "lost": statuses["lost"]}

    emails = rows(
        project,
        "SELECT sum(messages_written_back), count(*) FILTER (WHERE messages_written_back > 0) "
        "FROM {models}.email_engagement",
    )
    assert emails == [(16, 8)]  # the 16 messages of 8 counterparts target-pipedrive wrote
    ann = rows(
        project,
        "SELECT messages, replies, organization_name, last_contact_at::text "
        "FROM {models}.email_engagement WHERE person_email = 'ann@northwind.example'",
    )
    assert ann == [(6, 6, "northwind.example", "2026-10-06 02:00:00")]

    # The stage moves of some deals (a small history cap leaves the rest in the backlog).
    history_run = {
        "TAP_PIPEDRIVE__SELECT": '["deals.*", "deal_stage_changes.*"]',
        "TAP_PIPEDRIVE_HISTORY_MAX_TOKENS": "1000",  # 50 deals' change logs
    }
    run(
        project,
        "run",
        "--state-id-suffix",
        "history",
        "tap-pipedrive",
        "target-postgres",
        "dbt-postgres:build",
        env=history_run,
    )
    all_built_and_passed(project)
    sources = dict(
        rows(
            project,
            "SELECT source, count(DISTINCT deal_id) FROM {models}.deal_stage_history GROUP BY 1",
        )
    )
    assert 0 < sources["deal_stage_changes"] < live
    assert sources["deal_stage_changes"] + sources["deals"] == live
    moved = rows(
        project,
        "SELECT count(*) FROM {models}.deal_stage_history WHERE left_by = 'next_stage'",
    )
    assert moved[0][0] > 0
    funnel = funnel_is_sensible(project)
    assert sum(step[5] for step in funnel) == live
