"""A tap killed with SIGKILL at random points, each time resumed from the state the warehouse
committed, ends with exactly the sandbox's record set in PostgreSQL and no duplicate keys."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator

import pytest

from tests.tap.runner import TAP, config_for, run

from .warehouse import versions_of, warehouse

pytestmark = pytest.mark.postgres


def _killed_after(process: subprocess.Popen, lines: int) -> Iterator[str]:
    """The tap's output up to a kill after `lines` lines (or all of it, if it ends first)."""
    assert process.stdout is not None
    with process.stdout:
        for n, line in enumerate(process.stdout, start=1):
            yield line
            if n == lines:
                process.kill()
    process.wait(timeout=60)


@pytest.mark.parametrize(
    ("size", "kills", "seed"),
    [
        pytest.param("small", 10, 1, id="short"),
        pytest.param("medium", 30, 2, id="soak", marks=pytest.mark.soak),
    ],
)
def test_killed_at_random_points_and_resumed_into_postgres(
    sandbox_factory, tmp_path, size, kills, seed
) -> None:
    sb = sandbox_factory(size=size)
    expected = versions_of(run(config_for(sb)).messages)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(sb)))
    rng = random.Random(seed)
    killed = 0
    with warehouse() as wh:
        for attempt in range(kills + 1):
            argv = [TAP, "--config", str(config)]
            state = wh.saved_state()
            if state is not None:
                (tmp_path / "state.json").write_text(json.dumps(state))
                argv += ["--state", str(tmp_path / "state.json")]
            # A point anywhere in what is left (the run's output is counted first); the last
            # run goes to the end.
            at = rng.randint(1, max(1, _output_lines(argv) - 1)) if attempt < kills else 0
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            wh.load(_killed_after(process, at))
            killed += process.returncode == -9
        assert killed == kills, "every kill must land before the run's end"
        assert wh.duplicate_keys() == 0
        assert wh.versions() == expected


def _output_lines(argv: list[str]) -> int:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    return len(done.stdout.splitlines())
