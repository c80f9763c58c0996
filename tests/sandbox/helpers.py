from __future__ import annotations

from typing import Any

import requests

from pipedrive_sandbox import Sandbox


def call(sb: Sandbox, method: str, path: str, token: str | None = None, **kwargs: Any):
    headers = {"x-api-token": sb.token if token is None else token}
    return requests.request(method, sb.api_url + path, headers=headers, timeout=10, **kwargs)


def get(sb: Sandbox, path: str, **params: Any) -> dict:
    response = call(sb, "GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def all_v2(sb: Sandbox, path: str, **params: Any) -> list[dict]:
    out, cursor = [], None
    while True:
        body = get(sb, path, **params, **({"cursor": cursor} if cursor else {}))
        out += body["data"] or []
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return out


def all_v1(sb: Sandbox, path: str, **params: Any) -> list[dict]:
    out, start = [], 0
    while True:
        body = get(sb, path, start=start, **params)
        out += body["data"] or []
        extra = body["additional_data"]
        pagination = extra.get("pagination", extra)
        if not pagination["more_items_in_collection"]:
            return out
        start = pagination["next_start"]
