"""Records as each endpoint shows them: field sets and types from the official description,
times in the endpoint's own format, custom fields under `custom_fields` (v2)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .clock import day, lead_time, v1_time, v2_time


@cache
def shapes() -> dict[str, Any]:
    """Response shapes extracted from the official OpenAPI description (types and nullability
    of every field of every list endpoint the sandbox serves)."""
    return json.loads(resources.files(__package__).joinpath("response_shapes.json").read_text())


@cache
def item_shape(endpoint: str) -> dict[str, Any]:
    data = shapes()[endpoint]["p"]["data"]
    return data.get("i", data) if data.get("t") == "array" else data


def conform(values: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented fields. A field we have no value for is null where the description
    allows null and left out where it does not (never an invented empty string or zero)."""
    out: dict[str, Any] = {}
    for key, spec in (shape.get("p") or {}).items():
        value = values.get(key)
        if value is None and not spec.get("n"):
            continue
        out[key] = value
    return out


def _v2_common(row: dict) -> dict:
    return {
        **row,
        "add_time": v2_time(row["add_ms"]),
        "update_time": v2_time(row["update_ms"]),
        "visible_to": 3,
    }


def deal(row: dict) -> dict:
    values = _v2_common(row)
    if row["status"] in ("won", "lost"):
        # Closed at the last update; the `local_` dates are the same days in the user's time
        # zone (UTC for the sandbox's users).
        closed = row["update_ms"]
        values[f"{row['status']}_time"] = values["close_time"] = v2_time(closed)
        values[f"local_{row['status']}_date"] = values["local_close_date"] = day(closed)
    if row["status"] == "lost":
        values["lost_reason"] = "Budget"
    if row.get("is_deleted"):
        values["status"] = "deleted"
    if row.get("is_archived"):
        values["archive_time"] = v2_time(row.get("archive_ms") or row["update_ms"])
    values["creator_user_id"] = row.get("creator_user_id") or row["owner_id"]
    values["stage_change_time"] = values["update_time"]
    values["origin"] = "API"
    values["label_ids"] = []
    return conform(values, item_shape("deals"))


def person(row: dict) -> dict:
    return conform({**_v2_common(row), "label_ids": [], "im": []}, item_shape("persons"))


def organization(row: dict) -> dict:
    # `org_id` is in the description's example only, there equal to the record's own id.
    values = {**_v2_common(row), "label_ids": [], "org_id": row["id"]}
    return conform(values, item_shape("organizations"))


def activity(row: dict) -> dict:
    values = _v2_common(row)
    if row.get("participants") is None:  # generated, or written without participants
        values["participants"] = (
            [{"person_id": row["person_id"], "primary": True}] if row.get("person_id") else []
        )
    values["creator_user_id"] = row["owner_id"]
    values["marked_as_done_time"] = values["update_time"] if row.get("done") else None
    return conform(values, item_shape("activities"))


def product(row: dict) -> dict:
    values = {**_v2_common(row), "is_linkable": True}
    values.setdefault("billing_frequency", "one-time")  # the API's default
    return conform(values, item_shape("products"))


def pipeline(row: dict) -> dict:
    return conform(
        {**_v2_common(row), "is_deal_probability_enabled": True}, item_shape("pipelines")
    )


def stage(row: dict) -> dict:
    return conform(
        {**_v2_common(row), "is_deal_rot_enabled": False, "days_to_rotten": None},
        item_shape("stages"),
    )


def deal_product(row: dict) -> dict:
    values = _v2_common(row)
    values["sum"] = row["quantity"] * row["item_price"]
    values.update(
        tax=0,
        discount=0,
        discount_type="percentage",
        tax_method="inclusive",
        is_enabled=True,
        order_nr=1,
        comments="",
        billing_frequency="one-time",
    )
    return conform(values, item_shape("deal_products"))


FIELD_SHAPES = {
    "deals": "deal_fields",
    "persons": "person_fields",
    "organizations": "organization_fields",
    "products": "product_fields",
    "activities": "activity_fields",
}


V1_FIELD_SHAPES = {
    "deals": "v1_deal_fields",
    "persons": "v1_person_fields",
    "organizations": "v1_organization_fields",
    "products": "v1_product_fields",
    "activities": "v1_activity_fields",
    "notes": "v1_note_fields",
}
# The v1 field lists describe no `boolean` type: a flag is an enum of Yes and No there (the
# description's noteFields example shows `pinned_to_deal_flag` so).
V1_FLAG_OPTIONS = [{"id": 1, "label": "Yes"}, {"id": 0, "label": "No"}]


def field_v2(row: dict) -> dict:
    f = row["def"]
    values = {
        "field_name": f.name,
        "field_code": f.key,
        "description": f.description,
        "field_type": f.field_type,
        "options": f.options,
        "subfields": None,
        "is_custom_field": f.custom,
        "is_optional_response_field": False,
        "ui_visibility": {"add_visible_flag": True},
        "important_fields": {"enabled": False, "stage_ids": []},
        "required_fields": {"enabled": False}
        if f.entity != "deals"
        else {"enabled": False, "stage_ids": [], "statuses": {}},
    }
    return conform(values, item_shape(FIELD_SHAPES.get(f.entity, "deal_fields")))


def field_v1(row: dict) -> dict:
    f = row["def"]
    field_type, options = f.field_type, f.options
    if field_type == "boolean":
        field_type, options = "enum", V1_FLAG_OPTIONS
    values = {
        "id": f.id,
        "key": f.key,
        "name": f.name,
        "field_type": field_type,
        "order_nr": f.id,
        "add_time": v1_time(f.add_ms),
        "update_time": v1_time(f.update_ms),
        "created_by_user_id": 1,
        "last_updated_by_user_id": 1,
        "active_flag": True,
        "edit_flag": f.custom,
        "options": options,
        "mandatory_flag": False,
        "bulk_edit_allowed": True,
    }
    return conform(values, item_shape(V1_FIELD_SHAPES.get(f.entity, "v1_deal_fields")))


def lead(row: dict) -> dict:
    values = {
        **row,
        "add_time": lead_time(row["add_ms"]),
        "update_time": lead_time(row["update_ms"]),
        "creator_id": row["owner_id"],
        "was_seen": True,
        "visible_to": "3",
        "origin": "API",
        "value": None,
        "cc_email": f"lead{row.get('index', 0)}@sandbox.example",
    }
    return conform(values, item_shape("leads"))


def lead_label(row: dict) -> dict:
    return conform(
        {**row, "add_time": lead_time(row["add_ms"]), "update_time": lead_time(row["update_ms"])},
        item_shape("lead_labels"),
    )


def _v1_common(row: dict) -> dict:
    return {
        **row,
        "add_time": v1_time(row.get("add_ms")),
        "update_time": v1_time(row.get("update_ms")),
    }


NOTE_PINS = ("deal", "lead", "organization", "person", "project", "task")


def note(row: dict) -> dict:
    values = _v1_common(row)
    for pin in NOTE_PINS:
        values.setdefault(f"pinned_to_{pin}_flag", False)
    return conform(values, item_shape("notes"))


def file(row: dict) -> dict:
    return conform(
        {
            **_v1_common(row),
            "remote_location": "s3",
            "inline_flag": False,
            "url": f"https://files.sandbox.example/{row['id']}",
        },
        item_shape("files"),
    )


def user(row: dict) -> dict:
    values = {
        **row,
        "created": v1_time(row["add_ms"]),
        "modified": v1_time(row["update_ms"]),
        "default_currency": "USD",
        "locale": "en_US",
        "lang": 1,
        "activated": True,
        "has_created_company": row["id"] == 1,
        "timezone_name": "UTC",
        "timezone_offset": "+00:00",
        "access": [],
        "is_deleted": False,
        "last_login": v1_time(row["update_ms"]),
        "role_id": row.get("role_id", 1),
    }
    return conform(values, item_shape("users"))


def activity_type(row: dict) -> dict:
    return conform(
        {
            **_v1_common(row),
            "icon_key": row["key_string"],
            "color": "FFFFFF",
            "is_custom_flag": False,
        },
        item_shape("activity_types"),
    )


def currency(row: dict) -> dict:
    return conform({**row, "is_custom_flag": False}, item_shape("currencies"))


def filter_(row: dict) -> dict:
    return conform(
        {**_v1_common(row), "is_editable": True, "temporary_flag": None, "visible_to": "1"},
        item_shape("filters"),
    )


# Flags of a synced, read mailbox item without attachments; the mailbox sends flags as 0 or 1.
MAIL_FLAGS = {
    "read_flag": 1,
    "synced_flag": 1,
    "deleted_flag": 0,
    "smart_bcc_flag": 0,
    "mail_link_tracking_enabled_flag": 0,
    "has_attachments_flag": 0,
    "has_inline_attachments_flag": 0,
    "has_real_attachments_flag": 0,
}


def mail_thread(row: dict) -> dict:
    """Mailbox times are ISO 8601 with milliseconds and Z, as the description shows them (not
    the `YYYY-MM-DD HH:MM:SS` of other v1 lists)."""
    folder = row["folder"]
    sent = int(folder == "sent")
    values = {
        **MAIL_FLAGS,
        **row,
        "add_time": lead_time(row["add_ms"]),
        "update_time": lead_time(row["update_ms"]),
        "account_id": str(row["account_id"]),
        "folders": [folder],
        "drafts_parties": [],
        "version": 1,
        "snippet_sent": row["snippet"] if sent else "",
        "has_draft_flag": int(folder == "drafts"),
        "has_sent_flag": sent,
        "all_messages_sent_flag": sent,
        "archived_flag": int(folder == "archive"),
        "shared_flag": 0,
        "external_deleted_flag": 0,
        "first_message_to_me_flag": 1 - sent,
        "first_message_timestamp": lead_time(row["add_ms"]),
        "last_message_timestamp": lead_time(row["update_ms"]),
        "last_message_sent_timestamp": lead_time(row["update_ms"]) if sent else None,
        "last_message_received_timestamp": lead_time(
            row["update_ms"] if not sent else row["add_ms"]
        ),
    }
    return conform(values, item_shape("mail_threads"))


def mail_message(row: dict) -> dict:
    return conform(
        {
            **MAIL_FLAGS,
            **row,
            "add_time": lead_time(row["add_ms"]),
            "update_time": lead_time(row["update_ms"]),
            "account_id": str(row["account_id"]),
            "message_time": lead_time(row["add_ms"]),
            "cc": row.get("cc") or [],
            "bcc": row.get("bcc") or [],
            "body_url": f"https://mail.sandbox.example/messages/{row['id']}/body",
            "has_body_flag": 1,
            "draft_flag": 0,
            "sent_flag": 0,
            "sent_from_pipedrive_flag": 0,
        },
        item_shape("mail_messages"),
    )


# The merged person's fields the description allows to be null: null when the sandbox has no
# value. Its other fields without a value (counts of related records, company_id) are left out.
MERGED_PERSON_NULLABLE = (
    "picture_id",
    "label",
    "org_name",
    "cc_email",
    "last_name",
    "last_incoming_mail_time",
    "last_outgoing_mail_time",
    "next_activity_date",
    "next_activity_time",
    "next_activity_id",
    "last_activity_id",
    "last_activity_date",
)


def merged_person(row: dict, merged_id: int, org_name: str | None, owner_name: str | None) -> dict:
    """The person a merge kept, as `PUT /v1/persons/{id}/merge` answers (MergePersonsResponse):
    a v1 person, `merge_what_id` the person merged into it."""
    name = row.get("name") or ""
    values = {
        "id": row["id"],
        "active_flag": True,
        "phone": row.get("phones") or [],
        "email": row.get("emails") or [],
        "first_char": name[:1].lower(),
        "add_time": v1_time(row["add_ms"]),
        "update_time": v1_time(row["update_ms"]),
        "visible_to": "3",
        "picture_id": _picture(row),
        "label_ids": [],
        "org_name": org_name,
        "owner_name": owner_name,
        "owner_id": row["owner_id"],
        "org_id": row.get("org_id"),
        "merge_what_id": merged_id,
        "name": name,
        "first_name": row.get("first_name"),
        "last_name": row.get("last_name"),
    }
    for key in MERGED_PERSON_NULLABLE:
        values.setdefault(key, None)
    return {k: v for k, v in values.items() if v is not None or k in MERGED_PERSON_NULLABLE}


def _picture(row: dict) -> dict | None:
    """A person's picture as v1 shows it (PictureDataWithID); v2 gives only its id."""
    pid = row.get("picture_id")
    if pid is None:
        return None
    url = f"https://pictures.sandbox.example/{pid}"
    return {
        "id": pid,
        "item_type": "person",
        "item_id": row["id"],
        "active_flag": True,
        "add_time": v1_time(row["add_ms"]),
        "update_time": v1_time(row["add_ms"]),
        "added_by_user_id": row["owner_id"],
        "pictures": {"128": f"{url}_128.jpg", "512": f"{url}_512.jpg"},
    }


def search_item(kind: str, row: dict) -> dict:
    item: dict[str, Any] = {"id": row["id"], "type": kind}
    if kind == "person":
        item.update(
            name=row["name"],
            emails=[e["value"] for e in row.get("emails", [])],
            phones=[p["value"] for p in row.get("phones", [])],
            organization={"id": row["org_id"]} if row.get("org_id") else None,
            owner={"id": row["owner_id"]},
            visible_to=3,
            custom_fields=[],
            notes=[],
            update_time=v2_time(row["update_ms"]),
        )
    elif kind == "organization":
        item.update(
            name=row["name"],
            address=None,
            owner={"id": row["owner_id"]},
            visible_to=3,
            custom_fields=[],
            notes=[],
            update_time=v2_time(row["update_ms"]),
        )
    else:
        item.update(
            title=row.get("title"),
            value=row.get("value"),
            currency="USD",
            status=row.get("status"),
            visible_to=3,
            stage={"id": row.get("stage_id")},
            owner={"id": row["owner_id"]},
            person={"id": row.get("person_id")} if row.get("person_id") else None,
            organization={"id": row.get("org_id")} if row.get("org_id") else None,
        )
    return {"result_score": 1.0, "item": {k: v for k, v in item.items() if v is not None}}


# -- projects, tasks, call logs, goals, roles, permission sets and the children lists ----------

# Where a list's records sit when not directly in `data` (goals: `data.goals`).
RECORDS_UNDER = {"goals": "goals"}


def records_shape(endpoint: str) -> dict[str, Any]:
    """The shape of one record of a list, wherever its records sit."""
    under = RECORDS_UNDER.get(endpoint)
    if under is None:
        return item_shape(endpoint)
    return shapes()[endpoint]["p"]["data"]["p"][under]["i"]


def role(row: dict) -> dict:
    return conform(row, item_shape("roles"))


def permission_set(row: dict) -> dict:
    return conform(row, item_shape("permission_sets"))


def lead_source(row: dict) -> dict:
    return conform(row, item_shape("lead_sources"))


def lead_field(row: dict) -> dict:
    """A lead field as `GET /v1/leadFields` lists it: every flag the description has."""
    f = row["def"]
    subfields = []
    if f.field_type == "monetary":
        subfields = [{"key": f"{f.key}_currency", "name": "Currency", "field_type": "varchar"}]
    values = {
        "id": f.id,
        "key": f.key,
        "name": f.name,
        "order_nr": f.id,
        "field_type": f.field_type,
        "add_time": v1_time(f.add_ms),
        "update_time": v1_time(f.update_ms),
        "last_updated_by_user_id": 1,
        "created_by_user_id": 1,
        "active_flag": True,
        "edit_flag": f.custom,
        "index_visible_flag": True,
        "details_visible_flag": True,
        "add_visible_flag": not f.custom,
        "important_flag": False,
        "bulk_edit_allowed": True,
        "searchable_flag": f.field_type in ("varchar", "text"),
        "filtering_allowed": True,
        "sortable_flag": True,
        "mandatory_flag": f.key == "title",
        "options": f.options,
        "options_deleted": [],
        "is_subfield": False,
        "subfields": subfields,
    }
    return conform(values, item_shape("lead_fields"))


def project_field(row: dict) -> dict:
    f = row["def"]
    subfields = None
    if f.field_type == "monetary":
        subfields = [
            {"field_code": f"{f.key}_currency", "field_name": "Currency", "field_type": "varchar"}
        ]
    values = {
        "field_name": f.name,
        "field_code": f.key,
        "field_type": f.field_type,
        "options": f.options,
        "subfields": subfields,
        "is_custom_field": f.custom,
        "is_optional_response_field": False,
        "ui_visibility": {"add_visible_flag": True, "details_visible_flag": True},
        "important_fields": {"enabled": False, "stage_ids": []},
        "required_fields": {"enabled": f.key == "name"},
    }
    return conform(values, item_shape("project_fields"))


def _ms_times(row: dict) -> dict:
    """Times as the projects API shows them: ISO 8601 with milliseconds and Z."""
    return {"add_time": lead_time(row["add_ms"]), "update_time": lead_time(row["update_ms"])}


def board(row: dict) -> dict:
    return conform({**row, **_ms_times(row)}, item_shape("project_boards"))


def phase(row: dict) -> dict:
    return conform({**row, **_ms_times(row)}, item_shape("project_phases"))


def goal(row: dict) -> dict:
    return conform(row, records_shape("goals"))


def call_log(row: dict) -> dict:
    values = {**row, "start_time": lead_time(row["start_ms"]), "end_time": lead_time(row["end_ms"])}
    return conform(values, item_shape("call_logs"))


def project(row: dict) -> dict:
    values = {
        **row,
        **_ms_times(row),
        "status": "deleted" if row.get("is_deleted") else row["status"],
        "status_change_time": lead_time(row.get("status_change_ms") or row["add_ms"]),
        "archive_time": lead_time(row.get("archive_ms")) if row.get("is_archived") else None,
    }
    return conform(values, item_shape("projects"))


def task(row: dict) -> dict:
    values = {**row, **_ms_times(row), "marked_as_done_time": lead_time(row.get("done_ms"))}
    return conform(values, item_shape("tasks"))


def installment(row: dict) -> dict:
    return conform(row, item_shape("deal_installments"))


def variation(row: dict) -> dict:
    prices = [{"product_variation_id": row["id"], **p} for p in row["prices"]]
    return conform({**row, "prices": prices}, item_shape("product_variations"))
