"""A message whose write Pipedrive refuses (a 4xx) does not block every later run: with
`on_invalid_record: skip` it is recorded as rejected in the ledger, with the error, and the run
goes on; with `fail` the run stops with one line naming the message."""

import json
import sqlite3

import pytest

from target_pipedrive.refused import RejectedMessage

from .feed import OURS, config, message, run, singer_lines, target_command
from .written import activities_by_message, persons_by_email

DAY = 86400


def _purge_person(sb, email: str) -> int:
    """A user deletes the person in Pipedrive; 30 days later it is gone for good (the ledger
    still has its id)."""
    pid = persons_by_email(sb)[email]["id"]
    sb.churn.delete("persons", [pid])
    sb.churn.advance_clock(31 * DAY)
    assert sb.store.get("persons", pid) is None
    return pid


def _ledger_rows(path) -> dict[str, tuple[str, dict]]:
    with sqlite3.connect(path) as ledger:
        rows = ledger.execute("SELECT id, status, detail FROM pd_messages").fetchall()
    return {mid: (status, json.loads(detail)) for mid, status, detail in rows}


def _refused_run(sb, tmp_path, cfg: dict, ids: tuple[str, str, str], gone_first: bool):
    """A message to a person who is then purged, then a run where Pipedrive refuses the next
    message to them (and takes one to someone else)."""
    first, to_gone, to_other = ids
    run(cfg, [message(first, "gone@gamma.example", [OURS])])
    pid = _purge_person(sb, "gone@gamma.example")
    refused = message(to_gone, "gone@gamma.example", [OURS], thread="g", hours=5)
    taken = message(to_other, "bo@beta.example", [OURS], thread="b", hours=6 if gone_first else 4)
    msgs = [refused, taken] if gone_first else [taken, refused]
    return pid, msgs, target_command(cfg, tmp_path / "config.json", singer_lines(msgs))


def test_skip_records_a_refused_message_as_rejected_and_goes_on(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path, on_invalid_record="skip")
    pid, msgs, result = _refused_run(sb, tmp_path, cfg, ("r1", "r2", "r3"), gone_first=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "bookmarks": {"messages": {"n": 2}}
    }
    assert "1 messages were refused by Pipedrive and recorded as rejected" in result.stderr
    assert "'r2'" in result.stderr
    assert sb.token not in result.stderr
    assert activities_by_message(sb) == {"r1": 1, "r3": 1}
    rows = _ledger_rows(tmp_path / "ledger.db")
    status, detail = rows["r2"]
    assert status == "rejected"
    assert "POST /api/v2/activities answered 400" in detail["error"]
    assert f"Person with id {pid} does not exist" in detail["error"]
    assert rows["r3"][0] == "done"
    # the next run does not try it again: nothing is blocked
    sb.reset_stats()
    run(cfg, msgs)
    assert "POST /api/v2/activities" not in sb.stats()["by_endpoint"]


def test_fail_stops_with_one_line_naming_the_refused_message(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    pid, _, result = _refused_run(sb, tmp_path, cfg, ("f1", "f3", "f2"), gone_first=False)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("target-pipedrive: message 'f3' was refused by Pipedrive: POST ")
    assert f"Person with id {pid} does not exist" in last
    assert "on_invalid_record: skip" in last
    assert "Traceback" not in result.stderr
    assert sb.token not in result.stderr
    assert '"bookmarks"' not in result.stdout  # no state past a message not written
    assert activities_by_message(sb) == {"f1": 1, "f2": 1}  # the one before it is written
    rows = _ledger_rows(tmp_path / "ledger.db")
    assert rows["f2"][0] == "done"
    assert "f3" not in rows


def test_a_refused_counterpart_rejects_only_what_needs_it(sandbox_factory, tmp_path) -> None:
    """A meeting calls for converting the counterpart's Lead, which Pipedrive refuses (its person
    is gone): the event is rejected, the other messages are written, the run ends well."""
    sb = sandbox_factory()
    cfg = config(sb, tmp_path, on_invalid_record="skip")
    run(cfg, [message("c1", "gone@gamma.example", [OURS])])
    _purge_person(sb, "gone@gamma.example")
    event = {
        "id": "meet-1",
        "title": "Demo",
        "start": "2026-10-03T10:00:00Z",
        "participants": [{"email": "gone@gamma.example"}, {"email": OURS}],
    }
    target = run(cfg, [message("c2", "di@delta.example", [OURS], hours=3)], events=[event])
    assert activities_by_message(sb) == {"c1": 1, "c2": 1}
    rows = _ledger_rows(tmp_path / "ledger.db")
    assert rows["event:meet-1"][0] == "rejected"
    assert "answered 400" in rows["event:meet-1"][1]["error"]
    assert any("event:meet-1" in r for r in target.writer.rejected)


def test_refused_counters_fail_naming_the_message_that_moved_them(
    sandbox_factory, tmp_path
) -> None:
    """The person is gone but needs no new write but its counters (it has its Deal): the refused
    field update names the record that moved them; with skip the run ends well."""
    sb = sandbox_factory()
    cfg = config(sb, tmp_path)
    run(
        cfg,
        [message(f"d{n}", "gone@gamma.example", [OURS], thread=f"d{n}", hours=n) for n in range(5)],
    )
    pid = _purge_person(sb, "gone@gamma.example")
    event = {
        "id": "meet-2",
        "title": "Call",
        "start": "2026-10-04T10:00:00Z",
        "participants": [{"email": "gone@gamma.example"}, {"email": OURS}],
    }
    with pytest.raises(RejectedMessage) as caught:
        run(cfg, [], events=[event])
    assert str(caught.value).startswith("message 'event:meet-2' was refused by Pipedrive: ")
    assert f"PATCH /api/v2/persons/{pid} answered 404" in str(caught.value)
    run({**cfg, "on_invalid_record": "skip"}, [], events=[event])  # recorded, goes on
    sb.reset_stats()
    run({**cfg, "on_invalid_record": "skip"}, [], events=[event])
    assert sb.stats()["by_endpoint"].keys() <= {
        "GET /api/v2/pipelines",
        "GET /api/v2/stages",
        "GET /api/v2/personFields",
    }
