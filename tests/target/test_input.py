"""Input the target refuses fails (or is skipped) naming the record; the dates mail sources emit
(RFC 2822 Date headers, millisecond epochs) are accepted; text that is not valid Unicode is
repaired, not sent; values are clipped to Pipedrive's limits."""

import subprocess
from datetime import UTC, datetime

import pytest

from target_pipedrive.records import InvalidRecord, parse_message

from .feed import OURS, config, message, run, singer_lines, target_command
from .written import activities_by_message, persons_by_email

WHEN = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "date",
    [
        "Thu, 01 Oct 2026 09:00:00 +0000",
        "Thu, 1 Oct 2026 11:00:00 +0200 (CEST)",
        "1 Oct 2026 05:00:00 EDT",
        "Thu, 01 Oct 2026 09:00:00 GMT",
        "Thu, 01 Oct 2026 09:00:00 -0000",  # RFC 5322: UTC, local zone unknown
        1790845200000,  # milliseconds
        "1790845200000",
        1790845200,
        "2026-10-01T09:00:00.000Z",
        datetime(2026, 10, 1, 9, 0, tzinfo=UTC),  # the SDK parses a date-time field itself
    ],
)
def test_dates_that_mail_sources_emit_are_accepted(date) -> None:
    assert parse_message({**message("d1", "ann@acme.example", [OURS]), "date": date}).date == WHEN


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"date": -1}, "date", "is not a time: -1"),
        ({"date": "-1"}, "date", "is not a time: '-1'"),
        ({"date": 0}, "date", "is not a time: 0"),
        ({"date": "1969-12-31T23:59:59Z"}, "date", "before 1971"),
        ({"date": "Thu, 01 Oct 2026 09:00:00"}, "date", "has no time zone"),
        ({"date": "Thu, 32 Oct 2026 09:00:00 +0000"}, "date", "is not a time"),
        ({"date": {"seconds": 1}}, "date", "is not a time"),
        ({"date": float("nan")}, "date", "is not a time"),
        ({"thread_id": {"id": 1}}, "thread_id", "must be text or a whole number, not a dict"),
        ({"in_reply_to": ["x"]}, "in_reply_to", "not a list"),
        ({"subject": {"text": "hi"}}, "subject", "must be text, not a dict"),
        ({"from": [{"name": ["Ann"], "email": "ann@acme.example"}]}, "from", "must be text"),
        ({"to": [{"email": 42}]}, "to", "email that is not text"),
        ({"to": [{"email": "an\ud83dn@acme.example"}]}, "to", "invalid email address"),
    ],
)
def test_refused_values_name_the_record_and_the_field(change, field, problem) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_message({**message("bad-7", "ann@acme.example", [OURS]), **change})
    assert str(caught.value).startswith(f"record 'bad-7': field '{field}'")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("record_id", "problem"),
    [
        ({"uid": 7}, "not a dict"),
        ([7], "not a list"),
        (True, "not a bool"),
        (7.5, "not a float"),
        ("x" * 999, "999 characters long"),
    ],
)
def test_an_id_that_is_no_id_is_refused_and_shown(record_id, problem) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_message({**message("x", "ann@acme.example", [OURS]), "id": record_id})
    assert caught.value.field == "id"
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"record {repr(record_id)[:40]}")


def _command(sb, tmp_path, lines: str, **settings) -> subprocess.CompletedProcess:
    return target_command(config(sb, tmp_path, **settings), tmp_path / "config.json", lines)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"date": -1}, "record 'bad-7': field 'date' is not a time: -1"),
        (
            {"id": {"uid": 7}},
            "record {'uid': 7}: field 'id' must be text or a whole number, not a dict",
        ),
    ],
    ids=["date -1", "object id"],
)
def test_refused_input_fails_in_one_line_or_is_skipped_naming_the_record(
    sandbox_factory, tmp_path, change, named
) -> None:
    sb = sandbox_factory()
    bad = {**message("bad-7", "ann@acme.example", [OURS]), **change}
    good = message("good-7", "bo@beta.example", [OURS], hours=1)
    lines = singer_lines([good, bad])
    failed = _command(sb, tmp_path, lines)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == f"target-pipedrive: {named}"
    assert "Traceback" not in failed.stderr
    assert '"bookmarks"' not in failed.stdout
    skipped = _command(sb, tmp_path, lines, on_invalid_record="skip")
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert named in skipped.stderr  # reported at the end
    assert '"bookmarks"' in skipped.stdout
    assert activities_by_message(sb) == {"good-7": 1}


def test_rfc2822_dates_and_millisecond_epochs_are_written(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    msgs = [
        {**message("r1", "ann@acme.example", [OURS]), "date": "Thu, 1 Oct 2026 11:05:00 +0200"},
        {**message("r2", "ann@acme.example", [OURS]), "date": 1790846700000},
    ]
    run(config(sb, tmp_path), msgs)
    times = {
        (a["due_date"], a["due_time"])
        for a in sb.store.tables["activities"].values()
        if "Email id: r" in (a.get("note") or "")
    }
    assert times == {("2026-10-01", "09:05"), ("2026-10-01", "09:25")}


# -- text: repaired, clipped ---------------------------------------------------------------------


def _ours(sb, mid: str) -> dict:
    (activity,) = [
        a for a in sb.store.tables["activities"].values() if f"Email id: {mid}</p>" in a["note"]
    ]
    return activity


def test_text_that_is_not_valid_unicode_is_repaired_not_sent(sandbox_factory, tmp_path) -> None:
    """A lone surrogate (an emoji cut in half by the source) can not be encoded: Pipedrive (and
    the ledger) refuse it. It becomes U+FFFD; a whole emoji stays."""
    sb = sandbox_factory()
    cut = {
        **message("cut-\ud83d", "ann@acme.example", [OURS]),
        "subject": "Pricing \ud83d",
        "snippet": "Thanks \ud83d\ude00 and \udc00",
        "from": [{"name": "Ann \ud83d", "email": "ann@acme.example"}],
    }
    run(config(sb, tmp_path), [cut])
    activity = _ours(sb, "cut-\ufffd")
    assert activity["subject"] == "Pricing \ufffd"
    assert "Thanks \U0001f600 and \ufffd" in activity["note"]
    assert persons_by_email(sb)["ann@acme.example"]["name"] == "Ann \ufffd"


def test_values_are_clipped_to_pipedrives_limits(sandbox_factory, tmp_path) -> None:
    sb = sandbox_factory()
    name = "Very " * 120  # 600 characters; on free mail the lead title is the person's name
    long = {
        **message("long-1", "long@gmail.com", [OURS]),
        "subject": "S" * 1000,
        "snippet": "fish & chips <b>😀</b> " * 20000,  # 440,000 characters, more bytes
        "from": [{"name": name, "email": "long@gmail.com"}],
    }
    run(config(sb, tmp_path), [long])
    activity = _ours(sb, "long-1")
    assert len(activity["subject"]) == 255
    assert len(activity["note"].encode()) <= 100_000
    assert activity["note"].endswith("...</p><p>Email id: long-1</p>")  # the marker is whole
    assert "&amp; chips &lt;b&gt;" in activity["note"]
    assert not activity["note"].split("...</p>")[0].rsplit("&", 1)[1].isalpha()  # no cut entity
    person = persons_by_email(sb)["long@gmail.com"]
    assert len(person["name"]) <= 255
    (lead,) = [x for x in sb.store.tables["leads"].values() if x["person_id"] == person["id"]]
    assert len(lead["title"]) <= 255
    # a rerun finds the clipped activity by its marker and writes nothing again
    run(config(sb, tmp_path / "fresh"), [long])
    assert activities_by_message(sb) == {"long-1": 1}
