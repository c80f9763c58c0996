"""Every field that the official description documents for a stream's records (in a response
schema or in an example) reaches the warehouse: it is in the stream's schema, and a sync against
the sandbox emits it. `documented_fields.json` is made from the description by
`scripts/documented_fields.py` (the description itself is not part of the repository)."""

from __future__ import annotations

import json
import logging
import re
from importlib import resources
from pathlib import Path

import pytest
from singer_sdk.helpers import _typing

from tap_pipedrive.streams import STREAMS

from .runner import catalog_selecting, config_for, run

DOCUMENTED = json.loads((Path(__file__).parent / "documented_fields.json").read_text())["streams"]
# The tap turns `custom_fields` into one column per field (named after the field definitions).
SPREAD = {"custom_fields"}
# Shown only in the description's examples, not in its schemas; dropped by the tap until they
# were added to the schemas. The sandbox gives each a value on some record.
EXAMPLE_ONLY = {
    "deals": [
        "archive_time",
        "creator_user_id",
        "local_won_date",
        "local_lost_date",
        "local_close_date",
    ],
    "organizations": ["org_id"],
    "files": ["log_id", "file_type"],
    "notes": ["pinned_to_lead_flag"],
    "person_fields": ["description"],
    "activity_fields": ["description"],
    "mail_messages": ["draft_flag"],
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def schema_properties(stream: str) -> dict:
    text = resources.files("tap_pipedrive").joinpath(f"schemas/{stream}.json").read_text()
    return json.loads(text)["properties"]


# Derived from another stream's records, not a list of the API's.
DERIVED = {"deal_stage_changes"}


def test_the_list_covers_every_stream() -> None:
    assert set(DOCUMENTED) == {s.name for s in STREAMS} - DERIVED


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_every_documented_property_is_in_the_stream_schema(stream: str) -> None:
    properties = schema_properties(stream)
    missing = set(DOCUMENTED[stream]) - SPREAD - set(properties)
    assert not missing, f"{stream}: documented but not in the schema: {sorted(missing)}"
    keys = next(s.primary_keys for s in STREAMS if s.name == stream)
    for name in set(DOCUMENTED[stream]) - SPREAD - set(keys):
        assert "null" in properties[name]["type"], f"{stream}.{name} is not nullable"


def test_new_times_are_date_times_and_dates_stay_dates() -> None:
    deals = schema_properties("deals")
    assert deals["archive_time"]["format"] == "date-time"
    for name in ("local_won_date", "local_lost_date", "local_close_date"):
        assert deals[name]["format"] == "date"


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """One sync of every stream (mailbox and deal products too) of a small company."""
    from pipedrive_sandbox import Sandbox

    with Sandbox(seed=1, size="small").start() as sb:
        config = config_for(sb)
        catalog = catalog_selecting(config, {s.name for s in STREAMS})
        _typing._warn_unmapped_properties.cache_clear()  # warned once per process otherwise
        handler = _Collect()
        logging.getLogger().addHandler(handler)
        try:
            out = run(config, catalog=catalog)
        finally:
            logging.getLogger().removeHandler(handler)
    return out, handler.messages


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.slow  # one sync of every stream: minutes on a busy machine
def test_no_field_of_the_sandbox_is_dropped_for_want_of_a_schema(synced) -> None:
    _, warnings = synced
    dropped = [m for m in warnings if "not found in catalog schema" in m]
    assert not dropped, dropped


@pytest.mark.slow  # one sync of every stream: minutes on a busy machine
@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_a_sync_emits_every_documented_property(synced, stream: str) -> None:
    out, _ = synced
    records = out.records[stream]
    assert records, f"{stream}: no records"
    seen = set().union(*records)
    missing = set(DOCUMENTED[stream]) - SPREAD - seen
    assert not missing, f"{stream}: documented but never emitted: {sorted(missing)}"
    assert not SPREAD & seen, f"{stream} still carries custom_fields"


@pytest.mark.slow  # one sync of every stream: minutes on a busy machine
@pytest.mark.parametrize("stream", sorted(EXAMPLE_ONLY))
def test_fields_known_from_examples_carry_values(synced, stream: str) -> None:
    out, _ = synced
    for name in EXAMPLE_ONLY[stream]:
        assert name in DOCUMENTED[stream]
        values = [r[name] for r in out.records[stream] if r.get(name) is not None]
        assert values, f"{stream}.{name} is never filled in"


@pytest.fixture(scope="module")
def deals_synced():
    """One sync of the deals alone of the same small company: what the check below reads, in
    seconds (the sync of every stream above takes minutes)."""
    from pipedrive_sandbox import Sandbox

    with Sandbox(seed=1, size="small").start() as sb:
        config = config_for(sb)
        return run(config, catalog=catalog_selecting(config, {"deals"}))


def test_example_only_times_are_normalised_and_dates_are_dates(deals_synced) -> None:
    deals = deals_synced.records["deals"]
    archived = [d for d in deals if d["is_archived"]]
    assert archived
    assert all(RFC3339.match(d["archive_time"]) for d in archived)
    assert all(d["archive_time"] is None for d in deals if not d["is_archived"])
    won = [d for d in deals if d["status"] == "won"]
    assert won
    for deal in won:
        assert DATE.match(deal["local_won_date"])
        assert deal["local_close_date"] == deal["local_won_date"] == deal["won_time"][:10]
        assert deal["creator_user_id"] == deal["owner_id"]
