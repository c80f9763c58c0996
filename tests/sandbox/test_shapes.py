"""Every served record has the documented fields with the documented types."""

import re

import pytest

from pipedrive_sandbox.render import item_shape

from .helpers import MILLIS_TIME, V1_TIME, V2_TIME, check, get

ENDPOINTS = [
    ("/api/v2/deals", "deals", V2_TIME),
    ("/api/v2/persons", "persons", V2_TIME),
    ("/api/v2/organizations", "organizations", V2_TIME),
    ("/api/v2/activities", "activities", V2_TIME),
    ("/api/v2/products", "products", V2_TIME),
    ("/api/v2/pipelines", "pipelines", V2_TIME),
    ("/api/v2/stages", "stages", V2_TIME),
    ("/api/v2/dealFields", "deal_fields", None),
    ("/api/v2/personFields", "person_fields", None),
    ("/api/v1/leads", "leads", MILLIS_TIME),
    ("/api/v1/notes", "notes", V1_TIME),
    ("/api/v1/files", "files", V1_TIME),
    ("/api/v1/users", "users", None),
    ("/api/v1/activityTypes", "activity_types", V1_TIME),
    ("/api/v1/leadLabels", "lead_labels", MILLIS_TIME),
    ("/api/v1/currencies", "currencies", None),
    ("/api/v1/filters", "filters", V1_TIME),
    ("/api/v1/dealFields", "v1_deal_fields", V1_TIME),
]


@pytest.mark.parametrize(("path", "shape", "time_format"), ENDPOINTS)
def test_records_match_the_documented_shape(sandbox, path, shape, time_format) -> None:
    body = get(sandbox, path, **({"limit": 50} if "v2" in path or "leads" in path else {}))
    assert body["success"] is True
    records = body["data"]
    assert records, f"{path} served nothing"
    spec = item_shape(shape)
    for record in records:
        assert set(record) <= set(spec["p"]), set(record) - set(spec["p"])
        for key, value in record.items():
            check(value, spec["p"][key], f"{path} {key}")
        if time_format:
            assert time_format.match(record["update_time"]), record["update_time"]


def test_custom_fields_of_every_type_sit_under_custom_fields(sandbox) -> None:
    fields = get(sandbox, "/api/v2/dealFields", limit=500)["data"]
    custom = {f["field_code"]: f for f in fields if f["is_custom_field"]}
    assert {f["field_type"] for f in custom.values()} >= {
        "enum",
        "set",
        "monetary",
        "daterange",
        "text",
        "double",
        "date",
    }
    assert all(re.fullmatch(r"[0-9a-f]{40}", code) for code in custom)
    deals = get(sandbox, "/api/v2/deals", limit=50)["data"]
    seen_types = set()
    for deal in deals:
        assert set(deal["custom_fields"]) == set(custom)
        for code, value in deal["custom_fields"].items():
            if value is None:
                continue
            kind = custom[code]["field_type"]
            seen_types.add(kind)
            if kind == "enum":
                assert value in {o["id"] for o in custom[code]["options"]}
            if kind == "set":
                assert set(value) <= {o["id"] for o in custom[code]["options"]}
            if kind == "monetary":
                assert set(value) == {"value", "currency"}
            if kind == "daterange":
                assert set(value) == {"value", "until"}
    assert {"enum", "set", "monetary", "daterange"} <= seen_types


def test_a_pipeline_has_an_initial_contact_stage(sandbox) -> None:
    stages = get(sandbox, "/api/v2/stages")["data"]
    assert "Initial Contact" in {s["name"] for s in stages}
    assert len(get(sandbox, "/api/v2/pipelines")["data"]) >= 3


def test_wrong_token_gets_the_real_401_body(sandbox) -> None:
    from .helpers import call

    response = call(sandbox, "GET", "/api/v2/deals", token="nope")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "unauthorized access",
        "errorCode": 401,
        "error_info": "Please check developers.pipedrive.com for more information about "
        "Pipedrive API.",
    }


def test_legacy_query_token_and_bearer_are_accepted(sandbox) -> None:
    import requests

    url = sandbox.api_url + "/api/v2/deals"
    assert requests.get(url, params={"api_token": sandbox.token}, timeout=5).status_code == 200
    bearer = {"Authorization": f"Bearer {sandbox.token}"}
    assert requests.get(url, headers=bearer, timeout=5).status_code == 200


def test_the_legacy_v1_prefix_is_served(sandbox) -> None:
    import requests

    response = requests.get(
        sandbox.api_url + "/v1/notes", headers={"x-api-token": sandbox.token}, timeout=5
    )
    assert response.status_code == 200
    assert response.json()["data"]
