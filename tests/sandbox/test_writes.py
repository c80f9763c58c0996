"""Writes validate like Pipedrive and show up in later lists and searches."""

from .helpers import all_v1, all_v2, call, get


def test_created_person_is_listed_and_found_by_exact_email(sandbox) -> None:
    response = call(
        sandbox,
        "POST",
        "/api/v2/persons",
        json={"name": "Zed Tester", "emails": [{"value": "zed@newco.example", "primary": True}]},
    )
    assert response.status_code == 200
    person = response.json()["data"]
    listed = all_v2(
        sandbox, "/api/v2/persons", sort_by="update_time", updated_since=person["update_time"]
    )
    assert person["id"] in {p["id"] for p in listed}
    found = get(
        sandbox,
        "/api/v2/persons/search",
        term="zed@newco.example",
        fields="email",
        exact_match="true",
    )["data"]["items"]
    assert [hit["item"]["id"] for hit in found] == [person["id"]]


def test_validation_errors_are_400_with_the_api_body(sandbox) -> None:
    cases = [
        ("/api/v2/deals", {"person_id": 1}),
        ("/api/v2/deals", {"title": "x", "stage_id": 99999}),
        ("/api/v2/persons", {"name": "x", "emails": [{"value": "not-an-email"}]}),
        ("/api/v1/leads", {"title": "no link"}),
    ]
    for path, body in cases:
        response = call(sandbox, "POST", path, json=body)
        assert response.status_code == 400, (path, body)
        assert response.json()["success"] is False
        assert response.json()["error"]


def test_update_moves_the_record_to_the_end_of_update_time_order(sandbox) -> None:
    before = all_v2(sandbox, "/api/v2/deals", sort_by="update_time", limit=500)
    first = before[0]["id"]
    response = call(sandbox, "PATCH", f"/api/v2/deals/{first}", json={"title": "Renamed"})
    assert response.status_code == 200
    after = all_v2(sandbox, "/api/v2/deals", sort_by="update_time", limit=500)
    assert after[-1]["id"] == first
    assert after[-1]["title"] == "Renamed"
    assert after[-1]["update_time"] >= before[-1]["update_time"]


def test_lead_create_then_convert_to_deal(sandbox) -> None:
    person = sandbox.ids("persons")[0]
    lead = call(sandbox, "POST", "/api/v1/leads", json={"title": "Hot lead", "person_id": person})
    assert lead.status_code == 201
    lead_id = lead.json()["data"]["id"]
    assert len(lead_id) == 36
    stage = next(
        s for s in get(sandbox, "/api/v2/stages")["data"] if s["name"] == "Initial Contact"
    )
    job = call(
        sandbox, "POST", f"/api/v2/leads/{lead_id}/convert/deal", json={"stage_id": stage["id"]}
    ).json()["data"]
    status = get(sandbox, f"/api/v2/leads/{lead_id}/convert/status/{job['conversion_id']}")["data"]
    assert status["status"] == "completed"
    deal = get(sandbox, f"/api/v2/deals/{status['deal_id']}")["data"]
    assert deal["source_lead_id"] == lead_id
    assert deal["stage_id"] == stage["id"]
    assert lead_id not in {x["id"] for x in all_v1(sandbox, "/api/v1/leads", limit=500)}


def test_person_field_creation_v2_and_v1(sandbox) -> None:
    v2 = call(
        sandbox,
        "POST",
        "/api/v2/personFields",
        json={"field_name": "Email thread count", "field_type": "double"},
    ).json()["data"]
    assert len(v2["field_code"]) == 40
    v1 = call(
        sandbox,
        "POST",
        "/api/v1/personFields",
        json={"name": "Last email contact", "field_type": "date"},
    ).json()["data"]
    assert len(v1["key"]) == 40
    names = {f["field_name"] for f in all_v2(sandbox, "/api/v2/personFields", limit=500)}
    assert {"Email thread count", "Last email contact"} <= names


def test_churn_admin_endpoint(sandbox) -> None:
    import requests

    url = sandbox.api_url + "/_admin/churn"
    ids = requests.post(
        url, json={"action": "update", "entity": "deals", "n": 3}, timeout=5
    ).json()["ids"]
    assert len(ids) == 3
    tied = requests.post(
        url, json={"action": "tie", "entity": "persons", "n": 5}, timeout=5
    ).json()["ids"]
    times = {sandbox.get("persons", i)["update_time"] for i in tied}
    assert len(times) == 1
    made = requests.post(
        url, json={"action": "create", "entity": "notes", "n": 2}, timeout=5
    ).json()["ids"]
    assert set(made) <= set(sandbox.ids("notes"))
    counts = requests.get(sandbox.api_url + "/_admin/counts", timeout=5).json()
    assert counts["deals"] == len(sandbox.store.tables["deals"])


def test_a_deals_stage_and_pipeline_agree(sandbox) -> None:
    """A new pipeline alone brings its first stage, a new stage alone its pipeline."""
    stages = get(sandbox, "/api/v2/stages")["data"]
    first = {}
    for stage in sorted(stages, key=lambda s: (s["pipeline_id"], s["order_nr"])):
        first.setdefault(stage["pipeline_id"], stage["id"])
    made = call(sandbox, "POST", "/api/v2/deals", json={"title": "x", "pipeline_id": 2})
    assert made.json()["data"]["stage_id"] == first[2]
    rid = made.json()["data"]["id"]
    moved = call(sandbox, "PATCH", f"/api/v2/deals/{rid}", json={"pipeline_id": 3}).json()["data"]
    assert (moved["pipeline_id"], moved["stage_id"]) == (3, first[3])
    staged = call(sandbox, "PATCH", f"/api/v2/deals/{rid}", json={"stage_id": first[1]}).json()
    assert (staged["data"]["pipeline_id"], staged["data"]["stage_id"]) == (1, first[1])
