"""Page generators for both API generations. They stream: one page in memory at a time.

Each page carries where the next one starts (a v2 cursor or a v1 offset), so a caller can save
it and resume a listing mid-way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import OddPageError
from .session import PacedSession, body_of

logger = logging.getLogger("pipedrive_client")

# A page that answers `data: null` (or a body that is not an object) where records must be is
# read again with backoff over a bounded time, then the listing fails: taking it as empty would
# skip its records for good (the cursor moves past it), or drop every custom column when it is a
# field-definition list. v2 answers an empty result with `data: []`, and a v1 continuation page
# follows a page that promised more, so on those every `data: null` is suspect.
# The one answer that may really be empty is the first page of a v1 list (v1 answers an empty
# result with `data: null` and a pagination block saying there is no more): that one is read once
# more, then believed. Believing it emits nothing, so no bookmark moves.
EMPTY_FIRST_PAGE_REREADS = 1
# Except a list per parent record (a deal's participants, an organization's relationships):
# most records have none, so rereading each empty answer would double the cost; there an empty
# answer that says so (its pagination block) is believed at once, and only the glitch is read
# again.
PER_RECORD_EMPTY_REREADS = 0


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
    sent = {cursor} if cursor else set()
    while True:
        page_params = {**params, "cursor": cursor} if cursor else params
        body = _read_page(session, path, page_params, _NEVER_EMPTY)
        cursor = ((body.get("additional_data") or {}).get("next_cursor")) or None
        if cursor in sent:
            # A cursor that leads back to a page already read would loop for ever.
            raise OddPageError(
                f"GET {path}: the API answered with a cursor already read in this listing; "
                "stopped rather than read the same pages for ever. Run again later.",
                endpoint=f"GET {path}",
            )
        sent.add(cursor)
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
    per_record: bool = False,
) -> Iterator[Page]:
    """`continuation=True`: the first page continues an earlier listing (a caller paging by
    keyset restarts at start=0 with a moved filter), so `data: null` there is suspect too.
    `per_record=True`: a list of one parent record's children (see PER_RECORD_EMPTY_REREADS)."""
    params = {**(params or {}), "limit": limit}
    rereads = PER_RECORD_EMPTY_REREADS if per_record else EMPTY_FIRST_PAGE_REREADS
    while True:
        first = not (continuation or start > 0)
        kind = _V1_FIRST if first else _NEVER_EMPTY
        body = _read_page(session, path, {**params, "start": start}, kind, rereads)
        records = body.get("data") or []
        more, next_start = _v1_pagination(body, start, len(records))
        if more and next_start <= start:
            raise OddPageError(
                f"GET {path}: the API promised more records but the next page starts where this "
                f"one did (start={start}); stopped rather than loop or skip. Run again later.",
                endpoint=f"GET {path}",
            )
        yield Page(records, next_start if more else None, body)
        if not more:
            return
        start = next_start


def get_unpaged(session: PacedSession, path: str) -> Page:
    """A v1 list that takes no paging parameters (users, currencies, ...): one response; its
    `data: null` is read once more, then believed (it has no pagination block to check)."""
    body = _read_page(session, path, {}, _UNPAGED)
    return Page(body.get("data") or [], None, body)


def get_per_record(session: PacedSession, path: str, params: Mapping[str, Any]) -> Page:
    """A v1 list of one parent record's children that takes no paging parameters (an
    organization's relationships): one response, read as a first page that may be empty
    (see PER_RECORD_EMPTY_REREADS)."""
    body = _read_page(session, path, params, _V1_FIRST, PER_RECORD_EMPTY_REREADS)
    return Page(body.get("data") or [], None, body)


def iter_records(pages: Iterator[Page]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page.records


# What a `data: null` answer may mean, by where it comes from.
_NEVER_EMPTY, _V1_FIRST, _UNPAGED = 0, 1, 2


def _read_page(
    session: PacedSession,
    path: str,
    params: Mapping[str, Any],
    kind: int,
    empty_rereads: int = EMPTY_FIRST_PAGE_REREADS,
) -> dict[str, Any]:
    """The page's body; an odd answer is read again with backoff over at most
    `odd_page_wait_seconds`, then the listing fails with OddPageError."""
    config = session.config
    waited, tries = 0.0, 0
    while True:
        tries += 1
        body = body_of(session.get(path, params=params))
        if isinstance(body, dict) and body.get("data") is not None:
            return body
        what = "data: null" if isinstance(body, dict) else f"a {type(body).__name__} body"
        if _may_be_empty(body, kind):
            if not empty_rereads:
                return body
            empty_rereads -= 1
            wait = 0.0
        else:
            wait = min(config.backoff_cap_seconds, config.backoff_base_seconds * 2 ** (tries - 1))
            if waited + wait > config.odd_page_wait_seconds:
                raise OddPageError(
                    f"GET {path}: a page answered {what} {tries} times over {waited:.0f} s; "
                    "stopped so that its records are not skipped. Run again later.",
                    endpoint=f"GET {path}",
                )
        session.stats.record_retry()
        logger.info("GET %s: a page answered %s; reading it again in %.1f s.", path, what, wait)
        with session.stats.waiting():
            time.sleep(wait)
        waited += wait


def _may_be_empty(body: Any, kind: int) -> bool:
    """An empty list as v1 answers one: `data: null`, and for a paged list a pagination block
    that says there is no more (the glitch we have seen carries no pagination at all)."""
    if not isinstance(body, dict) or kind == _NEVER_EMPTY:
        return False
    if kind == _UNPAGED:
        return True
    extra = body.get("additional_data")
    if not isinstance(extra, dict):
        return False
    pagination = extra.get("pagination") or extra
    return "more_items_in_collection" in pagination and not pagination["more_items_in_collection"]


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
