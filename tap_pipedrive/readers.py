"""How each kind of list is read so that nothing is lost: plain generators over the shared client,
each yielding batches of records oldest first (one batch per request), so that a stream's
bookmark can move record by record. A stream, or a partition of one, picks its reader.

- `v2_batches`: v2 lists, `updated_since` + `sort_by=update_time` ascending, with the server's
  cursor, which continues after the last (update_time, id) read.
- `keyset_batches`: v1 lists with `updated_since` (notes, leads). Offsets move when a record in
  front of the offset changes during the read (it jumps to the end and the next page skips one
  record). So every page starts again at `start=0` with `updated_since` moved to the last second
  read; records already read on that second are skipped. Only a page made entirely of one
  second moves on by offset.
- `newest_first_batches`: v1 lists without `updated_since` (files, archived leads): newest
  first, down to the bookmark. Each next page overlaps the previous one by a few records, and a
  page that does not overlap (records removed while reading) steps back, so nothing slides past
  unseen. What was read is handed over oldest first (spooled to a temporary file).
- `merged_batches`: several sorted listings as one (the strict form of the deals list: one
  status a request).

`time_of(record)` gives a record's update_time in the stream's fixed-width RFC 3339 form, so
that string order is time order.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipedrive_client import PipedriveClient

from .times import rfc3339

Batch = list[dict[str, Any]]
TimeOf = Callable[[dict[str, Any]], str]

# Records re-read at the start of each next page of a newest-first list.
NEWEST_FIRST_OVERLAP = 10
# How many pages a newest-first read may step back when the list moved under it.
NEWEST_FIRST_MAX_STEPS_BACK = 20


@dataclass(frozen=True)
class Listing:
    """One list endpoint as a stream reads it: where, with which filters, in pages of what
    size, and how to tell a record's time."""

    client: PipedriveClient
    path: str
    params: Mapping[str, Any]
    page_size: int
    time_of: TimeOf
    log: logging.Logger

    def with_params(self, **params: Any) -> Listing:
        return replace(self, params={**self.params, **params})


def version(record: Mapping[str, Any]) -> tuple[Any, Any]:
    """A record version: the same id read again after an update is a new version."""
    return record.get("id"), record.get("update_time")


def in_order(records: Batch, more: bool, time_of: TimeOf, log: logging.Logger) -> Batch:
    """A page as the sort promised it. A record changed between the server's sort and its
    answer shows a time later than the page's last record: with more pages to come it is
    dropped here, because the cursor (or the next `updated_since`) brings it back later in
    this listing with its new time; on the last page the page is sorted instead. Either way
    the batch is sorted and a bookmark never runs ahead of what was read."""
    if not records:
        return records
    times = [time_of(r) for r in records]
    if all(a <= b for a, b in itertools.pairwise(times)):
        return records
    if more:
        kept = [r for r, t in zip(records, times, strict=True) if t <= times[-1]]
        log.info(
            "%d record(s) changed while the page was read; they come again later.",
            len(records) - len(kept),
        )
        return kept
    order = sorted(range(len(records)), key=times.__getitem__)
    return [records[i] for i in order]


def v2_batches(listing: Listing) -> Iterator[Batch]:
    pages = listing.client.v2_pages(listing.path, listing.params, limit=listing.page_size)
    for page in pages:
        yield in_order(page.records, page.next is not None, listing.time_of, listing.log)


def pages_batches(listing: Listing, generation: str) -> Iterator[Batch]:
    """A list read as it comes (full-table streams): one batch per page."""
    pages = listing.client.v2_pages if generation == "v2" else listing.client.v1_pages
    for page in pages(listing.path, listing.params, limit=listing.page_size):
        yield page.records


def keyset_batches(listing: Listing) -> Iterator[Batch]:
    """Oldest first through a v1 list whose params carry `updated_since`, each page restarting
    at `updated_since` = the last second read: an update during the read can not shift an
    unread record behind the offset. One batch of new records per page."""
    since, start = listing.params["updated_since"], 0
    seen: set[tuple[Any, Any]] = set()  # versions already read on or after `since`
    while True:
        page = _one_v1_page(listing.with_params(updated_since=since), start, bool(seen))
        ordered = in_order(page.records, page.next is not None, listing.time_of, listing.log)
        batch = [record for record in ordered if version(record) not in seen]
        if page.next is None or not page.records:
            yield batch
            return
        # Where the next page starts is worked out before the batch is handed over: the SDK
        # rewrites the records it is given (times to RFC 3339), and the versions in `seen` must
        # stay in the API's own format to match the next page's.
        last = rfc3339(page.records[-1].get("update_time"))
        if last and last > since:
            since, start = last, 0
            seen = {v for v in map(version, page.records) if rfc3339(v[1]) >= last}
        else:  # a whole page on one second: move through that second by offset
            start += len(page.records)
            seen.update(map(version, page.records))
        yield batch


def newest_first_batches(listing: Listing, since: str) -> Iterator[Batch]:
    """A list sorted `update_time DESC` (in the listing's params), read down to `since` and
    handed over oldest first."""
    return batched(oldest_first(newest_first_records(listing, since)), listing.page_size)


def newest_first_records(listing: Listing, since: str) -> Iterator[dict[str, Any]]:
    start, steps_back = 0, 0
    floor = None  # time of the last record taken: newest first, nothing may be newer
    seen: set[tuple[Any, Any]] = set()
    while True:
        page = _one_v1_page(listing, start, start > 0)
        records = page.records
        if (
            start > 0
            and records
            and version(records[0]) not in seen
            and steps_back < NEWEST_FIRST_MAX_STEPS_BACK
        ):
            # The overlap is gone: records ahead of us were removed while reading, and the list
            # moved up by more than the overlap. Step back a page.
            steps_back += 1
            listing.log.info("The list moved while being read; stepping back a page.")
            start = max(0, start - listing.page_size)
            continue
        for record in records:
            if version(record) in seen:
                continue
            seen.add(version(record))
            time = listing.time_of(record)
            if time < since:
                return
            if floor is not None and time > floor:
                # Changed while this read ran: newer than this run's bookmark will be, so the
                # next run reads it (taking it now would unsort the stream).
                continue
            floor = time
            yield record
        if page.next is None or not records:
            return
        start = max(int(page.next) - NEWEST_FIRST_OVERLAP, start + 1)


def ascending_since_batches(listing: Listing, since: str) -> Iterator[Batch]:
    """A v1 list without `updated_since` read whole, oldest first, keeping what is on or after
    `since` (for a list that can not be read newest first)."""
    for page in listing.client.v1_pages(listing.path, listing.params, limit=listing.page_size):
        ordered = in_order(page.records, page.next is not None, listing.time_of, listing.log)
        yield [record for record in ordered if listing.time_of(record) >= since]


def _one_v1_page(listing: Listing, start: int, continuation: bool) -> Any:
    pages = listing.client.v1_pages(
        listing.path,
        listing.params,
        limit=listing.page_size,
        start=start,
        continuation=continuation,
    )
    return next(iter(pages))


def merged_batches(
    listings: Iterable[Iterator[Batch]], time_of: TimeOf, page_size: int
) -> Iterator[Batch]:
    """Sorted listings as one sorted listing, by (update_time, id)."""

    def order(record: dict[str, Any]) -> tuple[str, Any]:
        return time_of(record), record.get("id")

    records = (itertools.chain.from_iterable(listing) for listing in listings)
    return batched(heapq.merge(*records, key=order), page_size)


def batched(records: Iterable[dict[str, Any]], size: int) -> Iterator[Batch]:
    records = iter(records)
    while batch := list(itertools.islice(records, size)):
        yield batch


def oldest_first(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Reverse a newest-first read without holding it in memory (spooled to a temporary file;
    after the first run it is only what changed since the bookmark)."""
    with tempfile.TemporaryFile() as spool:
        offsets = []
        for record in records:
            offsets.append(spool.tell())
            spool.write(json.dumps(record).encode() + b"\n")
        for offset in reversed(offsets):
            spool.seek(offset)
            yield json.loads(spool.readline())
