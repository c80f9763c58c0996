"""Change logs of deals, persons and organizations: the described shape, newest first, cursor
pages, what writes and churn record, and a generated past that ends in each record's state."""

from __future__ import annotations

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from pipedrive_sandbox import Sandbox

from .helpers import V1_TIME, call, description, get

ENTITIES = ("deals", "persons", "organizations")
# GetChangelogResponse: the 200 of getDealChangelog, getPersonChangelog and
# getOrganizationChangelog in the official v1 description (the same schema for all three).
ENTRY = {
    "type": "object",
    "properties": {
        "field_key": {"type": "string"},
        "old_value": {"type": "string", "nullable": True},
        "new_value": {"type": "string", "nullable": True},
        "actor_user_id": {"type": "integer"},
        "time": {"type": "string"},
        "change_source": {"type": "string", "nullable": True},
        "change_source_user_agent": {"type": "string", "nullable": True},
        "is_bulk_update_flag": {"type": "boolean"},
    },
}
SCHEMA = {
    "allOf": [
        {"type": "object", "properties": {"success": {"type": "boolean"}}},
        {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": ENTRY},
                "additional_data": {
                    "type": "object",
                    "properties": {"next_cursor": {"type": "string"}},
                },
            },
        },
    ]
}
AGENT = "history-test/1.0"


def changelog(sb: Sandbox, entity: str, rid: int, **params) -> dict:
    return get(sb, f"/api/v1/{entity}/{rid}/changelog", **params)


def whole(sb: Sandbox, entity: str, rid: int) -> list[dict]:
    """Every entry over HTTP, newest first."""
    out, cursor = [], None
    while True:
        body = changelog(sb, entity, rid, limit=500, **({"cursor": cursor} if cursor else {}))
        out += body["data"]
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return out


def v1(v2_time: str) -> str:
    return v2_time.replace("T", " ").removesuffix("Z")


def with_entries(sb: Sandbox, entity: str, at_least: int) -> int:
    return next(i for i in sb.ids(entity) if len(sb.changelog(entity, i)) >= at_least)


def test_the_schema_here_is_the_descriptions() -> None:
    spec = description("v1")
    for entity in ENTITIES:
        op = spec["paths"][f"/{entity}/{{id}}/changelog"]["get"]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        item = schema["allOf"][1]["properties"]["data"]["items"]["properties"]
        assert {k: {"type": v["type"], **({"nullable": True} if v.get("nullable") else {})}
                for k, v in item.items()} == ENTRY["properties"]  # fmt: skip
        assert {p["name"] for p in op["parameters"]} == {"id", "cursor", "limit"}
        assert op["x-token-cost"] == 20


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_change_log_is_the_described_response(sandbox, entity) -> None:
    rid = with_entries(sandbox, entity, 2)
    validator = OAS30Validator(SCHEMA)
    first = changelog(sandbox, entity, rid, limit=1)
    assert isinstance(first["additional_data"]["next_cursor"], str)
    validator.validate(first)
    entries = whole(sandbox, entity, rid)
    # The live API sends null for the last page's next_cursor (spec_check.py tolerates it).
    last = changelog(sandbox, entity, rid, limit=500)
    assert last["additional_data"] == {"next_cursor": None}
    errors = [
        e
        for e in validator.iter_errors(last)
        if not (e.instance is None and list(e.absolute_path) == ["additional_data", "next_cursor"])
    ]
    assert not errors
    for entry in entries:
        assert set(entry) == set(ENTRY["properties"])
        assert V1_TIME.match(entry["time"]), entry["time"]
        assert entry["change_source"] in ("app", "api")


def test_newest_first_in_cursor_pages_of_at_most_500_for_20_tokens(sandbox) -> None:
    rid = with_entries(sandbox, "deals", 3)
    entries = whole(sandbox, "deals", rid)
    assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)
    sandbox.reset_stats()
    paged, cursor, pages = [], None, 0
    while True:
        body = changelog(sandbox, "deals", rid, limit=1, **({"cursor": cursor} if cursor else {}))
        assert len(body["data"]) == 1
        paged += body["data"]
        pages += 1
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit()  # opaque
    assert paged == entries
    assert sandbox.stats()["by_endpoint"]["GET /api/v1/deals/{id}/changelog"] == {
        "requests": pages,
        "tokens": 20 * pages,
    }
    for params in ({"limit": 501}, {"limit": 0}, {"cursor": "bm9wZQ"}, {"cursor": "aWQ6OTk5"}):
        response = call(sandbox, "GET", f"/api/v1/deals/{rid}/changelog", params=params)
        assert response.status_code == 400, params
        assert response.json()["success"] is False
    assert len(changelog(sandbox, "deals", rid, limit=500)["data"]) == len(entries)


def test_the_default_page_is_100_and_a_cursor_survives_later_writes(sandbox) -> None:
    (rid,) = sandbox.churn.create("organizations")
    for _ in range(110):
        sandbox.churn.update("organizations", [rid])
    first = changelog(sandbox, "organizations", rid)
    assert len(first["data"]) == 100
    cursor = first["additional_data"]["next_cursor"]
    rest = changelog(sandbox, "organizations", rid, cursor=cursor)["data"]
    sandbox.churn.update("organizations", [rid])  # a newer entry: the next page stays the same
    assert changelog(sandbox, "organizations", rid, cursor=cursor)["data"] == rest
    assert first["data"] + rest == sandbox.changelog("organizations", rid)[1:]


def test_unknown_and_purged_records_are_404_and_deleted_ones_keep_their_log(sandbox) -> None:
    for entity in ENTITIES:
        response = call(sandbox, "GET", f"/api/v1/{entity}/999999/changelog")
        assert response.status_code == 404
        body = response.json()
        assert (body["success"], body["errorCode"]) == (False, 404)
        assert body["error"] == f"{entity[:-1].title()} not found"
    (gone,) = sandbox.churn.delete("persons", n=1)
    entries = whole(sandbox, "persons", gone)
    assert (entries[0]["field_key"], entries[0]["new_value"]) == ("is_deleted", "true")
    sandbox.churn.advance_clock(31 * 86400)
    assert call(sandbox, "GET", f"/api/v1/persons/{gone}/changelog").status_code == 404
    assert gone not in {key for _, key in sandbox.store.history.recorded}
    with pytest.raises(KeyError):
        sandbox.changelog("persons", gone)


def test_an_api_write_logs_each_changed_field_as_the_tokens_user(sandbox) -> None:
    deal = sandbox.get("deals", sandbox.ids("deals")[0])
    other = next(s for s in get(sandbox, "/api/v2/stages")["data"]
                 if s["pipeline_id"] != deal["pipeline_id"])  # fmt: skip
    fields = get(sandbox, "/api/v2/dealFields", limit=500)["data"]
    seats = next(f["field_code"] for f in fields if f["field_name"] == "Seats")
    budget = next(f["field_code"] for f in fields if f["field_name"] == "Budget")
    before = len(sandbox.changelog("deals", deal["id"]))
    body = {
        "title": "Renamed",
        "stage_id": other["id"],
        "value": deal["value"] + 250,
        "custom_fields": {seats: 12, budget: {"value": 5000.5, "currency": "XYZ"}},
    }
    response = call(
        sandbox, "PATCH", f"/api/v2/deals/{deal['id']}", json=body, headers={"User-Agent": AGENT}
    )
    assert response.status_code == 200
    updated = response.json()["data"]
    assert updated["pipeline_id"] == other["pipeline_id"]  # the stage brings its pipeline
    entries = whole(sandbox, "deals", deal["id"])
    new = entries[: len(entries) - before]
    assert {e["field_key"]: (e["old_value"], e["new_value"]) for e in new} == {
        "title": (deal["title"], "Renamed"),
        "stage_id": (str(deal["stage_id"]), str(other["id"])),
        "pipeline_id": (str(deal["pipeline_id"]), str(other["pipeline_id"])),
        "value": (_text(deal["value"]), _text(deal["value"] + 250)),
        seats: (_text(deal["custom_fields"][seats]), "12"),
        budget: (_text((deal["custom_fields"][budget] or {}).get("value")), "5000.5"),
        f"{budget}_currency": (
            (deal["custom_fields"][budget] or {}).get("currency"),
            "XYZ",
        ),
    }
    me = get(sandbox, "/api/v1/users/me")["data"]["id"]
    for entry in new:
        assert entry["time"] == v1(updated["update_time"])
        assert (entry["change_source"], entry["change_source_user_agent"]) == ("api", AGENT)
        assert (entry["actor_user_id"], entry["is_bulk_update_flag"]) == (me, False)


def test_api_creation_deletion_and_person_emails_are_logged(sandbox) -> None:
    made = call(sandbox, "POST", "/api/v2/persons", json={"name": "Ada Lovelace"}).json()["data"]
    created = whole(sandbox, "persons", made["id"])
    logged = {e["field_key"]: e["old_value"] for e in created}
    assert logged.items() >= {"name": None, "owner_id": None}.items()
    assert all(e["time"] == v1(made["add_time"]) for e in created)
    emails = [{"value": "ada@engine.example", "primary": True, "label": "work"}]
    call(sandbox, "PATCH", f"/api/v2/persons/{made['id']}", json={"emails": emails})
    latest = whole(sandbox, "persons", made["id"])[0]
    assert (latest["field_key"], latest["old_value"], latest["new_value"]) == (
        "email",
        None,
        "ada@engine.example",
    )
    assert call(sandbox, "DELETE", f"/api/v2/persons/{made['id']}").status_code == 200
    latest = whole(sandbox, "persons", made["id"])[0]
    assert (latest["field_key"], latest["new_value"], latest["change_source"]) == (
        "is_deleted",
        "true",
        "api",
    )


def test_churn_logs_as_app_users_and_a_tie_is_a_bulk_edit(sandbox) -> None:
    users = {u["id"] for u in get(sandbox, "/api/v1/users")["data"]}
    admin = sandbox.api_url + "/_admin/churn"
    (deal,) = requests.post(
        admin, json={"action": "update", "entity": "deals", "n": 1}, timeout=10
    ).json()["ids"]
    sandbox.churn.archive("deals", [deal])
    entries = whole(sandbox, "deals", deal)
    assert [(e["field_key"], e["new_value"]) for e in entries[:2]] == [
        ("is_archived", "true"),
        ("title", sandbox.get("deals", deal)["title"]),
    ]
    assert entries[0]["time"] == v1(sandbox.get("deals", deal)["update_time"])
    stamp = "2026-01-02T03:04:05Z"
    before = {o: sandbox.get("organizations", o)["owner_id"] for o in sandbox.ids("organizations")}
    tied = sandbox.churn.tie("organizations", 6, update_time=stamp)
    (owner,) = {sandbox.get("organizations", o)["owner_id"] for o in tied}
    moved = [o for o in tied if before[o] != owner]
    assert moved
    for org in moved:
        latest = whole(sandbox, "organizations", org)[0]
        assert latest["actor_user_id"] in users
        assert {k: v for k, v in latest.items() if k != "actor_user_id"} == {
            "field_key": "owner_id",
            "old_value": str(before[org]),
            "new_value": str(owner),
            "time": v1(stamp),
            "change_source": "app",
            "change_source_user_agent": latest["change_source_user_agent"],
            "is_bulk_update_flag": True,
        }
    for entity in ENTITIES:
        for rid in sandbox.churn.update(entity, n=2) + sandbox.churn.delete(entity, n=1):
            latest = whole(sandbox, entity, rid)[0]
            assert latest["change_source"] == "app"
            assert "Mozilla" in latest["change_source_user_agent"]
            assert latest["actor_user_id"] in users
            assert latest["is_bulk_update_flag"] is False


def test_generated_history_ends_in_each_records_state(sandbox) -> None:
    pipelines = {s["id"]: s["pipeline_id"] for s in get(sandbox, "/api/v2/stages")["data"]}
    moved = 0
    for entity in ENTITIES:
        for rid in sandbox.ids(entity, include_deleted=True):
            record = sandbox.get(entity, rid)
            entries = whole(sandbox, entity, rid)
            oldest_first = entries[::-1]
            if oldest_first:
                assert oldest_first[0]["time"] >= v1(record["add_time"])
                assert oldest_first[-1]["time"] <= v1(record["update_time"])
            now: dict[str, str | None] = {}
            for entry in oldest_first:  # each change starts where the one before ended
                key = entry["field_key"]
                assert now.get(key, entry["old_value"]) == entry["old_value"], (entity, rid)
                assert entry["old_value"] != entry["new_value"]
                now[key] = entry["new_value"]
            shown = {
                "stage_id": record.get("stage_id"),
                "value": record.get("value"),
                "title": record.get("title"),
                "name": record.get("name"),
                "owner_id": record["owner_id"],
                "email": (record.get("emails") or [{}])[0].get("value"),
                "phone": (record.get("phones") or [{}])[0].get("value"),
                "is_deleted": record.get("is_deleted"),
                "is_archived": record.get("is_archived"),
                **record.get("custom_fields", {}),
            }
            if entity == "deals" and record["status"] != "deleted":
                shown["status"] = record["status"]
            for key, value in now.items():
                if key in shown:
                    assert value == _text(shown[key]), (entity, rid, key)
            stages = [e for e in oldest_first if e["field_key"] == "stage_id"]
            if stages:
                moved += 1
                path = [int(stages[0]["old_value"])] + [int(e["new_value"]) for e in stages]
                assert {pipelines[s] for s in path} == {record["pipeline_id"]}
    assert moved > 10
    assert sandbox.store.history.recorded == {}  # reading logs keeps nothing


def test_history_is_drawn_from_the_seed_and_new_records_have_none(sandbox_factory) -> None:
    one, same, other = (sandbox_factory(seed=s) for s in (1, 1, 2))
    logs = [[sb.changelog("deals", i) for i in range(1, 11)] for sb in (one, same, other)]
    assert logs[0] == logs[1] != logs[2]
    (made,) = one.churn.create("deals")
    created = one.changelog("deals", made)
    assert created
    assert all(e["old_value"] is None for e in created)
    assert {e["time"] for e in created} == {v1(one.get("deals", made)["add_time"])}


def test_the_python_api_is_what_is_served(sandbox) -> None:
    for entity in ENTITIES:
        rid = sandbox.ids(entity)[3]
        assert sandbox.changelog(entity, rid) == whole(sandbox, entity, rid)
    with pytest.raises(ValueError, match="entity must be one of"):
        sandbox.changelog("leads", 1)
    with pytest.raises(KeyError):
        sandbox.changelog("deals", 10**6)


def _text(value) -> str | None:
    """A value as the change log shows it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return ",".join(map(str, value)) or None
    if isinstance(value, dict):
        return _text(value.get("value"))
    return str(value)


def test_a_deal_flow_is_its_change_log_and_creation_in_offset_pages_for_40_tokens(
    sandbox,
) -> None:
    """`/v1/deals/{id}/flow`, which peers read for stage history: the deal's change log entries
    as `dealChange` items, newest first, and its creation as a change of `add_time`."""
    rid = with_entries(sandbox, "deals", 3)
    entries = whole(sandbox, "deals", rid)
    sandbox.reset_stats()
    items, start, pages = [], 0, 0
    while True:
        body = get(sandbox, f"/api/v1/deals/{rid}/flow", start=start, limit=2)
        items += body["data"]
        pages += 1
        pagination = body["additional_data"]["pagination"]
        if not pagination["more_items_in_collection"]:
            break
        start = pagination["next_start"]
    assert sandbox.stats()["by_endpoint"]["GET /api/v1/deals/{id}/flow"]["tokens"] == 40 * pages
    assert pages == (len(entries) + 1 + 1) // 2
    assert {item["object"] for item in items} == {"dealChange"}
    changes = [item["data"] for item in items]
    assert [(c["field_key"], c["old_value"], c["new_value"], c["log_time"]) for c in changes] == [
        *((e["field_key"], e["old_value"], e["new_value"], e["time"]) for e in entries),
        ("add_time", None, v1(sandbox.get("deals", rid)["add_time"]), changes[-1]["log_time"]),
    ]
    assert all(c["item_id"] == rid for c in changes)
    assert len({c["id"] for c in changes}) == len(changes)
    assert get(sandbox, f"/api/v1/deals/{rid}/flow", limit=500)["data"] == items
    # The described response (GetDealUpdatesResponse).
    spec = description("v1")
    op = spec["paths"]["/deals/{id}/flow"]["get"]
    OAS30Validator(op["responses"]["200"]["content"]["application/json"]["schema"]).validate(body)
    assert call(sandbox, "GET", "/api/v1/deals/999999999/flow").status_code == 404
