"""The pure parts alone: the input contract, the engagement model, the rules, the ledger, the
dry run's output. No server."""

import io
import json
from datetime import UTC, datetime
from importlib import resources

import pytest

from target_pipedrive.classify import Outcome, Thresholds, classify
from target_pipedrive.dry_run import DryRun
from target_pipedrive.engagement import (
    Counterpart,
    OwnSide,
    ThreadMemory,
    apply_event,
    apply_message,
    counterparts_of,
)
from target_pipedrive.ledger import Ledger
from target_pipedrive.records import InvalidRecord, parse_event, parse_message

from .feed import OURS, message

OWN = OwnSide(emails=frozenset({OURS}), domains=frozenset({"ourco.example"}))

# -- the input contract ---------------------------------------------------------------------------


def test_message_is_parsed_with_rfc3339_or_unix_seconds() -> None:
    parsed = parse_message(message("m1", "Ann@Acme.example", [OURS], hours=1.5))
    assert parsed.date == datetime(2026, 10, 1, 10, 30, tzinfo=UTC)
    assert parsed.sender.email == "ann@acme.example"  # addresses are compared in lower case
    assert parsed.sender.domain == "acme.example"
    for unix in (1791104400, "1791104400", 1791104400.0):
        assert parse_message({**message("m2", "a@b.example", [OURS]), "date": unix}).date == (
            datetime.fromtimestamp(1791104400, UTC)
        )
    offset = {**message("m3", "a@b.example", [OURS]), "date": "2026-10-01T11:00:00+02:00"}
    assert parse_message(offset).date == datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def test_message_defaults() -> None:
    record = {"id": 7, "date": "2026-10-01T09:00:00Z", "from": [{"email": "a@b.example"}]}
    parsed = parse_message(record)
    assert parsed.id == "7"
    assert parsed.thread_id == "7"
    assert parsed.subject == "(no subject)"
    assert parsed.to == ()
    assert parsed.in_reply_to is None


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"id": None}, "id", "is missing"),
        ({"id": ""}, "id", "is missing"),
        ({"from": []}, "from", "is missing"),
        ({"from": [{"email": "no-at-sign"}]}, "from", "invalid email address"),
        ({"to": [{"email": "a b@x.example"}]}, "to", "invalid email address"),
        ({"cc": "someone"}, "cc", "must be a list"),
        ({"date": "not a date"}, "date", "is not a time"),
        ({"date": None}, "date", "is missing"),
        ({"date": "2026-10-01T09:00:00"}, "date", "has no time zone"),
    ],
)
def test_malformed_message_names_record_and_field(change: dict, field: str, problem: str) -> None:
    record = {**message("bad-1", "ann@acme.example", [OURS]), **change}
    with pytest.raises(InvalidRecord) as caught:
        parse_message(record)
    assert caught.value.field == field
    assert f"field '{field}'" in str(caught.value)
    assert problem in str(caught.value)
    if change.get("id") is None and field != "id":
        assert "bad-1" in str(caught.value)


def test_event_is_parsed() -> None:
    event = parse_event(
        {
            "id": "e1",
            "title": "Demo",
            "start": "2026-10-02T10:00:00Z",
            "participants": [{"name": "Di", "email": "di@delta.example"}],
        }
    )
    assert event.participants[0].email == "di@delta.example"
    with pytest.raises(InvalidRecord, match="field 'start'"):
        parse_event({"id": "e2", "participants": []})


def test_json_schemas_ship_with_the_package() -> None:
    folder = resources.files("target_pipedrive").joinpath("schemas")
    messages = json.loads(folder.joinpath("messages.json").read_text())
    events = json.loads(folder.joinpath("events.json").read_text())
    assert {"id", "date", "from"} <= set(messages["required"])
    assert {"id", "thread_id", "to", "cc", "bcc", "reply_to", "in_reply_to"} <= set(
        messages["properties"]
    )
    assert {"participants", "start", "title"} <= set(events["properties"])


# -- the engagement model -------------------------------------------------------------------------


def _apply(people: dict, threads: dict, record: dict) -> list[Counterpart]:
    parsed = parse_message(record)
    thread = threads.setdefault(parsed.thread_id, ThreadMemory())
    for address in counterparts_of(parsed, OWN)[1]:
        people.setdefault(address.email, Counterpart(address.email, address.name))
    return apply_message(parsed, OWN, people, thread)


def test_counterpart_is_the_sender_inbound_and_the_recipients_outbound() -> None:
    inbound = parse_message(message("i", "ann@acme.example", [OURS, "bob@acme.example"]))
    assert [a.email for a in counterparts_of(inbound, OWN)[1]] == ["ann@acme.example"]
    outbound = parse_message(
        message(
            "o",
            OURS,
            ["ann@acme.example", "colleague@ourco.example"],
            cc=[{"email": "cy@gamma.example"}],
            bcc=[{"email": "no-reply@x.example"}],
        )
    )
    outbound_flag, others = counterparts_of(outbound, OWN)
    assert outbound_flag
    assert [a.email for a in others] == ["ann@acme.example", "cy@gamma.example"]


def test_replies_and_response_hours() -> None:
    people: dict = {}
    threads: dict = {}
    _apply(people, threads, message("o1", OURS, ["ann@acme.example"], thread="a", hours=0))
    _apply(people, threads, message("r1", "ann@acme.example", [OURS], thread="a", hours=4))
    # a second message of theirs in a row is no second reply
    _apply(people, threads, message("r2", "ann@acme.example", [OURS], thread="a", hours=5))
    _apply(people, threads, message("o2", OURS, ["ann@acme.example"], thread="a", hours=6))
    _apply(people, threads, message("r3", "ann@acme.example", [OURS], thread="a", hours=8))
    ann = people["ann@acme.example"]
    assert ann.messages == 5
    assert ann.replies == 2
    assert ann.average_response_hours == 3.0  # (4 + 2) / 2
    assert len(ann.threads) == 1
    assert ann.last_contact == "2026-10-01T17:00:00Z"


def test_in_reply_to_our_message_is_a_reply_in_any_thread() -> None:
    people: dict = {}
    threads: dict = {}
    _apply(people, threads, message("<ours@x>", OURS, ["bo@beta.example"], thread="t"))
    threads["t"].awaiting.clear()  # as if they had answered already
    _apply(
        people,
        threads,
        message("theirs", "bo@beta.example", [OURS], thread="t", hours=1, in_reply_to="<ours@x>"),
    )
    assert people["bo@beta.example"].replies == 1


def test_a_message_from_someone_we_did_not_write_to_is_no_reply() -> None:
    people: dict = {}
    threads: dict = {}
    _apply(people, threads, message("o1", OURS, ["ann@acme.example"], thread="a"))
    _apply(people, threads, message("x1", "zed@other.example", [OURS], thread="a", hours=1))
    _apply(people, threads, message("r1", "ann@acme.example", [OURS], thread="a", hours=2))
    assert people["zed@other.example"].replies == 0
    assert people["ann@acme.example"].replies == 1
    assert people["ann@acme.example"].average_response_hours == 2.0


def test_a_first_inbound_message_is_no_reply() -> None:
    people: dict = {}
    _apply(people, {}, message("i1", "cy@gamma.example", [OURS]))
    assert people["cy@gamma.example"].replies == 0
    assert people["cy@gamma.example"].average_response_hours is None


def test_meetings_count_for_external_participants_only() -> None:
    event = parse_event(
        {
            "id": "e1",
            "title": "Demo",
            "start": "2026-10-02T10:00:00Z",
            "participants": [
                {"email": "di@delta.example"},
                {"email": OURS},
                {"email": "notifications@calendar.example"},
            ],
        }
    )
    people: dict = {}
    touched = apply_event(event, OWN, people)
    assert [p.email for p in touched] == ["di@delta.example"]
    assert people["di@delta.example"].meetings == 1


def test_automated_senders_and_ignore_settings() -> None:
    own = OwnSide(
        emails=frozenset({OURS}),
        domains=frozenset(),
        ignore_patterns=("bot",),
        ignore_emails=frozenset({"boss@client.example"}),
    )
    for sender, ignored in (
        ("robot@x.example", True),
        ("boss@client.example", True),
        ("no-reply@x.example", False),  # the defaults were replaced by the setting
        ("ann@acme.example", False),
    ):
        parsed = parse_message(message("m", sender, [OURS]))
        assert (counterparts_of(parsed, own)[1] == []) is ignored, sender


def test_counterpart_round_trips_through_json() -> None:
    person = Counterpart("ann@acme.example", "Ann", 3, {"a", "b"}, 1, 1, "2026-10-01T09:00:00Z")
    assert Counterpart.from_json(json.loads(json.dumps(person.to_json()))) == person


# -- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "replies", "meetings", "existing", "open_deal", "expected"),
    [
        (0, 0, 0, False, False, Outcome.NOTHING),
        (1, 0, 0, False, False, Outcome.LEAD),
        (4, 0, 0, False, False, Outcome.LEAD),
        (5, 0, 0, False, False, Outcome.DEAL),
        (1, 1, 0, False, False, Outcome.DEAL),
        (0, 0, 1, False, False, Outcome.DEAL),
        (9, 3, 1, True, False, Outcome.NOTHING),  # an existing person: only at 10 messages
        (10, 0, 0, True, False, Outcome.DEAL),
        (25, 0, 0, True, True, Outcome.NOTHING),  # ...and only without an open deal
    ],
)
def test_rules(messages, replies, meetings, existing, open_deal, expected) -> None:
    person = Counterpart("a@b.example", messages=messages, replies=replies, meetings=meetings)
    assert classify(person, Thresholds(), existing, open_deal) is expected


def test_thresholds_are_configurable() -> None:
    strict = Thresholds(deal_messages=8, deal_replies=2, deal_meetings=2, lead_messages=2)
    assert classify(Counterpart("a@b.example", messages=1), strict, False, False) is Outcome.NOTHING
    assert (
        classify(
            Counterpart("a@b.example", messages=7, replies=1, meetings=1), strict, False, False
        )
        is Outcome.LEAD
    )
    assert (
        classify(Counterpart("a@b.example", messages=2, replies=2), strict, False, False)
        is Outcome.DEAL
    )


# -- the ledger and the dry run -------------------------------------------------------------------


def test_sqlite_ledger_keeps_everything_across_connections(tmp_path) -> None:
    path = str(tmp_path / "l" / "ledger.db")
    ledger = Ledger(path)
    with ledger.transaction():
        ledger.mark_message("m1", "done")
        ledger.save_counterpart(Counterpart("a@b.example", messages=2, threads={"t"}))
        ledger.save_object("person", "a@b.example", 12)
    ledger.close()
    again = Ledger(path)
    assert again.message_status("m1") == "done"
    assert again.message_status("m2") is None
    assert again.counterpart("a@b.example").messages == 2
    assert again.object_id("person", "a@b.example") == "12"
    assert again.objects("person") == [("a@b.example", "12")]
    assert again.count_messages() == 1
    again.close()


def test_ledger_transaction_is_all_or_nothing(tmp_path) -> None:
    ledger = Ledger(str(tmp_path / "ledger.db"))

    def killed_mid_transaction() -> None:
        with ledger.transaction():
            ledger.mark_message("m1", "done")
            ledger.save_object("activity", "m1", 5)
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed_mid_transaction()
    assert ledger.message_status("m1") is None
    assert ledger.object_id("activity", "m1") is None


def test_scratch_ledger_reads_history_and_keeps_nothing(tmp_path) -> None:
    path = str(tmp_path / "ledger.db")
    real = Ledger(path)
    real.mark_message("m1", "done")
    real.close()
    scratch = Ledger(path, scratch=True)
    assert scratch.message_status("m1") == "done"
    scratch.mark_message("m2", "done")
    scratch.close()
    real = Ledger(path)
    assert real.message_status("m2") is None


def test_dry_run_prints_one_json_line_per_operation() -> None:
    out = io.StringIO()
    dry_run = DryRun(out)
    first = dry_run.intend("create_person", name="Ann")
    dry_run.intend("create_activity", person_id=first)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["op"] for x in lines] == ["create_person", "create_activity"]
    assert lines[1]["person_id"] == first
