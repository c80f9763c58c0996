"""A large list read in time windows at once is the list read as one chain: the same records in
the same order, the same bookmarks; windows open only when the writer waits on the network."""

from __future__ import annotations

import logging

import pytest

from pipedrive_client.read_ahead import READ_AHEAD_URGENCY
from tap_pipedrive import overlap, windows
from tap_pipedrive.readers import Listing

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


class _Client:
    """A client whose answers take 1 s and whose limit allows `rate` requests a second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def fastest_round_trip(self) -> float:
        return 1.0

    def requests_per_second(self) -> float:
        return self.rate


def _windowed_listing(client, begun: int, pages: list[float]):
    """A listing begun `begun`-th whose windows have these pages left (one a day, 500 a page)."""
    since = "2026-01-01T00:00:00Z"
    listing = Listing(client, "/api/v2/x", {"updated_since": since}, 500, str, logging.getLogger())
    windowed = windows.WindowedListing(listing, max_windows=8)
    windowed._begun, windowed._ceiling = begun, windows._seconds(since) + 86_400 * len(pages)
    for day, left in enumerate(pages):
        window = windows._Window(windows._time(windows._seconds(since) + 86_400 * day), None)
        window.end = windows._time(windows._seconds(window.since) + 86_400)
        window.density = left * 500 / 86_400
        windowed._windows.append(window)
    return windowed


@pytest.fixture
def open_listings():
    made = []

    def make(client, begun, pages):
        windowed = _windowed_listing(client, begun, pages)
        windows._OPEN.add(windowed)
        made.append(windowed)
        return windowed

    yield make
    for windowed in made:
        windows._OPEN.discard(windowed)


def test_a_chain_that_would_outlast_the_run_goes_before_the_order_of_writing(open_listings):
    # 10 requests a second, 1 s a page: 42 pages left need about 4 s of the limit. The 30-page
    # window of the list written second outlasts them, and so does the first list's 10-page
    # one; the longest goes first. A 2-page window waits its turn in the order of writing.
    client = _Client(rate=10.0)
    first = open_listings(client, 0, [10, 2])
    second = open_listings(client, 1, [30])
    ten, two = first._windows
    (thirty,) = second._windows
    assert first._urgency(ten) < second._urgency(thirty)
    assert first._urgency(two) < first._urgency(ten)
    # The writer reads the first list: both its windows go before everything, in time order.
    first._written = True
    assert first._urgency(ten) > first._urgency(two) > second._urgency(thirty)
    assert first._urgency(two) > READ_AHEAD_URGENCY  # and before the v1 lists read ahead


def test_with_the_limit_setting_the_time_windows_go_in_the_order_of_writing(open_listings):
    # 1 request a second: the 9 pages left need 9 s of the limit, more than any chain (5 pages,
    # 1.5 times: 7.5 s). The list written first goes first, though its chain is shorter.
    client = _Client(rate=1.0)
    first = open_listings(client, 0, [3])
    second = open_listings(client, 1, [5])
    assert first._urgency(first._windows[0]) > second._urgency(second._windows[0])


def test_the_list_written_first_is_weighed_at_the_pace_its_pages_come(open_listings):
    # 1 s round trips, 1 request a second, one list left with 20 pages in one window: at the
    # fastest trip its chain (20 s) ends before the limit lets 21 requests through (21 s), so
    # no cut. Its pages each took 1.4 s (the wait at the limit, a slower trip, the records'
    # preparation): at that pace it outlasts them (28 s), and a cut pays off.
    client = _Client(rate=1.0)
    first = open_listings(client, 0, [20])
    (only,) = first._windows
    assert not first._outlasts_the_rest(only, 20)
    only.seconds_per_page = 1.4
    assert first._outlasts_the_rest(only, 20)
    # A list read ahead is weighed at the fastest trip whatever its pages took: their waits
    # are for the lists before it, and end with them. 35 pages: 35 s against the 41 s the
    # limit needs for both lists' 40 pages and a cut's (49 s at 1.4 s a page).
    later = open_listings(client, 1, [20])
    (ahead,) = later._windows
    ahead.seconds_per_page = 1.4
    assert not later._outlasts_the_rest(ahead, 35)
