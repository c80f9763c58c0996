"""Records as each endpoint shows them: field sets and types from the official description,
times in the endpoint's own format, custom fields under `custom_fields` (v2)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .clock import lead_time, v1_time, v2_time


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
    if row["status"] == "won":
        values["won_time"] = values["close_time"] = v2_time(row["update_ms"])
    if row["status"] == "lost":
        values["lost_time"] = values["close_time"] = v2_time(row["update_ms"])
        values["lost_reason"] = "Budget"
    if row.get("is_deleted"):
        values["status"] = "deleted"
    values["stage_change_time"] = values["update_time"]
    values["origin"] = "API"
    values["label_ids"] = []
    return conform(values, item_shape("deals"))


def person(row: dict) -> dict:
    return conform({**_v2_common(row), "label_ids": [], "im": []}, item_shape("persons"))


def organization(row: dict) -> dict:
    return conform({**_v2_common(row), "label_ids": []}, item_shape("organizations"))


def activity(row: dict) -> dict:
    values = _v2_common(row)
    values["participants"] = (
        [{"person_id": row["person_id"], "primary": True}] if row.get("person_id") else []
    )
    values["creator_user_id"] = row["owner_id"]
    values["marked_as_done_time"] = values["update_time"] if row.get("done") else None
    return conform(values, item_shape("activities"))


def product(row: dict) -> dict:
    return conform({**_v2_common(row), "is_linkable": True}, item_shape("products"))


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
    )
    return conform(values, item_shape("deal_products"))


FIELD_SHAPES = {
    "deals": "deal_fields",
    "persons": "person_fields",
    "organizations": "organization_fields",
    "products": "product_fields",
    "activities": "activity_fields",
}


def field_v2(row: dict) -> dict:
    f = row["def"]
    values = {
        "field_name": f.name,
        "field_code": f.key,
        "field_type": f.field_type,
        "options": f.options,
        "subfields": None,
        "is_custom_field": f.custom,
        "is_optional_response_field": False,
        "ui_visibility": {"add_visible_flag": True},
    }
    return conform(values, item_shape(FIELD_SHAPES.get(f.entity, "deal_fields")))


def field_v1(row: dict) -> dict:
    f = row["def"]
    values = {
        "id": f.id,
        "key": f.key,
        "name": f.name,
        "field_type": f.field_type,
        "order_nr": f.id,
        "add_time": v1_time(f.add_ms),
        "update_time": v1_time(f.update_ms),
        "active_flag": True,
        "edit_flag": f.custom,
        "options": f.options,
        "mandatory_flag": False,
        "bulk_edit_allowed": True,
    }
    return conform(values, item_shape("v1_deal_fields"))


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


def note(row: dict) -> dict:
    return conform(_v1_common(row), item_shape("notes"))


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


def mail_thread(row: dict) -> dict:
    values = {
        **_v1_common(row),
        "account_id": str(row["account_id"]),
        "folders": [row["folder"]],
        "parties": {"to": [], "from": []},
        "last_message_timestamp": v1_time(row["update_ms"]),
        "first_message_timestamp": v1_time(row["add_ms"]),
    }
    return conform(values, item_shape("mail_threads"))


def mail_message(row: dict) -> dict:
    return conform(
        {
            **_v1_common(row),
            "account_id": str(row["account_id"]),
            "message_time": v1_time(row["add_ms"]),
        },
        item_shape("mail_messages"),
    )


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
