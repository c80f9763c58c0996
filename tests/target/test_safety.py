"""Nothing lost, nothing doubled: reruns, kills, dry runs, bad input, bad settings."""

import json
import subprocess

import pytest

from pipedrive_client import ConfigError
from target_pipedrive.records import InvalidRecord

from .feed import (
    OURS,
    TARGET,
    clean_run_counts,
    config,
    config_file,
    counts,
    message,
    run,
    run_command,
    sample,
    singer_lines,
)


def test_rerun_of_the_same_input_creates_nothing(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    run(cfg, sample())
    after_first = counts(sb)
    run(cfg, sample())
    assert counts(sb) == after_first


def test_custom_person_fields_are_created_once(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    run(config(sb, tmp_path), sample(5))
    run(config(sb, tmp_path / "other"), sample(5))  # a fresh ledger finds them by name
    names = [r["def"].name for r in sb.store.tables["person_fields"].values()]
    for name in ("Email thread count", "Last email contact", "Avg email response hours"):
        assert names.count(name) == 1


def test_dry_run_writes_nothing_and_prints_the_intended_writes(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    before = counts(sb)
    lines = singer_lines(sample(10))
    result = subprocess.run(
        [TARGET, "--config", config_file(tmp_path, config(sb, tmp_path, dry_run=True))],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert counts(sb) == before
    intended = [json.loads(x) for x in result.stderr.splitlines() if x.startswith('{"op"')]
    ops = {p["op"] for p in intended}
    assert {"create_organization", "create_person", "create_activity"} <= ops
    assert sum(p["op"] == "create_activity" for p in intended) == 10
    assert all(r["method"] == "GET" for r in sb.request_log())
    # no STATE: under Meltano the email source's bookmark must not move past unwritten mail
    assert result.stdout.strip() == ""
    assert "Dry run: no STATE emitted" in result.stderr


@pytest.mark.parametrize("kill_after", [12, 30, 60])
def test_killed_mid_run_then_rerun_has_no_duplicates_and_no_missing_activity(
    sandbox_factory, tmp_path, kill_after
) -> None:
    """SIGKILL the target after `kill_after` API requests (while it makes organizations and
    persons, leads and deals, or activities), run it again: the result is what one clean run
    makes, every message has exactly one activity."""
    msgs = sample(60)
    expected = clean_run_counts(sandbox_factory, tmp_path, msgs)
    sb = sandbox_factory(faults="latency=0.02")
    before = counts(sb)
    cfg_file = config_file(tmp_path, config(sb, tmp_path))
    lines = singer_lines(msgs)
    assert run_command(sb, cfg_file, lines, kill_after=kill_after) == -9
    assert counts(sb)["activities"] < before["activities"] + 60  # it really died mid-run
    rerun = subprocess.run(
        [TARGET, "--config", cfg_file],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    notes = [a.get("note", "") for a in sb.store.tables["activities"].values()]
    for m in msgs:
        marker = f"Email id: {m['id']}</p>"
        assert sum(marker in n for n in notes) == 1, m["id"]
    emails = [e["value"] for p in sb.store.tables["persons"].values() for e in p["emails"]]
    assert len(emails) == len(set(emails))
    org_names = [o["name"] for o in sb.store.tables["organizations"].values()]
    assert len(org_names) == len(set(org_names))
    assert {e: n - before[e] for e, n in counts(sb).items()} == expected


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": None}, "id"),
        ({"from": [{"email": "not an address"}]}, "from"),
        ({"date": "yesterday-ish"}, "date"),
        ({"to": "x"}, "to"),
    ],
)
def test_malformed_records_name_the_record_and_field(
    sandbox_factory, tmp_path, record, field
) -> None:
    sb = sandbox_factory()
    bad = {**message("bad1", "ann@acme.example", [OURS]), **record}
    with pytest.raises(InvalidRecord, match=f"field '{field}'"):
        run(config(sb, tmp_path), [bad])


def test_skip_mode_skips_and_reports(sandbox_factory, tmp_path, caplog) -> None:
    sb = sandbox_factory()
    bad = {**message("bad1", "ann@acme.example", [OURS]), "date": "never"}
    good = message("good1", "bo@beta.example", [OURS])
    target = run(config(sb, tmp_path, on_invalid_record="skip"), [bad, good])
    assert len(target.skipped) == 1
    assert "bad1" in target.skipped[0]
    assert any(
        "Email id: good1" in (a.get("note") or "") for a in sb.store.tables["activities"].values()
    )


def test_missing_stage_fails_at_start_listing_what_exists(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    with pytest.raises(ConfigError, match=r"stage 'First Call' not found.*Initial Contact"):
        run(config(sb, tmp_path, stage_name="First Call"), [])


def test_missing_stage_is_one_line_from_the_command(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    result = subprocess.run(
        [TARGET, "--config", config_file(tmp_path, config(sb, tmp_path, stage_name="Nope"))],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("target-pipedrive: stage 'Nope'")
    assert sb.token not in result.stderr


def test_rate_limited_sandbox_run_completes(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory(plan=10)
    run(config(sb, tmp_path, max_requests_per_2s=None), sample(8))
    stats = sb.stats()
    refused = stats["status"].get("429", 0)
    assert refused <= 1  # at most the first, before the limit is learnt
    # The sandbox's busiest 2 s count every request that arrived, the refused one too.
    assert stats["max_requests_in_2s"] <= 10 + refused
