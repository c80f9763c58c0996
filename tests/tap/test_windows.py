"""A large list read in time windows at once is the list read as one chain: the same records in
the same order, the same bookmarks; windows open only when the writer waits on the network."""

from __future__ import annotations

import pytest

from tap_pipedrive import overlap

from .runner import config_for, run

COUNTS = {"activities": 5000, "persons": 1600, "deals": 1200, "organizations": 900}
WINDOWED = ("/api/v2/activities", "/api/v2/persons", "/api/v2/deals", "/api/v2/organizations")


def _windowed_requests(sb) -> int:
    """List requests that began a window after the first (they carry `updated_until` or start
    after the anchor)."""
    anchor = "2020-01-01T00:00:00Z"
    return sum(
        1
        for r in sb.request_log()
        if r["path"] in WINDOWED
        and not r["query"].get("cursor")
        and (r["query"].get("updated_until") or r["query"].get("updated_since", anchor) > anchor)
    )


def test_windows_read_the_same_records_in_the_same_order_with_the_same_state(
    sandbox_factory, monkeypatch
) -> None:
    sb = sandbox_factory(size="small", counts=COUNTS)
    chain = run(config_for(sb, time_windows=1))
    assert _windowed_requests(sb) == 0
    sb.reset_stats()
    monkeypatch.setenv(overlap.EAGER_ENV, "1")
    windowed = run(config_for(sb, time_windows=6))
    assert _windowed_requests(sb) >= 4, "the lists must really have been read in windows"
    for stream in ("activities", "persons", "deals", "organizations"):
        assert windowed.records[stream] == chain.records[stream], stream
    assert windowed.state == chain.state


def test_windows_open_under_latency_and_change_nothing(sandbox_factory) -> None:
    sb = sandbox_factory(size="small", counts=COUNTS, faults="latency=0.15")
    shipped = run(config_for(sb, read_ahead_streams=0))
    assert _windowed_requests(sb) >= 1
    windowed_cost = _list_requests(sb)
    sb.reset_stats()
    chain = run(config_for(sb, read_ahead_streams=0, time_windows=1))
    for stream in ("activities", "persons", "deals", "organizations"):
        assert shipped.records[stream] == chain.records[stream], stream
    assert shipped.state == chain.state
    # A cut costs about one request (the page that reads past the window's new end).
    assert windowed_cost <= 1.5 * _list_requests(sb)


def _list_requests(sb) -> int:
    return sum(1 for r in sb.request_log() if r["path"] in WINDOWED)


@pytest.mark.parametrize("value", [0, 33])
def test_time_windows_must_be_a_small_whole_number(sandbox_factory, value) -> None:
    # Other types are turned away by the settings schema first (see test_cli).
    from pipedrive_client import ConfigError
    from tap_pipedrive.tap import TapPipedrive

    sb = sandbox_factory()
    with pytest.raises(ConfigError, match=f"time_windows '{value}' must be a whole number"):
        TapPipedrive(config=config_for(sb, time_windows=value))


def test_windows_stay_shut_on_a_fast_network_with_room_in_the_limit(sandbox_factory) -> None:
    # No latency, no wait for the limit: every list's chain of pages is far shorter than the
    # time the limit needs for all of them, so a cut would only add a request.
    sb = sandbox_factory(size="small", counts=COUNTS, plan="premium")
    run(config_for(sb))
    assert _windowed_requests(sb) == 0
