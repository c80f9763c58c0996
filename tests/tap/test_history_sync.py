"""The history streams against the sandbox: the right entries with readable names after an
incremental run, nothing read in a run without changes, and a capped backfill that completes over
several runs, killed or not, with exactly what an uncapped run reads."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess

import pytest

from pipedrive_client import PipedriveClient

from .runner import TAP, catalog_selecting, config_for, parse, run

HISTORY = {"deals", "persons", "deal_changes", "person_changes", "deal_stage_changes"}


def _changelog_requests(sb) -> int:
    return sum(
        n["requests"]
        for endpoint, n in sb.stats()["by_endpoint"].items()
        if "changelog" in endpoint
    )


def _ids(out, stream: str, key: str) -> list[str]:
    return [r[key] for r in out.records[stream]]


@pytest.fixture
def company(sandbox_factory):
    sb = sandbox_factory(counts={"deals": 60, "persons": 40, "organizations": 10})
    config = config_for(sb)
    return sb, config, catalog_selecting(config, HISTORY)


def test_changes_come_back_with_readable_names_and_a_quiet_run_reads_no_log(company) -> None:
    sb, config, catalog = company
    first = run(config, catalog=catalog)
    assert first.records["deal_changes"]
    assert first.records["deal_stage_changes"]
    client = PipedriveClient.from_settings(config)
    deal = next(d for d in first.records["deals"] if d["status"] == "open" and not d["is_deleted"])
    stages = [s["id"] for s in client.v2_list("/api/v2/stages", pipeline_id=deal["pipeline_id"])]
    route = [s for s in stages if s != deal["stage_id"]][:2]
    for stage in route:
        client.patch(f"/api/v2/deals/{deal['id']}", {"stage_id": stage})
    field = next(
        f
        for f in client.v2_list("/api/v2/personFields")
        if f.get("is_custom_field") and f.get("field_type") == "enum"
    )
    option = field["options"][0]
    person = first.records["persons"][0]
    client.patch(
        f"/api/v2/persons/{person['id']}", {"custom_fields": {field["field_code"]: option["id"]}}
    )
    client.close()

    second = run(config, state=first.state, catalog=catalog)
    moves = [r for r in second.records["deal_stage_changes"] if r["deal_id"] == deal["id"]]
    assert [(m["from_stage_id"], m["to_stage_id"]) for m in moves][-2:] == [
        (deal["stage_id"], route[0]),
        (route[0], route[1]),
    ]
    assert all(m["pipeline_id"] == deal["pipeline_id"] for m in moves[-2:])
    changes = [r for r in second.records["deal_changes"] if r["deal_id"] == deal["id"]]
    assert [c["field"] for c in changes].count("stage_id") >= 2
    assert all(c["change_source"] == "api" for c in changes if c["field"] == "stage_id")
    custom = [
        r
        for r in second.records["person_changes"]
        if r["person_id"] == person["id"] and r["field_key"] == field["field_code"]
    ]
    assert custom, "the custom field change is read"
    assert custom[0]["field"] != field["field_code"]  # the column name, not the hash key
    assert custom[0]["new_label"] == option["label"]
    assert custom[0]["time"].endswith("Z")
    # the second run read only what changed since the first
    assert len(second.records["deal_changes"]) < len(first.records["deal_changes"])

    sb.reset_stats()
    third = run(config, state=second.state, catalog=catalog)
    assert _changelog_requests(sb) == 0  # the lookback window re-reads records, not their logs
    assert not third.records["deal_changes"]


def _capped_runs(config: dict, catalog: dict, limit: int = 40) -> tuple[list, dict]:
    outs, state = [], None
    for _ in range(limit):
        out = run(config, state=state, catalog=catalog)
        outs.append(out)
        state = out.state
        if "history_backlog" not in json.dumps(state):
            return outs, state
    raise AssertionError("the backlog was not worked off")


def test_a_capped_backfill_completes_over_several_runs_with_what_an_uncapped_one_reads(
    company,
) -> None:
    _, config, catalog = company
    whole = run(config, catalog=catalog)
    capped = {**config, "history_max_tokens": 500}  # 25 change-log pages a run
    outs, _ = _capped_runs(capped, catalog)
    assert len(outs) > 3
    for stream, key in (
        ("deal_changes", "change_id"),
        ("person_changes", "change_id"),
        ("deal_stage_changes", "stage_change_id"),
    ):
        union = [i for out in outs for i in _ids(out, stream, key)]
        assert set(union) == set(_ids(whole, stream, key)), stream
        for out in outs:
            assert len(_ids(out, stream, key)) == len(set(_ids(out, stream, key)))


def test_a_backfill_killed_mid_run_resumes_its_backlog_and_loses_nothing(company, tmp_path) -> None:
    _, config, catalog = company
    whole = run(config, catalog=catalog)
    capped = {**config, "history_max_tokens": 400, "read_ahead_streams": 0}
    first = run(capped, catalog=catalog)
    assert "history_backlog" in json.dumps(first.state)
    (tmp_path / "config.json").write_text(json.dumps(capped))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    (tmp_path / "state.json").write_text(json.dumps(first.state))
    written = []
    args = ["--config", "config.json", "--catalog", "catalog.json", "--state", "state.json"]
    with subprocess.Popen(
        [TAP, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            written.append(line)
            if '"stream":"deal_changes"' in line.replace(" ", ""):
                break  # killed in the middle of working off the backlog
        process.kill()
        process.wait(timeout=30)
    killed = parse(written)
    state = killed.state or first.state
    resumed, left = [], state
    for _ in range(40):
        out = run(capped, state=left, catalog=catalog)
        resumed.append(out)
        left = out.state
        if "history_backlog" not in json.dumps(left):
            break
    got = set(_ids(first, "deal_changes", "change_id")) | set(
        _ids(killed, "deal_changes", "change_id")
    )
    for out in resumed:
        got |= set(_ids(out, "deal_changes", "change_id"))
    assert got == set(_ids(whole, "deal_changes", "change_id"))


def test_a_parent_keeps_nothing_per_record_when_no_child_is_selected(sandbox) -> None:
    """The ids a parent hands its children are kept only while a child reads: a plain deals
    sync keeps none (its memory stays flat however many deals it reads)."""
    from tap_pipedrive.tap import TapPipedrive

    config = config_for(sandbox)
    tap = TapPipedrive(config=config, catalog=catalog_selecting(config, {"deals", "persons"}))
    with contextlib.redirect_stdout(io.StringIO()):
        tap.sync_all()
    assert tap.records_emitted["deals"] > 0
    assert tap.streams["deals"]._taken == set()
    with_children = TapPipedrive(
        config=config, catalog=catalog_selecting(config, {"deals", "deal_products"})
    )
    with contextlib.redirect_stdout(io.StringIO()):
        with_children.sync_all()
    assert len(with_children.streams["deals"]._taken) == with_children.records_emitted["deals"]
