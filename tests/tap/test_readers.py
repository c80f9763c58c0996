"""The reading algorithms, alone: plain generators over the client against the sandbox, no tap.
Lists that move while they are read lose nothing; batches come oldest first."""

from __future__ import annotations

import logging
from itertools import chain

import pytest

from pipedrive_client import PipedriveClient
from tap_pipedrive import readers
from tap_pipedrive.times import rfc3339

LOG = logging.getLogger("test-readers")


def _listing(client, path: str, page_size: int, **params) -> readers.Listing:
    return readers.Listing(client, path, params, page_size, _time_of, LOG)


def _time_of(record: dict) -> str:
    return rfc3339(record.get("update_time")) or ""


@pytest.fixture
def client_for():
    clients: list[PipedriveClient] = []

    def make(sb) -> PipedriveClient:
        client = PipedriveClient.from_settings({"api_url": sb.api_url, "api_token": sb.token})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize("entity", ["notes", "leads"])
def test_keyset_reads_records_updated_during_the_read_without_shifting_others_out(
    sandbox_factory, client_for, entity
) -> None:
    # v1 lists page by offset: an update moves a record from the first page to the end, and a
    # plain next offset would skip the record that slid into its place.
    sb = sandbox_factory(counts={entity: 1200})
    listing = _listing(
        client_for(sb),
        f"/api/v1/{entity}",
        500,
        updated_since="2000-01-01T00:00:00Z",
        sort="update_time ASC",
    )
    batches = readers.keyset_batches(listing)
    read = []
    for i, record in enumerate(chain.from_iterable(batches)):
        read.append(record["id"])
        if i == 499:
            sb.churn.update(entity, ids=read[:5])
    expected = set(sb.ids(entity, include_archived=False))
    assert set(read) == expected
    assert len(read) == len(expected) + 5  # the five updated ones come again, with their new time


def test_newest_first_reads_past_records_removed_during_the_read(
    sandbox_factory, client_for
) -> None:
    sb = sandbox_factory(counts={"files": 450})
    files = _listing(client_for(sb), "/api/v1/files", 100, sort="update_time DESC")
    records = readers.newest_first_records(files, "")
    read, removed = [], []
    for i, record in enumerate(records):
        read.append(record["id"])
        if i == 99:  # more removed from the first page than the overlap between pages
            removed = sb.churn.delete("files", ids=read[:15])
    assert set(sb.ids("files")) <= set(read)
    assert len(read) == len(set(read))
    assert removed


def test_newest_first_batches_come_oldest_first_down_to_since(sandbox_factory, client_for):
    sb = sandbox_factory(counts={"files": 450})
    files = _listing(client_for(sb), "/api/v1/files", 100, sort="update_time DESC")
    everything = [_time_of(r) for r in readers.newest_first_records(files, "")]
    since = sorted(everything)[300]
    batches = list(readers.newest_first_batches(files, since))
    times = [_time_of(r) for r in chain.from_iterable(batches)]
    assert times == sorted(times)
    assert times == sorted(t for t in everything if t >= since)
    assert all(len(b) <= 100 for b in batches)


def test_ascending_since_keeps_what_is_on_or_after_since(sandbox_factory, client_for) -> None:
    sb = sandbox_factory(counts={"files": 250})
    files = _listing(client_for(sb), "/api/v1/files", 100, sort="update_time ASC")
    every = [_time_of(r) for r in chain.from_iterable(readers.ascending_since_batches(files, ""))]
    since = every[120]
    kept = chain.from_iterable(readers.ascending_since_batches(files, since))
    assert [_time_of(r) for r in kept] == [t for t in every if t >= since]


def _r(i: int, minute: int) -> dict:
    return {"id": i, "update_time": f"2026-01-01T00:{minute:02d}:00Z"}


def test_in_order_drops_what_the_cursor_brings_back_and_sorts_the_last_page() -> None:
    page = [_r(1, 1), _r(2, 9), _r(3, 2), _r(4, 3)]  # 2 changed while the page was made
    assert [r["id"] for r in readers.in_order(page, True, _time_of, LOG)] == [1, 3, 4]
    assert [r["id"] for r in readers.in_order(page, False, _time_of, LOG)] == [1, 3, 4, 2]


def test_merged_batches_keep_the_order_of_time_then_id() -> None:
    one = iter([[_r(1, 1), _r(3, 3)], [_r(5, 5)]])
    two = iter([[_r(2, 2), _r(4, 3)]])
    merged = list(readers.merged_batches([one, two], _time_of, 2))
    assert [[r["id"] for r in b] for b in merged] == [[1, 2], [3, 4], [5]]


def test_oldest_first_reverses_through_a_spool() -> None:
    records = [_r(i, 59 - i) for i in range(50)]
    assert list(readers.oldest_first(records)) == records[::-1]
