"""Deletes and merges a user makes, as the described operations answer them: deleted notes,
files and leads leave their lists (kept 30 days), a product taken off a deal leaves its products
and moves the deal, a merge deletes the record in the path and updates the one kept."""

from __future__ import annotations

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from pipedrive_sandbox import Sandbox

from .helpers import all_v1, all_v2, call, description, get

DAY_SECONDS = 86_400
# A deal's fields that move with its update_time: the sandbox dates a closed deal's close and
# its last stage change at its last update.
MOVED = {
    "update_time",
    "value",
    "stage_change_time",
    "won_time",
    "lost_time",
    "close_time",
    "local_won_date",
    "local_lost_date",
    "local_close_date",
}


def described(body: dict, version: str, path: str, method: str, status: str = "200") -> None:
    """`body` against the operation's response schema in the official description."""
    op = description(version)["paths"][path][method]
    OAS30Validator(op["responses"][status]["content"]["application/json"]["schema"]).validate(body)


def tokens(sb: Sandbox, endpoint: str) -> int:
    return sb.stats()["by_endpoint"][endpoint]["tokens"]


def delete(sb: Sandbox, path: str) -> requests.Response:
    return call(sb, "DELETE", path)


def merge(sb: Sandbox, table: str, rid: int, body) -> requests.Response:
    return call(sb, "PUT", f"/api/v1/{table}/{rid}/merge", json=body)


# -- notes, files, leads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "limit", "data"),
    [("notes", 500, lambda rid: True), ("files", 100, lambda rid: {"id": rid})],
)
def test_a_deleted_note_or_file_leaves_its_list_and_nothing_else_does(
    sandbox, table, limit, data
) -> None:
    before = all_v1(sandbox, f"/api/v1/{table}", limit=limit)
    rid = before[len(before) // 2]["id"]
    sandbox.reset_stats()
    response = delete(sandbox, f"/api/v1/{table}/{rid}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": data(rid)}
    described(response.json(), "v1", f"/{table}/{{id}}", "delete")
    assert tokens(sandbox, f"DELETE /api/v1/{table}/{{id}}") == 6
    after = all_v1(sandbox, f"/api/v1/{table}", limit=limit)
    assert after == [r for r in before if r["id"] != rid]
    assert sandbox.store.get(table, rid)["is_deleted"]  # kept, as deleted, for 30 days
    assert delete(sandbox, f"/api/v1/{table}/{rid}").status_code == 404  # already deleted
    missing = delete(sandbox, f"/api/v1/{table}/999999")
    assert (missing.status_code, missing.json()["success"]) == (404, False)


def test_a_deleted_lead_leaves_the_lead_lists_whether_archived_or_not(sandbox) -> None:
    live = all_v1(sandbox, "/api/v1/leads", limit=500)
    sandbox.churn.archive("leads", ids=[live[0]["id"]])
    lists = {"live": "/api/v1/leads", "archived": "/api/v1/leads/archived"}
    before = {name: all_v1(sandbox, path, limit=500) for name, path in lists.items()}
    gone = {before["live"][-1]["id"], before["archived"][0]["id"]}
    for rid in gone:
        response = delete(sandbox, f"/api/v1/leads/{rid}")
        assert response.status_code == 200
        assert response.json() == {"success": True, "data": {"id": rid}}
        described(response.json(), "v1", "/leads/{id}", "delete")
    for name, path in lists.items():
        after = all_v1(sandbox, path, limit=500)
        assert after == [r for r in before[name] if r["id"] not in gone]
    missing = delete(sandbox, "/api/v1/leads/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    described(missing.json(), "v1", "/leads/{id}", "delete", status="404")
    assert delete(sandbox, f"/api/v1/leads/{sorted(gone)[0]}").status_code == 404


def test_deleted_notes_files_and_leads_are_kept_30_days_then_purged(sandbox) -> None:
    gone = {
        "notes": sandbox.ids("notes")[0],
        "files": sandbox.ids("files")[0],
        "leads": sandbox.ids("leads")[0],
    }
    for table, rid in gone.items():
        assert delete(sandbox, f"/api/v1/{table}/{rid}").status_code == 200
    sandbox.churn.advance_clock(29 * DAY_SECONDS)
    assert all(sandbox.store.get(t, rid)["is_deleted"] for t, rid in gone.items())
    sandbox.churn.advance_clock(2 * DAY_SECONDS)
    assert all(sandbox.store.get(t, rid) is None for t, rid in gone.items())


# -- products of deals ------------------------------------------------------------------------


def _deal_with_products(sb: Sandbox, n: int) -> int:
    return next(d for d in sb.ids("deals") if len(sb.store.deal_product_ids([d])) >= n)


def test_a_product_taken_off_a_deal_leaves_its_products_and_moves_the_deal(sandbox) -> None:
    deal = _deal_with_products(sandbox, 2)
    other = next(
        d for d in sandbox.ids("deals") if d != deal and sandbox.store.deal_product_ids([d])
    )
    both = f"{deal},{other}"
    before = all_v2(sandbox, "/api/v2/deals/products", deal_ids=both)
    removed, kept = [p for p in before if p["deal_id"] == deal][:2]
    deal_before = get(sandbox, f"/api/v2/deals/{deal}")["data"]
    sandbox.churn.advance_clock(1)  # the deal's new update_time is later, to the second
    sandbox.reset_stats()
    response = delete(sandbox, f"/api/v2/deals/{deal}/products/{removed['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"id": removed["id"]}}
    described(response.json(), "v2", "/deals/{id}/products/{product_attachment_id}", "delete")
    assert tokens(sandbox, "DELETE /api/v2/deals/{id}/products/{id}") == 3
    after = all_v2(sandbox, "/api/v2/deals/products", deal_ids=both)
    assert after == [p for p in before if p["id"] != removed["id"]]
    assert kept in after
    # The deal's value is recalculated from the products left, at a new update_time.
    deal_after = get(sandbox, f"/api/v2/deals/{deal}")["data"]
    assert deal_after["update_time"] > deal_before["update_time"]
    assert deal_after["value"] == sum(p["sum"] for p in after if p["deal_id"] == deal)
    assert {k: v for k, v in deal_after.items() if k not in MOVED} == {
        k: v for k, v in deal_before.items() if k not in MOVED
    }
    newest = sandbox.changelog("deals", deal)[0]
    assert (newest["field_key"], newest["change_source"]) == ("value", "api")


def test_taking_off_a_product_the_deal_does_not_have_is_404(sandbox) -> None:
    deal = _deal_with_products(sandbox, 1)
    (attachment, *_) = sandbox.store.deal_product_ids([deal])
    other = next(d for d in sandbox.ids("deals") if not sandbox.store.deal_product_ids([d]))
    for path in (
        f"/api/v2/deals/999999/products/{attachment}",  # no such deal
        f"/api/v2/deals/{deal}/products/999999",  # no such attachment
        f"/api/v2/deals/{other}/products/{attachment}",  # another deal's
    ):
        response = delete(sandbox, path)
        assert (response.status_code, response.json()["success"]) == (404, False), path
    assert delete(sandbox, f"/api/v2/deals/{deal}/products/{attachment}").status_code == 200
    assert delete(sandbox, f"/api/v2/deals/{deal}/products/{attachment}").status_code == 404


# -- merges -------------------------------------------------------------------------------------


def test_a_merge_deletes_the_person_in_the_path_and_updates_the_one_kept(sandbox) -> None:
    """`merge_with_id` is kept, with its own values where both have one and the other's where
    it has none (the description's tutorial); the person in the path is deleted."""
    rows = {i: sandbox.store.get("persons", i) for i in sandbox.ids("persons")}
    kept = next(i for i, r in rows.items() if r["job_title"] is None)
    merged = next(i for i, r in rows.items() if r["job_title"] and r["name"] != rows[kept]["name"])
    before = {p["id"]: p for p in all_v2(sandbox, "/api/v2/persons", limit=500)}
    sandbox.churn.advance_clock(1)
    sandbox.reset_stats()
    response = merge(sandbox, "persons", merged, {"merge_with_id": kept})
    assert response.status_code == 200
    body = response.json()
    described(body, "v1", "/persons/{id}/merge", "put")
    assert tokens(sandbox, "PUT /api/v1/persons/{id}/merge") == 40
    assert (body["data"]["id"], body["data"]["merge_what_id"]) == (kept, merged)
    after = {p["id"]: p for p in all_v2(sandbox, "/api/v2/persons", limit=500)}
    assert set(after) == set(before) - {merged}
    survivor = after[kept]
    assert survivor["update_time"] > before[kept]["update_time"]
    assert survivor["name"] == before[kept]["name"] == body["data"]["name"]
    assert survivor["job_title"] == before[merged]["job_title"]
    assert {k: v for k, v in after.items() if k != kept} == {
        k: v for k, v in before.items() if k not in (kept, merged)
    }
    logged = [e for e in sandbox.changelog("persons", kept) if e["field_key"] == "job_title"]
    assert (logged[0]["new_value"], logged[0]["change_source"]) == (survivor["job_title"], "api")
    assert sandbox.changelog("persons", merged)[0]["field_key"] == "is_deleted"
    assert get(sandbox, f"/api/v2/persons/{merged}")["data"]["is_deleted"] is True


def test_a_merge_of_organizations_deletes_the_one_in_the_path(sandbox) -> None:
    merged, kept = sandbox.ids("organizations")[:2]
    before = {o["id"]: o for o in all_v2(sandbox, "/api/v2/organizations", limit=500)}
    sandbox.churn.advance_clock(1)
    response = merge(sandbox, "organizations", merged, {"merge_with_id": kept})
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"id": kept}}
    described(response.json(), "v1", "/organizations/{id}/merge", "put")
    after = {o["id"]: o for o in all_v2(sandbox, "/api/v2/organizations", limit=500)}
    assert set(after) == set(before) - {merged}
    assert after[kept]["update_time"] > before[kept]["update_time"]
    assert after[kept]["name"] == before[kept]["name"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),  # merge_with_id is required
        ({"merge_with_id": "two"}, 400),  # an integer
        (None, 400),  # a JSON object
        ("self", 400),  # not the person itself
        ({"merge_with_id": 999999}, 404),  # an existing person
        ("deleted", 404),  # a live one
    ],
)
def test_merges_are_validated(sandbox, body, status) -> None:
    rid, other = sandbox.ids("persons")[:2]
    live = sandbox.count("persons")
    if body == "self":
        body = {"merge_with_id": rid}
    elif body == "deleted":
        sandbox.churn.delete("persons", ids=[other])
        body = {"merge_with_id": other}
    response = merge(sandbox, "persons", rid, body)
    assert (response.status_code, response.json()["success"]) == (status, False)
    assert sandbox.count("persons") == live - (body == {"merge_with_id": other})
    assert merge(sandbox, "persons", 999999, {"merge_with_id": rid}).status_code == 404


# -- churn ------------------------------------------------------------------------------------


def test_churn_deletes_notes_files_and_leads_and_merges_persons(sandbox) -> None:
    for table, path in (
        ("notes", "/api/v1/notes"),
        ("files", "/api/v1/files"),
        ("leads", "/api/v1/leads"),
    ):
        before = {r["id"] for r in all_v1(sandbox, path, limit=100)}
        (rid,) = sandbox.churn.delete(table, n=1)
        assert {r["id"] for r in all_v1(sandbox, path, limit=100)} == before - {rid}
    merged, kept = sandbox.churn.merge("persons")
    assert merged != kept
    persons = {p["id"] for p in all_v2(sandbox, "/api/v2/persons", limit=500)}
    assert kept in persons
    assert merged not in persons
    assert sandbox.changelog("persons", kept)[0]["change_source"] == "app"
    url = sandbox.api_url + "/_admin/churn"
    pair = sandbox.ids("organizations")[:2]
    answer = requests.post(
        url, json={"action": "merge", "entity": "organizations", "ids": pair}, timeout=5
    )
    assert answer.json() == {"ids": pair}
    assert pair[0] not in sandbox.ids("organizations")
    for wrong in ({"entity": "deals"}, {"entity": "persons", "ids": [kept, kept]}):
        refused = requests.post(url, json={"action": "merge", **wrong}, timeout=5)
        assert refused.status_code == 400
    unknown = requests.post(
        url, json={"action": "merge", "entity": "persons", "ids": [999999, kept]}, timeout=5
    )
    assert unknown.status_code == 400
