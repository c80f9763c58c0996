"""A tap killed with SIGKILL at random points, each time resumed from the state the warehouse
committed, ends with exactly the sandbox's record set in PostgreSQL and no duplicate keys."""

from __future__ import annotations

import fcntl
import json
import os
import random
import subprocess
from collections.abc import Iterator

import pytest

from tap_pipedrive.fast_writer import BUFFER_CHARS
from tests.tap.runner import TAP, config_for, run

from .warehouse import versions_of, warehouse

pytestmark = pytest.mark.postgres


# A kill lands only while the tap still runs: it may write ahead of our reading by what its
# writer holds (RECORD lines up to fast_writer.BUFFER_CHARS), its stdout buffer and the pipe
# (shrunk to one page), so a kill point leaves at least this much output after it.
PIPE_BYTES = 4096
KILL_TAIL_BYTES = BUFFER_CHARS + 64 * 1024


def _start(argv: list[str]) -> tuple[subprocess.Popen, int]:
    """The tap, writing into a pipe of one page; returns it and the pipe's read end."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    process = subprocess.Popen(argv, stdout=write_end, stderr=subprocess.DEVNULL)
    os.close(write_end)
    return process, read_end


def _killed_after(process: subprocess.Popen, read_end: int, lines: int) -> Iterator[str]:
    """The tap's output up to a kill after `lines` lines (or all of it, if it ends first)."""
    with os.fdopen(read_end, encoding="utf-8") as output:
        for n, line in enumerate(output, start=1):
            yield line
            if n == lines:
                process.kill()
    process.wait(timeout=60)


@pytest.mark.usefixtures("eager_overlap")
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
            # A point anywhere in what is left (the run's output is measured first); the last
            # run goes to the end.
            at = rng.choice(_kill_points(argv)) if attempt < kills else 0
            process, read_end = _start(argv)
            wh.load(_killed_after(process, read_end, at))
            # The load stops at a line the kill cut short, before the reader has waited.
            process.wait(timeout=60)
            killed += process.returncode == -9
        assert killed == kills, "every kill must land before the run's end"
        assert wh.duplicate_keys() == 0
        assert wh.versions() == expected


def _kill_points(argv: list[str]) -> list[int]:
    """Line numbers after which a kill lands: those followed by KILL_TAIL_BYTES or more."""
    done = subprocess.run(argv, capture_output=True, timeout=600, check=True)
    lines = done.stdout.splitlines(keepends=True)
    after, points = 0, []
    for n in range(len(lines), 0, -1):
        if after >= KILL_TAIL_BYTES:
            points.append(n)
        after += len(lines[n - 1])
    return points or [1]
