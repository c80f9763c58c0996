"""DEBUG logging grows linearly with the input and carries no email addresses (the SDK's own
per-record line dumped the whole batch so far, addresses and all: 174 MB for 1,000 messages)."""

import json
import os
import re
import subprocess

from .feed import TARGET, config, singer_lines, spread

ADDRESS = re.compile(r"p\d+@firm\d\.example")


def _debug_run(sandbox_factory, tmp_path, n: int) -> str:
    sb = sandbox_factory()
    folder = tmp_path / str(n)
    folder.mkdir()
    cfg = folder / "config.json"
    cfg.write_text(json.dumps(config(sb, folder)))
    result = subprocess.run(
        [TARGET, "--config", str(cfg)],
        input=singer_lines(spread(n, people=40)),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TARGET_PIPEDRIVE_LOGLEVEL": "DEBUG"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


def test_debug_log_is_linear_in_the_messages_and_has_no_addresses(
    sandbox_factory, tmp_path
) -> None:
    small = _debug_run(sandbox_factory, tmp_path, 100)
    large = _debug_run(sandbox_factory, tmp_path, 400)
    assert "Record 100 of the batch: id w99" in small  # one short line per record
    per_record = [line for line in large.splitlines() if "of the batch: id" in line]
    assert len(per_record) == 400
    assert max(len(line) for line in per_record) < 200
    # four times the messages, at most four times the log (a fixed start-up part makes it less);
    # a line that repeats the batch so far makes it about sixteen times
    assert len(large) < 4 * len(small), (len(small), len(large))
    assert not ADDRESS.findall(small + large)
