"""A sync that succeeded ends the process itself (quick_exit.py): what the interpreter's
shutdown would have done that matters, the exit handlers and the flush of the output, is
still done."""

from __future__ import annotations

import json
import subprocess
import sys

from .runner import config_for, parse, run

# The console script's `main`, with an exit handler of its own registered first, and a spy
# that records whether the run ended by the quick way (it must, for the test to mean anything).
PROGRAM = """
import atexit, pathlib, sys
marker = pathlib.Path(sys.argv.pop(1))
atexit.register(marker.write_text, "exit handler ran")
from tap_pipedrive import tap
end = tap.end_process
def spied():
    marker.with_suffix(".quick").write_text("")
    end()
tap.end_process = spied
tap.main()
"""


def test_a_sync_that_succeeded_runs_the_exit_handlers_and_writes_every_line(
    sandbox, tmp_path
) -> None:
    config = config_for(sandbox)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    marker = tmp_path / "marker"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(marker), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert marker.with_suffix(".quick").exists(), "the sync did not end the quick way"
    assert marker.read_text() == "exit handler ran"
    # Every line the sync wrote is there, up to its last STATE: as the same sync in-process.
    out, expected = parse(done.stdout.splitlines()), run(config)
    assert out.messages[-1]["type"] == "STATE"
    assert {s: len(r) for s, r in out.records.items()} == {
        s: len(r) for s, r in expected.records.items()
    }
    assert out.state == expected.state
