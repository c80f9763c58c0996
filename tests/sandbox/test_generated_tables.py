"""Records generated on demand: the same record on every read, writes in their new place, and
nothing kept after a read."""

from pipedrive_sandbox import Sandbox

from .helpers import all_v1, all_v2, call, get


def test_a_record_is_the_same_on_every_read_and_in_every_list(sandbox) -> None:
    first = sandbox.store.get("deals", 7)
    assert sandbox.store.get("deals", 7) == first
    listed = {r["id"]: r for r in all_v2(sandbox, "/api/v2/deals", limit=500)}
    assert listed[7]["title"] == first["title"]
    assert listed[7]["person_id"] == first["person_id"]


def test_relations_point_at_real_records(sandbox) -> None:
    store = sandbox.store
    for activity in store.sorted_rows("activities")[:50]:
        deal = store.get("deals", activity["deal_id"])
        assert activity["person_id"] == deal["person_id"]
        assert activity["org_id"] == store.get("persons", deal["person_id"])["org_id"]
    for person in store.sorted_rows("persons")[:50]:
        if person["org_id"]:
            org = store.get("organizations", person["org_id"])
            assert person["emails"][0]["value"].endswith("@" + org["domain"])


def test_reading_a_list_keeps_no_records() -> None:
    sb = Sandbox(seed=3, size="small")
    table = sb.store.tables["activities"]
    assert len(table) == sb.store.counts["activities"]
    assert list(sb.store.sorted_rows("activities", "update_time"))
    assert table.overlay == {}


def test_an_update_moves_the_record_to_its_new_place_only(sandbox) -> None:
    oldest = get(sandbox, "/api/v2/persons", sort_by="update_time", limit=1)["data"][0]
    call(sandbox, "PATCH", f"/api/v2/persons/{oldest['id']}", json={"name": "Moved Person"})
    rows = all_v2(sandbox, "/api/v2/persons", sort_by="update_time", limit=100)
    ids = [r["id"] for r in rows]
    assert ids.count(oldest["id"]) == 1
    assert rows[-1]["id"] == oldest["id"]
    assert rows[-1]["name"] == "Moved Person"
    times = [r["update_time"] for r in rows]
    assert times == sorted(times)


def test_a_cursor_taken_before_a_write_still_continues_in_order(sandbox) -> None:
    first = get(sandbox, "/api/v2/deals", sort_by="update_time", limit=20)
    moved = first["data"][-1]["id"] + 0
    sandbox.churn.update("deals", ids=[first["data"][0]["id"]])
    rest = all_v2(
        sandbox,
        "/api/v2/deals",
        sort_by="update_time",
        limit=100,
        cursor=first["additional_data"]["next_cursor"],
    )
    seen = [r["id"] for r in first["data"]] + [r["id"] for r in rest]
    assert moved in seen
    assert set(seen) == set(sandbox.ids("deals", include_archived=False))


def test_deleted_generated_records_are_purged_and_written_ones_too(sandbox) -> None:
    sandbox.churn.delete("notes", n=2)
    visible_deleted = [
        i for i in sandbox.ids("notes", include_deleted=True) if i not in sandbox.ids("notes")
    ]
    assert len(visible_deleted) >= 2
    sandbox.churn.advance_clock(31 * 86400)
    assert set(sandbox.ids("notes", include_deleted=True)) == set(sandbox.ids("notes"))
    for rid in visible_deleted:
        assert sandbox.store.get("notes", rid) is None


def test_v1_leads_filter_by_person(sandbox) -> None:
    lead = all_v1(sandbox, "/api/v1/leads", limit=500)[0]
    rows = all_v1(sandbox, "/api/v1/leads", limit=500, person_id=lead["person_id"])
    assert rows
    assert {r["person_id"] for r in rows} == {lead["person_id"]}


def test_organization_search_matches_names_not_the_internal_domain(sandbox) -> None:
    org = sandbox.store.get("organizations", 1)
    by_name = get(sandbox, "/api/v2/organizations/search", term=org["name"], exact_match="true")
    assert [h["item"]["id"] for h in by_name["data"]["items"]] == [1]
    by_domain = get(sandbox, "/api/v2/organizations/search", term=org["domain"])
    assert by_domain["data"]["items"] == []


def test_deleted_generated_records_were_updated_after_they_were_added() -> None:
    with Sandbox(seed=1, size="medium").start() as sb:
        deleted = all_v2(sb, "/api/v2/deals", status="deleted", limit=500)
        assert deleted
        assert all(d["update_time"] >= d["add_time"] for d in deleted)
