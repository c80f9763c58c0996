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


def test_two_moves_in_one_second_are_two_rows() -> None:
    deal = {"id": 4, "stage_id": 3, "pipeline_id": 1, "add_time": "2026-01-01T00:00:00Z"}
    entries = [
        _entry("stage_id", "2", "3", "2026-03-01 00:00:00"),
        _entry("stage_id", "1", "2", "2026-03-01 00:00:00"),
    ]
    rows = list(history.stage_changes(entries, deal, whole=True))
    assert [(r["from_stage_id"], r["to_stage_id"]) for r in rows] == [(None, 1), (1, 2), (2, 3)]


def test_a_log_that_records_the_creation_gives_one_first_stage_row() -> None:
    deal = {"id": 5, "stage_id": 2, "pipeline_id": 1, "add_time": "2026-01-01T00:00:00Z"}
    entries = [
        _entry("stage_id", "1", "2", "2026-02-01 00:00:00"),
        _entry("stage_id", None, "1", "2026-01-01 00:00:00"),
    ]
    rows = list(history.stage_changes(entries, deal, whole=True))
    assert [(r["from_stage_id"], r["to_stage_id"]) for r in rows] == [(None, 1), (1, 2)]


def test_a_deal_that_never_moved_starts_and_stays_in_its_stage() -> None:
    deal = {"id": 3, "stage_id": 4, "pipeline_id": 1, "add_time": "2026-01-02T00:00:00Z"}
    (row,) = history.stage_changes([], deal, whole=True)
    assert (row["from_stage_id"], row["to_stage_id"], row["time"]) == (None, 4, deal["add_time"])


def test_the_backlog_keeps_ranges_of_ids_in_the_state_and_gives_them_back_in_order() -> None:
    state: dict = {}
    backlog = history.Backlog(state)
    for deal in [*range(1, 501), 700, 702]:
        backlog.add(deal, None)
    backlog.add(9, "2026-03-01T00:00:00Z")  # already waiting for its whole history
    backlog.add(800, "2026-03-01T00:00:00Z")
    assert state["history_backlog"] == {
        "": [[1, 500], [700, 700], [702, 702]],
        "2026-03-01T00:00:00Z": [[800, 800]],
    }
    again = history.Backlog(state)  # as the next run loads it
    assert len(again) == 503
    assert again.take(2, newest_first=True) == [(800, "2026-03-01T00:00:00Z"), (702, None)]
    assert again.take(2, newest_first=False) == [(1, None), (2, None)]
    assert len(history.Backlog(state)) == 499  # what was taken left the state


def test_the_budget_is_the_cap_or_a_share_of_the_daily_budget_left() -> None:
    from pipedrive_client import ConfigError
    from tap_pipedrive import settings

    assert settings.history_tokens({}, 1_000_000) == 20_000
    assert settings.history_tokens({"history_daily_share": 0.5}, 10_000) == 5_000
    assert settings.history_tokens({"history_daily_share": 0.5}, None) == 20_000
    assert settings.history_tokens({"history_max_tokens": 100}, None) == 100
    import pytest

    with pytest.raises(ConfigError, match="history_daily_share"):
        settings.history_tokens({"history_daily_share": 2}, None)
