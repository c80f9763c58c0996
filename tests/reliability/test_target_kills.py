"""The target killed with SIGKILL again and again at seeded points, then run to the end: what
one clean run makes, no duplicates, one activity per message; a further rerun creates nothing."""

from __future__ import annotations

import random
import subprocess
import time

import pytest

from tests.target.feed import config, singer_lines
from tests.target.test_safety import TARGET, _clean_run_counts, _config_file, counts, sample


def _run_until(sb, cfg_file: str, lines: str, kill_at: int | None) -> int:
    """Run the target; with `kill_at`, SIGKILL it once the sandbox has seen that many more
    requests. Returns its exit code."""
    start = sb.stats()["requests"]
    proc = subprocess.Popen(
        [TARGET, "--config", cfg_file],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(lines)
    proc.stdin.close()
    if kill_at is not None:
        deadline = time.monotonic() + 60
        while (
            sb.stats()["requests"] - start < kill_at
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.002)
        proc.kill()
    return proc.wait(timeout=120)


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
    expected = _clean_run_counts(sandbox_factory, tmp_path, msgs)
    sb = sandbox_factory(faults="latency=0.01")
    before = counts(sb)
    cfg_file = _config_file(tmp_path, config(sb, tmp_path))
    lines = singer_lines(msgs)
    rng = random.Random(seed)
    died = 0
    for _ in range(kills):
        died += _run_until(sb, cfg_file, lines, kill_at=rng.randint(3, 40)) == -9
    assert died >= kills - 1, "the kills must land mid-run"
    assert _run_until(sb, cfg_file, lines, kill_at=None) == 0
    assert {e: n - before[e] for e, n in counts(sb).items()} == expected
    notes = [a.get("note", "") for a in sb.store.tables["activities"].values()]
    for m in msgs:
        assert sum(f"Email id: {m['id']}</p>" in n for n in notes) == 1, m["id"]
    emails = [e["value"] for p in sb.store.tables["persons"].values() for e in p["emails"]]
    assert len(emails) == len(set(emails))
    made = counts(sb)
    assert _run_until(sb, cfg_file, lines, kill_at=None) == 0
    assert counts(sb) == made, "a rerun of the same input creates nothing"
