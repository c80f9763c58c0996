"""Pagination, filters and sorting as the API does them."""

import pytest

from .helpers import all_v1, all_v2, call, get


@pytest.mark.parametrize("entity", ["deals", "persons", "organizations", "activities", "products"])
def test_v2_cursor_pagination_returns_every_visible_record_once(sandbox_factory, entity) -> None:
    sb = sandbox_factory(size="small")
    ids = [r["id"] for r in all_v2(sb, f"/api/v2/{entity}", limit=37)]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(sb.ids(entity, include_archived=entity != "deals"))


def test_v2_sorted_by_update_time_with_updated_since_is_inclusive(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    rows = all_v2(sb, "/api/v2/deals", limit=500, sort_by="update_time")
    times = [r["update_time"] for r in rows]
    assert times == sorted(times)
    pivot = times[len(times) // 2]
    since = all_v2(sb, "/api/v2/deals", limit=100, sort_by="update_time", updated_since=pivot)
    assert [r["id"] for r in since] == [r["id"] for r in rows if r["update_time"] >= pivot]
    until = all_v2(sb, "/api/v2/deals", limit=100, updated_until=pivot)
    assert {r["id"] for r in until} == {r["id"] for r in rows if r["update_time"] < pivot}


def test_sort_direction_desc(sandbox) -> None:
    rows = get(sandbox, "/api/v2/persons", sort_by="update_time", sort_direction="desc", limit=500)[
        "data"
    ]
    times = [r["update_time"] for r in rows]
    assert times == sorted(times, reverse=True)


def test_limit_over_the_maximum_is_refused(sandbox) -> None:
    response = call(sandbox, "GET", "/api/v2/deals", params={"limit": 501})
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert call(sandbox, "GET", "/api/v1/files", params={"limit": 101}).status_code == 400


@pytest.mark.parametrize(
    ("path", "entity", "nested"),
    [
        ("/api/v1/notes", "notes", True),
        ("/api/v1/files", "files", True),
        ("/api/v1/leads", "leads", False),
    ],
)
def test_v1_pagination_is_complete(sandbox_factory, path, entity, nested) -> None:
    sb = sandbox_factory(size="small")
    body = get(sb, path, limit=7)
    assert ("pagination" in body["additional_data"]) is nested
    ids = [r["id"] for r in all_v1(sb, path, limit=7 if entity != "files" else 9)]
    assert len(ids) == len(set(ids))
    expected = [
        i
        for i in sb.ids(entity)
        if not (entity == "leads" and sb.store.get("leads", i)["is_archived"])
    ]
    assert sorted(ids, key=str) == sorted(expected, key=str)


def test_empty_v1_page_has_null_data(sandbox) -> None:
    body = get(sandbox, "/api/v1/notes", updated_since="2100-01-01T00:00:00Z")
    assert body["data"] is None
    assert body["additional_data"]["pagination"]["more_items_in_collection"] is False


def test_v1_leads_updated_since_and_sort(sandbox) -> None:
    rows = all_v1(sandbox, "/api/v1/leads", limit=500, sort="update_time ASC")
    times = [r["update_time"] for r in rows]
    assert times == sorted(times)
    pivot = times[len(times) // 2]
    since = all_v1(sandbox, "/api/v1/leads", limit=500, sort="update_time ASC", updated_since=pivot)
    assert [r["id"] for r in since] == [r["id"] for r in rows if r["update_time"] >= pivot]


def test_deleted_deals_only_with_status_deleted_and_archived_only_in_archived(
    sandbox_factory,
) -> None:
    sb = sandbox_factory(size="small")
    plain = {r["id"] for r in all_v2(sb, "/api/v2/deals", limit=500)}
    everything = {
        r["id"]: r for r in all_v2(sb, "/api/v2/deals", limit=500, status="open,won,lost,deleted")
    }
    archived = {r["id"]: r for r in all_v2(sb, "/api/v2/deals/archived", limit=500)}
    deleted = {i for i, r in everything.items() if r["is_deleted"]}
    assert deleted
    assert not deleted & plain
    assert all(everything[i]["status"] == "deleted" for i in deleted)
    assert archived
    assert all(r["is_archived"] for r in archived.values())
    assert not set(archived) & plain


def test_archived_leads_only_in_the_archived_list(sandbox_factory) -> None:
    sb = sandbox_factory(size="small")
    active = {r["id"] for r in all_v1(sb, "/api/v1/leads", limit=500)}
    archived = {r["id"] for r in all_v1(sb, "/api/v1/leads/archived", limit=500)}
    assert archived
    assert not active & archived


def test_deleted_records_are_purged_after_30_days(sandbox) -> None:
    (deal_id,) = sandbox.churn.delete("deals", n=1)
    seen = {r["id"] for r in all_v2(sandbox, "/api/v2/deals", status="deleted", limit=500)}
    assert deal_id in seen
    sandbox.churn.advance_clock(31 * 86400)
    seen = {r["id"] for r in all_v2(sandbox, "/api/v2/deals", status="deleted", limit=500)}
    assert deal_id not in seen


def test_deal_products_in_bulk(sandbox) -> None:
    deal_ids = sandbox.ids("deals")[:20]
    rows = all_v2(
        sandbox, "/api/v2/deals/products", deal_ids=",".join(map(str, deal_ids)), limit=500
    )
    assert rows
    assert {r["deal_id"] for r in rows} <= set(deal_ids)


def test_mailbox_threads_and_messages(sandbox) -> None:
    threads = get(sandbox, "/api/v1/mailbox/mailThreads", folder="inbox")["data"]
    assert threads
    messages = get(sandbox, f"/api/v1/mailbox/mailThreads/{threads[0]['id']}/mailMessages")["data"]
    assert messages
    assert all(m["mail_thread_id"] == threads[0]["id"] for m in messages)
    one = get(sandbox, f"/api/v1/mailbox/mailMessages/{messages[0]['id']}")["data"]
    assert one["id"] == messages[0]["id"]


def test_same_seed_same_data_other_seed_other_data(sandbox_factory) -> None:
    a, b, c = (sandbox_factory(seed=s) for s in (1, 1, 2))
    first = get(a, "/api/v2/persons", limit=500)["data"]
    assert first == get(b, "/api/v2/persons", limit=500)["data"]
    assert first != get(c, "/api/v2/persons", limit=500)["data"]


def test_recents_lists_changes_since_a_time_of_the_given_items(sandbox) -> None:
    files = all_v1(sandbox, "/api/v1/files", limit=100, sort="update_time DESC")
    pivot = files[len(files) // 2]["update_time"]
    changed = all_v1(sandbox, "/api/v1/recents", since_timestamp=pivot, items="file", limit=7)
    assert {c["item"] for c in changed} == {"file"}
    assert sorted(c["id"] for c in changed) == sorted(
        f["id"] for f in files if f["update_time"] >= pivot
    )
    assert all(c["data"]["id"] == c["id"] for c in changed)
    body = get(sandbox, "/api/v1/recents", since_timestamp=pivot, items="file,user")
    assert {c["item"] for c in body["data"]} <= {"file", "user"}
    assert call(sandbox, "GET", "/api/v1/recents", params={"items": "file"}).status_code == 400


def test_note_fields_are_listed_in_v1(sandbox) -> None:
    fields = {f["key"]: f for f in get(sandbox, "/api/v1/noteFields")["data"]}
    assert {"content", "person_id", "update_time", "pinned_to_deal_flag"} <= set(fields)
    # The description's v1 field types have no `deal`, so no deal field is listed; a flag is a
    # Yes/No enum, as in its example.
    assert "deal_id" not in fields
    assert fields["pinned_to_deal_flag"]["field_type"] == "enum"
