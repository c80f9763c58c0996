"""Records prepared by their reader thread (tap_pipedrive/prepared.py): the same line as the
writer would make, stored as their JSON, and left to the writer wherever the result could
differ. (tests/tap/test_fast_output.py compares a whole run with the SDK's plain path.)"""

from __future__ import annotations

import copy
import pickle

import pytest
from singer_sdk.singerlib import RecordMessage

from tap_pipedrive import overlap, prepared, sdk_internals
from tap_pipedrive.fast_writer import Prepared, RecordLineWriter
from tap_pipedrive.tap import TapPipedrive

from .runner import config_for, run


@pytest.fixture(autouse=True)
def _over_a_network(monkeypatch) -> None:
    """Records are prepared only where the network's waits are overlapped: the tiny sandbox
    answers at once, so overlap as if it did not."""
    monkeypatch.setenv(overlap.EAGER_ENV, "1")


def _persons(sb, **config) -> tuple:
    tap = TapPipedrive(config=config_for(sb, **config))
    stream = tap.streams["persons"]
    page = sb.api.handle("GET", "/api/v2/persons", {"limit": "5"}, None)[1]["data"]
    return stream, page


def _line(message: RecordMessage) -> str:
    """The message's line but for the time it was made."""
    untimed = RecordMessage(stream=message.stream, record=message.record, version=message.version)
    return RecordLineWriter().serialize_message(untimed)


def _written(stream, row: dict) -> str:
    (message,) = sdk_internals.record_messages(stream, row, stream._record_output)
    return _line(message)


def _plain_line(stream, record: dict) -> str:
    """The RECORD line the writer makes of a record as read, all in the writer's thread."""
    return _written(stream, stream.post_process(copy.deepcopy(record)))


def test_a_prepared_record_makes_the_line_the_writer_makes_of_it_as_read(sandbox) -> None:
    stream, page = _persons(sandbox)
    as_read = copy.deepcopy(page)
    batch = prepared.Preparer(stream, None)(page)
    assert page == as_read  # the records as read are left as they were
    assert all(type(record) is Prepared for record in batch)
    for record, raw in zip(batch, as_read, strict=True):
        assert stream.post_process(record) is record  # not processed twice
        (message,) = sdk_internals.record_messages(stream, record, stream._record_output)
        assert message.record is record
        plain = _plain_line(stream, raw)
        assert _line(message) == plain
        assert record.json in plain
    # Prepared once, it stays as it is (a window's thread prepares, then the stream's).
    again = prepared.Preparer(stream, None)(batch)
    assert all(a is b for a, b in zip(again, batch, strict=True))


def test_a_prepared_record_is_stored_as_its_json_and_reads_back_the_same(sandbox) -> None:
    stream, page = _persons(sandbox)
    batch = prepared.Preparer(stream, None)(page)
    stored = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(stored)  # noqa: S301 - our own bytes
    assert [type(r) for r in back] == [Prepared] * len(batch)
    assert back == batch
    assert [r.json for r in back] == [r.json for r in batch]
    stream_lines = [_written(stream, r) for r in back]
    assert stream_lines == [_written(stream, r) for r in batch]


def test_records_whose_line_could_differ_are_left_to_the_writer(sandbox) -> None:
    stream, page = _persons(sandbox)
    unmapped = {**page[0], "not_in_the_schema": 1}  # the SDK's warning comes from the writer
    foreign = {**page[1], "name": "Zoë"}  # simplejson escapes what orjson does not
    big = {**page[2], "id": 2**70}  # beyond 64 bits: simplejson only
    batch = prepared.Preparer(stream, None)([unmapped, foreign, big, page[3]])
    assert batch[0] is unmapped
    assert batch[1] is foreign
    assert batch[2] is big
    assert type(batch[3]) is Prepared


def test_a_partitions_keys_are_added_as_the_sdk_adds_them(sandbox) -> None:
    tap = TapPipedrive(config=config_for(sandbox))
    stream = tap.streams["deals"]
    context = stream.partitions[0]
    page = sandbox.api.handle("GET", "/api/v2/deals", {"limit": "3"}, None)[1]["data"]
    key = next(iter(context))
    lacking = {k: v for k, v in page[0].items() if k != key}
    (record,) = prepared.Preparer(stream, context)([lacking])
    assert type(record) is Prepared
    assert record[key] == context[key]
    row = stream.post_process(copy.deepcopy(lacking))
    for name, value in context.items():  # what Stream._process_record does
        row.setdefault(name, value)
    assert _written(stream, record) == _written(stream, row)


def test_streams_whose_records_change_later_are_not_prepared(sandbox) -> None:
    maps = {"persons": {"name_upper": "name.upper()"}}
    stream, page = _persons(sandbox, stream_maps=maps)
    assert prepared.Preparer(stream, None)(page) is page
    stream, page = _persons(sandbox, flattening_enabled=True, flattening_max_depth=1)
    assert prepared.Preparer(stream, None)(page) is page


def test_beside_the_server_the_writer_does_it_all(sandbox, monkeypatch) -> None:
    """With no network to wait for, the reader asks for its next page while the writer does
    the work (else the server would sit idle meanwhile)."""
    monkeypatch.delenv(overlap.EAGER_ENV)
    stream, page = _persons(sandbox)
    assert prepared.Preparer(stream, None)(page) is page


def test_a_run_over_a_network_writes_prepared_records_as_the_writer_would(
    sandbox_factory, monkeypatch
) -> None:
    """Read one page at a time, and read ahead and in windows (the latency makes the tap
    overlap its reads and prepare its records), the records come out as the writer makes
    them when nothing is prepared."""
    monkeypatch.delenv(overlap.EAGER_ENV)
    sb = sandbox_factory(faults="latency=0.05")
    one_by_one = config_for(sb, time_windows=1, read_ahead_streams=0)
    made = []
    preparer = prepared._preparer

    def counted(stream, context):
        prepare = preparer(stream, context)
        made.append(prepare is not None)
        return prepare

    monkeypatch.setattr(prepared, "_preparer", counted)
    ours = run(one_by_one)
    windowed = run(config_for(sb, time_windows=4, read_ahead_streams=4))
    assert made
    assert all(made)
    monkeypatch.setattr(prepared, "_preparer", lambda stream, context: None)
    theirs = run(one_by_one)
    assert ours.records == theirs.records
    for name in ("persons", "deals", "activities", "organizations", "notes"):
        assert theirs.records[name]
        key = lambda r: (r["id"], r["update_time"])  # noqa: E731
        assert sorted(windowed.records[name], key=key) == sorted(theirs.records[name], key=key)
