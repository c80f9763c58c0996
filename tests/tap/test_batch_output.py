"""BATCH messages (`batch_config`, tap_pipedrive/batch_writer.py): the records a run writes to
files are the records it writes as RECORD messages, in the same order, each file complete and
announced before any STATE that covers it, with the loader's metadata columns."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from singer_sdk.helpers._batch import BatchConfig
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_pipedrive.batch_writer import BatchFileWriter
from tap_pipedrive.tap import TapPipedrive

from .runner import config_for, run

SDC = {
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_table_version",
    "_sdc_sync_started_at",
}


def batch_config(root: Path, compression: str = "none", size: int = 100) -> dict:
    return {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": root.as_uri()},
        "batch_size": size,
    }


def read_file(url: str) -> list[dict]:
    path = Path(url.removeprefix("file://"))
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as lines:
        return [json.loads(line) for line in lines]


def key(record: dict) -> str:
    """A record as its RECORD message carries it (the loader's columns left out)."""
    return json.dumps({k: v for k, v in record.items() if k not in SDC}, sort_keys=True)


def records_and_states(messages: list[dict]) -> tuple[list[tuple], list[tuple[int, dict]]]:
    """The run's records as (stream, key), each BATCH replaced by its file's records, and its
    STATEs as (records written before it, its bookmarks)."""
    records: list[tuple] = []
    states: list[tuple[int, dict]] = []
    for m in messages:
        if m["type"] == "BATCH":
            assert len(m["manifest"]) == 1
            records += [(m["stream"], key(r)) for r in read_file(m["manifest"][0])]
        elif m["type"] == "RECORD":
            records.append((m["stream"], key(m["record"])))
        elif m["type"] == "STATE":
            states.append((len(records), m["value"].get("bookmarks", {})))
    return records, states


def bookmarks(state: dict) -> set[tuple[str, str]]:
    """(stream, bookmark) of each stream and partition that has one."""
    out = set()
    for stream, entry in state.items():
        for part in [entry, *entry.get("partitions", [])]:
            if part.get("replication_key_value") is not None:
                out.add((stream, json.dumps([part.get("context"), part["replication_key_value"]])))
    return out


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_batch_run_writes_the_records_and_states_of_a_plain_run(
    sandbox, tmp_path, compression
) -> None:
    config = config_for(sandbox, read_ahead_streams=0, time_windows=1)
    plain = run(config)
    batched = run({**config, "batch_config": batch_config(tmp_path, compression, size=10)})
    assert not any(m["type"] == "RECORD" for m in batched.messages)
    batches = [m for m in batched.messages if m["type"] == "BATCH"]
    assert len(batches) > len({m["stream"] for m in batches})  # files of batch_size records
    # The same records, in the same order, and no STATE earlier than in the plain run: each
    # bookmark a STATE holds comes after at least the records it came after there.
    records, states = records_and_states(batched.messages)
    plain_records, plain_states = records_and_states(plain.messages)
    assert records == plain_records
    first_after: dict[tuple[str, str], int] = {}
    for n, state in plain_states:
        for mark in bookmarks(state):
            first_after.setdefault(mark, n)
    assert states
    for n, state in states:
        assert all(n >= first_after[mark] for mark in bookmarks(state))
    assert batched.states[-1]["bookmarks"] == plain.states[-1]["bookmarks"]
    # Each record as its RECORD message carries it, plus the loader's metadata columns.
    plain_dicts = [m["record"] for m in plain.messages if m["type"] == "RECORD"]
    batch_records = [r for m in batches for r in read_file(m["manifest"][0])]
    assert [{k: v for k, v in r.items() if k not in SDC} for r in batch_records] == plain_dicts
    assert all(set(r) >= SDC for r in batch_records)
    assert all(r["_sdc_table_version"] is None for r in batch_records)


def test_versions_go_into_the_files_so_activate_version_keeps_the_rows(sandbox, tmp_path) -> None:
    """A row without _sdc_table_version would be retired by the loader's ACTIVATE_VERSION."""
    config = config_for(
        sandbox,
        read_ahead_streams=0,
        emit_activate_version_messages=True,
        batch_config=batch_config(tmp_path),
    )
    catalog = TapPipedrive(config=config).catalog_dict
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] == "pipelines"
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected
    out = run(config, catalog=catalog)
    kinds = [m["type"] for m in out.messages if m.get("stream") == "pipelines"]
    assert kinds.index("BATCH") < kinds.index("ACTIVATE_VERSION")
    version = next(m["version"] for m in out.messages if m["type"] == "ACTIVATE_VERSION")
    batch = next(m for m in out.messages if m["type"] == "BATCH")
    assert {r["_sdc_table_version"] for r in read_file(batch["manifest"][0])} == {version}


def test_the_state_writer_writes_through_the_batching_writer(sandbox, tmp_path) -> None:
    """The SDK gives its STATE writer the tap's writer at start: a writer swapped in later
    would let a STATE overtake records held in an open file."""
    tap = TapPipedrive(config=config_for(sandbox, batch_config=batch_config(tmp_path)))
    assert isinstance(tap.message_writer, BatchFileWriter)
    assert tap.state_writer._message_writer is tap.message_writer


def test_a_file_is_complete_before_its_batch_message(tmp_path, capsys) -> None:
    writer = BatchFileWriter()
    writer.batches(BatchConfig.from_dict(batch_config(tmp_path, "gzip", size=3)), "tap-x")
    for i in range(4):
        writer.write_message(RecordMessage(stream="s", record={"id": i}))
    first = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["type"] for line in first] == ["BATCH"]  # after 3 records
    assert [r["id"] for r in read_file(json.loads(first[0])["manifest"][0])] == [0, 1, 2]
    assert capsys.readouterr().out == ""  # the 4th is held in an open file
    writer.write_message(StateMessage(value={"bookmarks": {"n": 3}}))
    writer.write_message(StateMessage(value={"bookmarks": {"n": 4}}))
    assert capsys.readouterr().out == ""  # the STATEs wait for the open file
    writer.write_message(RecordMessage(stream="t", record={"id": 9}))  # another stream
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["type"] for m in lines] == ["BATCH", "STATE"]
    assert [r["id"] for r in read_file(lines[0]["manifest"][0])] == [3]
    assert lines[1]["value"] == {"bookmarks": {"n": 4}}  # the latest
    writer.write_message(StateMessage(value={"bookmarks": {"n": 5}}))
    writer.write_message(RecordMessage(stream="t", record={}))
    writer.flush()  # the end of a run, well or not
    batch, state = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert [r.get("id") for r in read_file(batch["manifest"][0])] == [9, None]
    assert set(read_file(batch["manifest"][0])[1]) == SDC
    assert state["value"] == {"bookmarks": {"n": 5}}
