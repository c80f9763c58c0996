"""History rows from change entries, alone: readable field names and labels, stable ids, and
stage moves walked back from the deal as it is now."""

from __future__ import annotations

from tap_pipedrive import history
from tap_pipedrive.custom_fields import CustomField

KEY = "a" * 40
TIER = CustomField(KEY, "Tier", "enum", "tier", {1: "Gold", 2: "Silver"})


def _entry(field: str, old, new, time: str, actor: int = 7) -> dict:
    return {
        "field_key": field,
        "old_value": old,
        "new_value": new,
        "actor_user_id": actor,
        "time": time,
        "change_source": "app",
        "change_source_user_agent": "Mozilla/5.0",
        "is_bulk_update_flag": False,
    }


def test_a_custom_field_change_has_its_column_name_and_option_labels() -> None:
    row = history.change_record(
        _entry(KEY, "1", "2", "2026-03-01 10:00:00"), "deal_id", 5, {KEY: TIER}
    )
    assert row["field"] == "tier"
    assert (row["old_label"], row["new_label"]) == ("Gold", "Silver")
    assert row["time"] == "2026-03-01T10:00:00Z"
    assert row["deal_id"] == 5


def test_the_change_id_is_the_same_on_every_read_and_differs_between_entries() -> None:
    entry = _entry("title", "a", "b", "2026-03-01 10:00:00")
    first = history.change_record(dict(entry), "deal_id", 5, {})["change_id"]
    again = history.change_record(dict(entry), "deal_id", 5, {})["change_id"]
    other = history.change_record({**entry, "new_value": "c"}, "deal_id", 5, {})["change_id"]
    elsewhere = history.change_record(dict(entry), "deal_id", 6, {})["change_id"]
    assert first == again
    assert len({first, other, elsewhere}) == 3


def test_stage_moves_walk_back_through_a_move_between_pipelines() -> None:
    deal = {"id": 9, "stage_id": 21, "pipeline_id": 2, "add_time": "2026-01-01T00:00:00Z"}
    entries = [  # newest first, as the API answers
        _entry("stage_id", "12", "21", "2026-03-01 00:00:00"),
        _entry("pipeline_id", "1", "2", "2026-03-01 00:00:00"),
        _entry("title", "x", "y", "2026-02-15 00:00:00"),
        _entry("stage_id", "11", "12", "2026-02-01 00:00:00", actor=8),
    ]
    rows = list(history.stage_changes(entries, deal, whole=True))
    moves = [(r["from_stage_id"], r["to_stage_id"], r["pipeline_id"], r["time"]) for r in rows]
    assert moves == [
        (None, 11, 1, "2026-01-01T00:00:00Z"),  # the first stage, at add_time
        (11, 12, 1, "2026-02-01T00:00:00Z"),
        (12, 21, 2, "2026-03-01T00:00:00Z"),
    ]
    assert rows[1]["actor_user_id"] == 8
    # an incremental read (not the whole history) has no first-stage row
    assert len(list(history.stage_changes(entries[:1], deal, whole=False))) == 1
    assert len({r["stage_change_id"] for r in rows}) == 3


def test_a_deal_that_never_moved_starts_and_stays_in_its_stage() -> None:
    deal = {"id": 3, "stage_id": 4, "pipeline_id": 1, "add_time": "2026-01-02T00:00:00Z"}
    (row,) = history.stage_changes([], deal, whole=True)
    assert (row["from_stage_id"], row["to_stage_id"], row["time"]) == (None, 4, deal["add_time"])
