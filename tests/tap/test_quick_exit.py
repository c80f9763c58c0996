"""A sync that succeeded ends the process itself (quick_exit.py): what the interpreter's
shutdown would have done that matters, the exit handlers and the flush of the output, is
still done, and every line and batch file is whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .runner import config_for, parse, run
from .test_batch_output import batch_config, records_and_states

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


@pytest.mark.parametrize("batches", [None, "gzip"])
def test_a_sync_that_succeeded_runs_the_exit_handlers_and_writes_everything(
    sandbox, tmp_path, batches
) -> None:
    config = config_for(sandbox)
    if batches:
        config["batch_config"] = batch_config(tmp_path, batches, size=50)
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
    # Every line and file the sync wrote is whole, up to its last STATE: as the same sync
    # in-process (whose batch files go elsewhere: the run's files have the run's names).
    out = parse(done.stdout.splitlines())
    assert out.messages[-1]["type"] == "STATE"
    if batches:
        assert any(m["type"] == "BATCH" for m in out.messages)
        config["batch_config"] = batch_config(tmp_path / "in-process", batches, size=50)
        (tmp_path / "in-process").mkdir()
    expected = run(config)
    got_records, got_states = records_and_states(out.messages)
    expected_records, expected_states = records_and_states(expected.messages)
    assert sorted(got_records) == sorted(expected_records)
    assert out.state == expected.state
    assert len(got_states) == len(expected_states)
