"""Both pagination generations, streamed page by page, with `data: null` handled."""

import itertools
import time

import pytest

from pipedrive_client import OddPageError, iter_v1_pages

from .scripted_server import Reply

IDS = list(range(1, 1238))


def v2_pages(query: dict) -> Reply:
    limit = int(query["limit"])
    start = int(query.get("cursor", "0"))
    chunk = IDS[start : start + limit]
    nxt = str(start + limit) if start + limit < len(IDS) else None
    return Reply(
        body={
            "success": True,
            "data": [{"id": i} for i in chunk],
            "additional_data": {"next_cursor": nxt},
        }
    )


def v1_pages(nested: bool):
    def answer(query: dict) -> Reply:
        start, limit = int(query["start"]), int(query["limit"])
        chunk = IDS[start : start + limit]
        more = start + limit < len(IDS)
        pag = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pag["next_start"] = start + limit
        extra = {"pagination": pag} if nested else pag
        return Reply(
            body={
                "success": True,
                "data": [{"id": i} for i in chunk] or None,
                "additional_data": extra,
            }
        )

    return answer


def test_v2_cursor_pagination_is_complete(server, make_client) -> None:
    server.handler_for("/api/v2/deals", v2_pages)
    client = make_client()
    ids = [r["id"] for r in client.list_deals(updated_since="2025-01-01T00:00:00Z")]
    assert ids == IDS
    seen = server.requests_to("/api/v2/deals")
    assert len(seen) == 3
    assert all(s.query["limit"] == "500" for s in seen)
    assert seen[0].query["updated_since"] == "2025-01-01T00:00:00Z"


def test_v1_pagination_nested_and_flat_is_complete(server, make_client) -> None:
    server.handler_for("/api/v1/notes", v1_pages(nested=True))
    server.handler_for("/api/v1/leads", v1_pages(nested=False))
    client = make_client()
    assert [r["id"] for r in client.list_notes()] == IDS
    assert [r["id"] for r in client.v1_list("/api/v1/leads")] == IDS


def test_pages_stream_one_at_a_time(server, make_client) -> None:
    server.handler_for("/api/v1/notes", v1_pages(nested=True))
    pages = iter_v1_pages(make_client().session, "/api/v1/notes", limit=100)
    first = next(pages)
    assert len(first.records) == 100
    assert first.next == 100
    assert len(server.requests_to("/api/v1/notes")) == 1  # nothing fetched ahead


def test_a_glitched_null_first_page_does_not_empty_the_list(server, make_client) -> None:
    """A `data: null` first page followed by the real one: every record is read."""
    server.on("/api/v1/notes", Reply(body={"success": True, "data": None}))
    server.handler_for("/api/v1/notes", v1_pages(nested=True))
    assert [r["id"] for r in make_client().list_notes()] == IDS


def test_null_data_on_a_first_page_is_read_once_more_then_taken_as_empty(
    server, make_client
) -> None:
    server.on(
        "/api/v1/notes",
        Reply(
            body={
                "success": True,
                "data": None,
                "additional_data": {
                    "pagination": {"start": 0, "limit": 500, "more_items_in_collection": False}
                },
            }
        ),
    )
    client = make_client()
    assert list(client.list_notes()) == []
    assert len(server.requests_to("/api/v1/notes")) == 2


def test_null_continuation_page_is_read_again_not_taken_as_the_end(server, make_client) -> None:
    answer = v2_pages
    server.on(
        "/api/v2/deals", answer({"limit": "500"}), Reply(body={"success": True, "data": None})
    )
    server.handler_for("/api/v2/deals", answer)
    ids = [r["id"] for r in make_client().list_deals()]
    assert ids == IDS


def test_resume_from_a_saved_cursor(server, make_client) -> None:
    server.handler_for("/api/v2/deals", v2_pages)
    client = make_client()
    pages = client.v2_pages("/api/v2/deals", cursor="1000")
    assert [r["id"] for p in pages for r in p.records] == IDS[1000:]


def test_null_first_page_on_v2_is_read_again(server, make_client) -> None:
    server.on("/api/v2/dealFields", Reply(body={"success": True, "data": None}))
    server.handler_for("/api/v2/dealFields", v2_pages)
    ids = [r["id"] for r in make_client().v2_list("/api/v2/dealFields")]
    assert ids == IDS


def test_an_unpaged_list_answered_null_is_read_once_more(server, make_client) -> None:
    server.on(
        "/api/v1/users",
        Reply(body={"success": True, "data": None}),
        Reply(body={"success": True, "data": [{"id": 1}]}),
    )
    assert make_client().v1_unpaged("/api/v1/users").records == [{"id": 1}]


# -- pages that keep answering oddly: read again with backoff, then fail; never skipped ---------

NULL_PAGE = Reply(body={"success": True, "data": None})


def _quick(make_client, **settings):
    return make_client(odd_page_wait_seconds=0.3, **settings)


def test_a_continuation_page_that_stays_null_fails_the_listing(server, make_client) -> None:
    """Before: three quick re-reads, then the page was taken as empty and its records skipped."""
    server.on("/api/v2/deals", v2_pages({"limit": "500"}))
    server.handler_for("/api/v2/deals", lambda q: NULL_PAGE)
    read: list[int] = []
    with pytest.raises(OddPageError, match=r"GET /api/v2/deals: a page answered data: null"):
        read.extend(r["id"] for r in _quick(make_client).list_deals())
    assert read == IDS[:500]  # what came before the odd page, and nothing after it
    seen = server.requests_to("/api/v2/deals")
    assert all(s.query.get("cursor") == "500" for s in seen[1:])


def test_rereads_are_spread_with_backoff_within_the_bound(server, make_client) -> None:
    server.handler_for("/api/v2/dealFields", lambda q: NULL_PAGE)
    client = make_client(
        odd_page_wait_seconds=1.0, backoff_base_seconds=0.05, backoff_cap_seconds=10
    )
    started = time.monotonic()
    with pytest.raises(OddPageError):
        list(client.v2_list("/api/v2/dealFields"))
    elapsed = time.monotonic() - started
    times = [s.at for s in server.requests_to("/api/v2/dealFields")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 5  # waits of 0.05, 0.1, 0.2, 0.4 fit in 1 s; 0.8 more would not
    assert all(b > a for a, b in itertools.pairwise(gaps))  # each wait longer than the last
    assert elapsed < 2.0


def test_a_field_definition_list_answered_null_is_never_taken_as_empty(server, make_client):
    """Before: believed after three re-reads, and every custom column of the run was dropped."""
    server.handler_for("/api/v2/personFields", lambda q: NULL_PAGE)
    with pytest.raises(OddPageError):
        list(_quick(make_client).v2_list("/api/v2/personFields"))


@pytest.mark.parametrize("body", [None, [], "null"], ids=["null body", "list body", "string"])
def test_a_body_that_is_not_an_object_is_never_the_end_of_a_list(server, make_client, body):
    """Before: a `null` body on a first page ended the listing, as if empty, with success."""
    server.handler_for("/api/v1/notes", lambda q: Reply(body=b"null" if body is None else body))
    with pytest.raises(OddPageError, match="GET /api/v1/notes"):
        list(_quick(make_client).list_notes())


def test_a_v1_first_page_null_without_pagination_is_suspect(server, make_client) -> None:
    """The glitch carries no pagination block; a really empty v1 list says it has no more."""
    server.on("/api/v1/notes", NULL_PAGE, NULL_PAGE)
    server.handler_for("/api/v1/notes", v1_pages(nested=True))
    assert [r["id"] for r in _quick(make_client).list_notes()] == IDS


def test_a_v1_continuation_page_that_stays_null_fails(server, make_client) -> None:
    server.on("/api/v1/notes", v1_pages(nested=True)({"start": "0", "limit": "500"}))
    server.handler_for("/api/v1/notes", lambda q: NULL_PAGE)
    with pytest.raises(OddPageError):
        list(_quick(make_client).list_notes())


def test_a_v2_cursor_that_does_not_advance_stops_the_listing(server, make_client) -> None:
    """Before: the same two pages were read for ever."""

    def looping(query: dict) -> Reply:
        nxt = "b" if query.get("cursor") != "b" else "a"
        return Reply(
            body={"success": True, "data": [{"id": 1}], "additional_data": {"next_cursor": nxt}}
        )

    server.handler_for("/api/v2/deals", looping)
    with pytest.raises(OddPageError, match="cursor already read"):
        list(make_client().list_deals())
    assert len(server.requests_to("/api/v2/deals")) == 3  # first, b, a: then a was seen


def test_a_v1_listing_that_does_not_advance_fails_instead_of_ending(server, make_client) -> None:
    """Before: a warning, and the listing ended as if complete."""
    stuck = {
        "pagination": {"start": 0, "limit": 500, "more_items_in_collection": True, "next_start": 0}
    }
    server.handler_for(
        "/api/v1/notes",
        lambda q: Reply(body={"success": True, "data": [{"id": 1}], "additional_data": stuck}),
    )
    with pytest.raises(OddPageError, match="next page starts where this one did"):
        list(make_client().list_notes())


EMPTY_V1 = {
    "success": True,
    "data": None,
    "additional_data": {
        "pagination": {"start": 0, "limit": 500, "more_items_in_collection": False}
    },
}


def test_a_per_record_list_that_says_it_is_empty_is_believed_at_once(server, make_client):
    """A deal's participants, an organization's relationships: most records have none, so an
    empty answer with its pagination block is one request, not two; the glitch (no pagination
    block) is still read again."""
    path = "/api/v1/deals/7/participants"
    server.on(path, Reply(body=EMPTY_V1))
    client = make_client()
    assert [p.records for p in client.v1_pages(path, per_record=True)] == [[]]
    assert len(server.requests_to(path)) == 1
    relations = "/api/v1/organizationRelationships"
    server.on(relations, Reply(body=EMPTY_V1))
    assert client.v1_per_record(relations, {"org_id": 3}).records == []
    assert len(server.requests_to(relations)) == 1
    server.on(path, NULL_PAGE)
    server.handler_for(path, v1_pages(nested=True))
    records = [r for p in _quick(make_client).v1_pages(path, per_record=True) for r in p.records]
    assert [r["id"] for r in records] == IDS
