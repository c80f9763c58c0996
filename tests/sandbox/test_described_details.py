"""Details where the sandbox follows the official description: the v1 productFields pagination
placement, the field types the v1 field lists describe, the mailbox's time format, and activity
participants stored as written."""

import pytest

from pipedrive_sandbox.render import item_shape

from .helpers import MILLIS_TIME, V1_TIME, call, check, get

# The item schemas of the v1 activityFields, noteFields and productFields lists are an allOf of
# two parts; the narrower part's field_type enum has no `boolean`.
V1_NARROW_FIELD_TYPES = {
    "address",
    "date",
    "daterange",
    "double",
    "enum",
    "monetary",
    "org",
    "people",
    "phone",
    "set",
    "text",
    "time",
    "timerange",
    "user",
    "varchar",
    "varchar_auto",
    "visible_to",
}


def test_v1_product_fields_nest_their_pagination(sandbox) -> None:
    body = get(sandbox, "/api/v1/productFields", limit=3)
    assert set(body["additional_data"]) == {"pagination"}
    assert body["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 3,
        "more_items_in_collection": True,
        "next_start": 3,
    }
    # the other v1 field lists keep the keys directly under additional_data
    flat = get(sandbox, "/api/v1/dealFields", limit=3)["additional_data"]
    assert flat["more_items_in_collection"] is True
    assert "pagination" not in flat


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/v1/productFields", "v1_product_fields"),
        ("/api/v1/activityFields", "v1_activity_fields"),
        ("/api/v1/noteFields", "v1_note_fields"),
        ("/api/v1/personFields", "v1_person_fields"),
    ],
)
def test_v1_field_lists_match_their_own_shapes(sandbox, path, shape) -> None:
    spec = item_shape(shape)
    for field in get(sandbox, path)["data"]:
        assert set(field) <= set(spec["p"]), set(field) - set(spec["p"])
        for key, value in field.items():
            check(value, spec["p"][key], f"{path} {key}")
        assert V1_TIME.match(field.get("add_time") or "2026-01-01 00:00:00")


def test_v1_activity_fields_use_described_types(sandbox) -> None:
    fields = get(sandbox, "/api/v1/activityFields")["data"]
    assert {f["field_type"] for f in fields} <= V1_NARROW_FIELD_TYPES
    done = next(f for f in fields if f["key"] == "done")
    assert done["field_type"] == "enum"
    assert done["options"] == [{"id": 1, "label": "Yes"}, {"id": 0, "label": "No"}]
    # v2 describes `boolean` among its field types
    v2 = get(sandbox, "/api/v2/activityFields")["data"]
    assert next(f for f in v2 if f["field_code"] == "done")["field_type"] == "boolean"


def test_mail_thread_and_message_times_are_iso_with_milliseconds(sandbox_factory) -> None:
    sandbox = sandbox_factory(size="small")
    threads = get(sandbox, "/api/v1/mailbox/mailThreads", folder="inbox")["data"]
    assert threads
    for thread in threads:
        for key in (
            "add_time",
            "update_time",
            "first_message_timestamp",
            "last_message_timestamp",
            "last_message_received_timestamp",
        ):
            assert MILLIS_TIME.match(thread[key]), (key, thread[key])
        parties = thread["parties"]["from"] + thread["parties"]["to"]
        assert parties
        assert all(isinstance(p["message_time"], int) for p in parties)  # epoch milliseconds
        messages = get(sandbox, f"/api/v1/mailbox/mailThreads/{thread['id']}/mailMessages")
        for message in messages["data"]:
            for key in ("add_time", "update_time", "message_time"):
                assert MILLIS_TIME.match(message[key]), (key, message[key])
    sent = get(sandbox, "/api/v1/mailbox/mailThreads", folder="sent")["data"]
    assert sent
    assert all(MILLIS_TIME.match(t["last_message_sent_timestamp"]) for t in sent)


def _people(sandbox, n: int) -> list[int]:
    return [p["id"] for p in get(sandbox, "/api/v2/persons", limit=n)["data"]]


def test_activity_participants_are_stored_and_listed(sandbox) -> None:
    first, cc, bcc = _people(sandbox, 3)
    participants = [
        {"person_id": first, "primary": True},
        {"person_id": cc, "primary": False},
        {"person_id": bcc, "primary": False},
    ]
    body = {"subject": "Re: offer", "type": "email", "done": True, "participants": participants}
    created = call(sandbox, "POST", "/api/v2/activities", json=body)
    assert created.status_code == 200, created.text
    activity = created.json()["data"]
    assert activity["participants"] == participants
    assert activity["person_id"] == first  # the primary participant
    fetched = get(sandbox, f"/api/v2/activities/{activity['id']}")["data"]
    assert fetched["participants"] == participants
    listed = get(sandbox, "/api/v2/activities", person_id=first, limit=500)["data"]
    assert next(a for a in listed if a["id"] == activity["id"])["participants"] == participants


def test_activity_participants_can_be_changed(sandbox) -> None:
    first, second = _people(sandbox, 2)
    body = {"subject": "Call", "person_id": first}
    activity = call(sandbox, "POST", "/api/v2/activities", json=body).json()["data"]
    assert activity["participants"] == [{"person_id": first, "primary": True}]
    changed = [{"person_id": second, "primary": True}, {"person_id": first}]
    patched = call(
        sandbox, "PATCH", f"/api/v2/activities/{activity['id']}", json={"participants": changed}
    )
    assert patched.status_code == 200, patched.text
    expected = [{"person_id": second, "primary": True}, {"person_id": first, "primary": False}]
    assert patched.json()["data"]["participants"] == expected
    assert get(sandbox, f"/api/v2/activities/{activity['id']}")["data"]["participants"] == expected


@pytest.mark.parametrize(
    "participants",
    [
        [{"person_id": 999_999, "primary": True}],
        [{"person_id": "1", "primary": True}],
        [{"primary": True}],
        {"person_id": 1},
        [{"person_id": 1, "primary": "yes"}],
    ],
)
def test_bad_participants_are_refused(sandbox, participants) -> None:
    response = call(
        sandbox, "POST", "/api/v2/activities", json={"subject": "x", "participants": participants}
    )
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_the_current_user_is_the_described_response_with_company_and_access(sandbox) -> None:
    """What `tap-pipedrive --test` reads: the token's user, its company and its app access."""
    import yaml
    from openapi_schema_validator import OAS30Validator

    from .helpers import SPECS

    body = get(sandbox, "/api/v1/users/me")
    op = yaml.safe_load((SPECS / "v1.yaml").read_text())["paths"]["/users/me"]["get"]
    OAS30Validator(op["responses"]["200"]["content"]["application/json"]["schema"]).validate(body)
    me = body["data"]
    assert (me["id"], me["company_id"], me["company_domain"]) == (1, 7_100_000, "sandbox")
    assert {entry["app"] for entry in me["access"]} >= {"sales", "global", "projects"}
