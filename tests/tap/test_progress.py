"""Progress a person can read: lines per stream while a run goes, and a table at its end, on
standard error, with numbers that are the run's own (checked against the sandbox's counters)."""

from __future__ import annotations

import json
import re

import pytest

from tests.tap.runner import config_for, parse, run_command

PROGRESS = re.compile(
    r"Progress: (\w+): ([\d,]+) records \(([\d,]+)/s\), ([\d,]+) pages, ([\d,]+) requests, "
    r"([\d,]+) tokens"
)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def summary_table(stderr: str) -> dict[str, dict[str, str]]:
    """The end-of-run table: {stream: {records, requests, pages, tokens, seconds}}."""
    lines = [line.split(" | ")[-1] for line in stderr.splitlines()]
    start = lines.index("Run summary per stream:")
    header = lines[start + 1].split()
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("  "):
            break
        name, *values = re.split(r"\s{2,}", line.strip())
        rows[name] = dict(zip(header[1:], values, strict=False))
        if name == "total":
            break
    return rows


@pytest.fixture
def slow_run(sandbox_factory, tmp_path, eager_overlap):
    """A small company over a 20 ms network, large lists cut into windows wherever they can
    be (their threads' requests must count to their stream too). A burst limit of 10 requests
    per 2 s makes the run last seconds however fast the machine: its 30 requests need 4 s."""
    sb = sandbox_factory(size="small", plan=10, faults={"latency": 0.02})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(sb, progress_interval=0.2)))
    result = run_command(["--config", str(path)])
    assert result.returncode == 0, result.stderr[-2000:]
    return sb, result


def test_progress_lines_and_the_table_count_each_streams_records_requests_tokens(slow_run):
    sb, result = slow_run
    out = parse(result.stdout.splitlines())
    table = summary_table(result.stderr)
    served = sb.stats()

    for stream, records in out.records.items():
        assert _number(table[stream]["records"]) == len(records), stream
    assert _number(table["total"]["records"]) == sum(len(r) for r in out.records.values())
    # Every request of the run, and every token, is in the table once.
    assert _number(table["total"]["requests"]) == served["requests"]
    assert _number(table["total"]["tokens"]) == served["tokens"]
    rows = [row for name, row in table.items() if name != "total"]
    assert sum(_number(row["requests"]) for row in rows) == served["requests"]
    # ... and counted to the stream it was made for, read ahead or in windows.
    for stream, endpoints in {
        "deals": ["GET /api/v2/deals", "GET /api/v2/deals/archived"],
        "persons": ["GET /api/v2/persons"],
        "activities": ["GET /api/v2/activities"],
        "notes": ["GET /api/v1/notes"],
        "leads": ["GET /api/v1/leads", "GET /api/v1/leads/archived"],
    }.items():
        by_endpoint = served["by_endpoint"]
        expected = sum(by_endpoint.get(e, {}).get("requests", 0) for e in endpoints)
        assert _number(table[stream]["requests"]) == expected, stream
        tokens = sum(by_endpoint.get(e, {}).get("tokens", 0) for e in endpoints)
        assert _number(table[stream]["tokens"]) == tokens, stream
    # Read in windows here: more than one page, over seconds > 0.
    assert _number(table["activities"]["pages"]) > 2
    assert float(table["activities"]["seconds"]) > 0

    # While it went: lines per stream whose counters only grow.
    seen: dict[str, list[tuple[int, ...]]] = {}
    for line in result.stderr.splitlines():
        match = PROGRESS.search(line)
        if match:
            stream, *numbers = match.groups()
            records, _rate, pages, requests, tokens = (_number(n) for n in numbers)
            seen.setdefault(stream, []).append((records, pages, requests, tokens))
    wall = float(table["total"]["seconds"])
    assert wall >= 2, f"the burst limit should hold the run for seconds, it took {wall}"
    assert seen, f"no progress line in a run of {wall} s at progress_interval 0.2"
    for stream, counts in seen.items():
        assert counts == sorted(counts), stream  # counters never go back
        assert counts[-1][0] <= len(out.records.get(stream, [])), stream


def test_progress_lines_can_be_turned_off(sandbox, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(sandbox, progress_interval=0)))
    result = run_command(["--config", str(path)])
    assert result.returncode == 0
    assert not PROGRESS.search(result.stderr)
    assert "total" in summary_table(result.stderr)
