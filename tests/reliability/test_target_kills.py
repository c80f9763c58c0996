"""The target killed with SIGKILL again and again at seeded points, then run to the end: what
one clean run makes, no duplicates, one activity per message; a further rerun creates nothing."""

from __future__ import annotations

import random

import pytest

from tests.target.feed import (
    clean_run_counts,
    config,
    config_file,
    counts,
    run_command,
    sample,
    singer_lines,
)


@pytest.mark.parametrize(
    ("messages", "kills", "seed"),
    [
        pytest.param(60, 4, 1, id="short"),
        pytest.param(200, 15, 2, id="soak", marks=pytest.mark.soak),
    ],
)
def test_killed_repeatedly_then_finished_equals_one_clean_run(
    sandbox_factory, tmp_path, messages, kills, seed
) -> None:
    msgs = sample(messages)
    expected = clean_run_counts(sandbox_factory, tmp_path, msgs)
    sb = sandbox_factory(faults="latency=0.01")
    before = counts(sb)
    cfg_file = config_file(tmp_path, config(sb, tmp_path))
    lines = singer_lines(msgs)
    rng = random.Random(seed)
    died = 0
    for _ in range(kills):
        died += run_command(sb, cfg_file, lines, kill_after=rng.randint(3, 40)) == -9
    assert died >= kills - 1, "the kills must land mid-run"
    assert run_command(sb, cfg_file, lines, kill_after=None) == 0
    assert {e: n - before[e] for e, n in counts(sb).items()} == expected
    notes = [a.get("note", "") for a in sb.store.tables["activities"].values()]
    for m in msgs:
        assert sum(f"Email id: {m['id']}</p>" in n for n in notes) == 1, m["id"]
    emails = [e["value"] for p in sb.store.tables["persons"].values() for e in p["emails"]]
    assert len(emails) == len(set(emails))
    made = counts(sb)
    assert run_command(sb, cfg_file, lines, kill_after=None) == 0
    assert counts(sb) == made, "a rerun of the same input creates nothing"
