"""The reference, full-table and child streams beyond the main entities, against the sandbox:
each reads what the sandbox lists, and the children of changed records are read only for
records that changed since the last run, one request per changed record (or per 100 deals)."""

from __future__ import annotations

import contextlib
import io

import pytest
import requests

from pipedrive_client import ApiError
from pipedrive_client.session import PacedSession
from tap_pipedrive.tap import TapPipedrive

from .runner import catalog_selecting, config_for, run

WHOLE = {
    # stream: (sandbox table, key)
    "roles": ("roles", "id"),
    "permission_sets": ("permission_sets", "id"),
    "lead_sources": ("lead_sources", "name"),
    "note_fields": ("note_fields", "id"),
    "lead_fields": ("lead_fields", "id"),
    "project_fields": ("project_fields", "field_code"),
    "project_boards": ("boards", "id"),
    "project_phases": ("phases", "id"),
    "goals": ("goals", "id"),
    "call_logs": ("call_logs", "id"),
    "projects": ("projects", "id"),
    "tasks": ("tasks", "id"),
}
PARENTS = {"deals", "products", "organizations"}
CHILDREN = {
    "deal_participants": "GET /api/v1/deals/{id}/participants",
    "deal_installments": "GET /api/v2/deals/installments",
    "product_variations": "GET /api/v2/products/{id}/variations",
    "organization_relationships": "GET /api/v1/organizationRelationships",
}


@pytest.fixture
def small(sandbox_factory):
    return sandbox_factory(size="small")


def _requests(sb, endpoint: str) -> int:
    return sb.stats()["by_endpoint"].get(endpoint, {}).get("requests", 0)


def _post(sb, path: str, body: dict) -> dict:
    answer = requests.post(
        sb.api_url + path, json=body, headers={"x-api-token": sb.token}, timeout=30
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["data"]


def test_whole_lists_are_read_whole(small) -> None:
    config = config_for(small)
    out = run(config, catalog=catalog_selecting(config, set(WHOLE)))
    for stream, (table, key) in WHOLE.items():
        got = [record[key] for record in out.records[stream]]
        assert len(got) == len(set(got)), f"{stream} has duplicates"
        expected = small.count(table)  # every live one, archived ones too
        if stream == "call_logs":  # the API lists the token user's calls only
            expected = sum(r["user_id"] == 1 for r in small.store.tables[table].values())
        assert len(got) == expected, stream
    archived = [p for p in out.records["projects"] if p["archive_time"]]
    assert archived, "the archived projects' list is read too"
    assert all(t.endswith("Z") for p in out.records["projects"] for t in [p["update_time"]])
    # Projects have custom fields, named like every other entity's.
    custom = {f["field_code"] for f in out.records["project_fields"] if f["is_custom_field"]}
    assert custom
    assert not custom & set(out.records["projects"][0])  # not as hash keys: readable names


def test_children_are_read_only_for_parents_changed_since_the_last_run(small) -> None:
    config = config_for(small, max_requests_per_2s=2000)  # a request per record on a first run
    catalog = catalog_selecting(config, PARENTS | set(CHILDREN))
    small.reset_stats()
    first = run(config, catalog=catalog)
    live_deals = [d for d in first.records["deals"] if not d["_sdc_deleted_at"]]
    assert _requests(small, CHILDREN["deal_participants"]) == len(live_deals)
    assert _requests(small, CHILDREN["product_variations"]) == len(first.records["products"])
    assert _requests(small, CHILDREN["organization_relationships"]) == len(
        first.records["organizations"]
    )
    assert _requests(small, CHILDREN["deal_installments"]) <= len(first.records["deals"]) // 100 + 2
    live = {d["id"] for d in live_deals}
    for stream, table, parent in (
        ("deal_participants", "deal_participants", "deal_id"),
        ("deal_installments", "deal_installments", "deal_id"),
        ("product_variations", "product_variations", "product_id"),
    ):
        parents = live if parent == "deal_id" else {p["id"] for p in first.records["products"]}
        expected = [r for r in small.store.tables[table].values() if r[parent] in parents]
        assert len(first.records[stream]) == len(expected), stream

    small.reset_stats()
    quiet = run(config, state=first.state, catalog=catalog)
    per_record = [CHILDREN[s] for s in CHILDREN if s != "deal_installments"]
    assert [_requests(small, e) for e in per_record] == [0, 0, 0]
    assert not any(quiet.records[s] for s in per_record)

    deal, product = live_deals[0]["id"], first.records["products"][0]["id"]
    orgs = [o["id"] for o in first.records["organizations"]]
    person = first.records["deal_participants"][0]["person"]["id"]
    taken = {p["person"]["id"] for p in first.records["deal_participants"] if p["deal_id"] == deal}
    person = next(p for p in small.ids("persons") if p not in taken)
    added = {
        "deal_participants": _post(
            small, f"/api/v1/deals/{deal}/participants", {"person_id": person}
        ),
        "deal_installments": _post(
            small,
            f"/api/v2/deals/{deal}/installments",
            {"description": "Second half", "amount": 500, "billing_date": "2027-01-15"},
        ),
        "product_variations": _post(
            small, f"/api/v2/products/{product}/variations", {"name": "Large"}
        ),
        "organization_relationships": _post(
            small,
            "/api/v1/organizationRelationships",
            {"type": "parent", "rel_owner_org_id": orgs[0], "rel_linked_org_id": orgs[-1]},
        ),
    }
    small.reset_stats()
    after = run(config, state=quiet.state, catalog=catalog)
    assert _requests(small, CHILDREN["deal_participants"]) == 1
    assert _requests(small, CHILDREN["product_variations"]) == 1
    assert _requests(small, CHILDREN["organization_relationships"]) == 2  # both organizations
    for stream, record in added.items():
        assert record["id"] in {r["id"] for r in after.records[stream]}, stream


def test_an_account_without_projects_still_discovers_and_syncs(small, monkeypatch) -> None:
    """Projects are an add-on: a 403 on their field definitions leaves the projects stream
    without custom columns at discovery, and the rest of the run as it was."""
    send = PacedSession.request

    def refused(self, method, url, *args, **kwargs):
        if url.endswith("/api/v2/projectFields"):
            raise ApiError("GET /api/v2/projectFields answered 403", status=403)
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(PacedSession, "request", refused)
    config = config_for(small)
    tap = TapPipedrive(config=config, catalog=catalog_selecting(config, {"deals"}))
    with contextlib.redirect_stdout(io.StringIO()):
        tap.sync_all()
    assert tap.records_emitted["deals"] == len(small.ids("deals", include_deleted=True))
    assert "custom_fields" in tap.streams["projects"].schema["properties"]
