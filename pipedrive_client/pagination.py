"""Page generators for both API generations. They stream: one page in memory at a time.

Each page carries where the next one starts (a v2 cursor or a v1 offset), so a caller can save
it and resume a listing mid-way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .session import PacedSession, body_of

logger = logging.getLogger("pipedrive_client")

# A continuation page that comes back with `data: null` contradicts the previous page's promise
# of more; the live API does this now and then. Read it again a few times before believing it.
# v2 lists answer an empty result with `data: []`, so on v2 every `data: null` page is suspect:
# believing one on a first page would, for field definitions, drop every custom column.
EMPTY_CONTINUATION_REREADS = 3
# The first page of a v1 list answers `data: null` when the list is empty, which a glitch looks
# exactly like. Believing a glitch drops a whole stream for the run (and, in a full-refresh run
# of a reference stream, its whole table downstream), so it is read once more: a list that is
# really empty costs one extra request.
EMPTY_FIRST_PAGE_REREADS = 1


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    next: str | int | None  # v2 cursor or v1 start offset of the following page; None at the end
    body: dict[str, Any]


def iter_v2_pages(
    session: PacedSession,
    path: str,
    params: Mapping[str, Any] | None = None,
    limit: int = 500,
    cursor: str | None = None,
) -> Iterator[Page]:
    params = {**(params or {}), "limit": limit}
    while True:
        page_params = {**params, "cursor": cursor} if cursor else params
        body = _get_page(session, path, page_params, EMPTY_CONTINUATION_REREADS)
        cursor = ((body.get("additional_data") or {}).get("next_cursor")) or None
        yield Page(body.get("data") or [], cursor, body)
        if cursor is None:
            return


def iter_v1_pages(
    session: PacedSession,
    path: str,
    params: Mapping[str, Any] | None = None,
    limit: int = 500,
    start: int = 0,
    continuation: bool = False,
) -> Iterator[Page]:
    """`continuation=True`: the first page continues an earlier listing (a caller paging by
    keyset restarts at start=0 with a moved filter), so `data: null` there is re-read too."""
    params = {**(params or {}), "limit": limit}
    while True:
        rereads = (
            EMPTY_CONTINUATION_REREADS if continuation or start > 0 else EMPTY_FIRST_PAGE_REREADS
        )
        body = _get_page(session, path, {**params, "start": start}, rereads)
        records = body.get("data") or []
        more, next_start = _v1_pagination(body, start, len(records))
        if more and next_start <= start:
            # A page that promises more but does not move forward would loop forever.
            logger.warning("GET %s: pagination did not advance at start=%d; stopping.", path, start)
            more = False
        yield Page(records, next_start if more else None, body)
        if not more:
            return
        start = next_start


def get_unpaged(session: PacedSession, path: str) -> Page:
    """A v1 list that takes no paging parameters (users, currencies, ...): one response, with
    the first-page rule for `data: null`."""
    body = _get_page(session, path, {}, EMPTY_FIRST_PAGE_REREADS)
    return Page(body.get("data") or [], None, body)


def iter_records(pages: Iterator[Page]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page.records


def _get_page(
    session: PacedSession, path: str, params: Mapping[str, Any], rereads: int
) -> dict[str, Any]:
    for attempt in range(rereads + 1):
        body = body_of(session.get(path, params=params)) or {}
        if body.get("data") is not None:
            return body
        if attempt < rereads:
            session.stats.record_retry(0.0)
            logger.info("GET %s: a page came back with data null; reading it again.", path)
    return body


def _v1_pagination(body: Mapping[str, Any], start: int, count: int) -> tuple[bool, int]:
    """Notes and files nest the keys under `additional_data.pagination`; leads and the field
    lists put them directly under `additional_data`. Read both."""
    extra = body.get("additional_data") or {}
    pagination = extra.get("pagination") or extra
    more = bool(pagination.get("more_items_in_collection"))
    next_start = pagination.get("next_start")
    if next_start is None:
        next_start = start + count
    return more, int(next_start)
