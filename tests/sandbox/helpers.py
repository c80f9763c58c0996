from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import requests
import yaml

from pipedrive_sandbox import Sandbox

# The official descriptions, kept in tests/specs (see its README).
SPECS = Path(os.environ.get("PIPEDRIVE_SPECS") or Path(__file__).resolve().parent.parent / "specs")


@functools.cache
def description(generation: str) -> dict:
    """The official description of v1 or v2, parsed once per session (with libyaml where it is
    installed: the pure-Python parser takes seconds per file). Read-only: callers never change
    it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SPECS / f"{generation}.yaml").read_text(), Loader=loader)  # noqa: S506


# The API's time formats: v2 records, v1 records, and with milliseconds (leads, lead labels,
# the mailbox).
V2_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
V1_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
MILLIS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def check(value, spec, where: str) -> None:
    """`value` against its described shape (`render.item_shape`: t type, n nullable,
    p properties), recursively."""
    if value is None:
        assert spec.get("n"), f"{where} is null but the description says it never is"
        return
    expected = TYPES.get(spec.get("t") or "", object)
    assert isinstance(value, expected), f"{where}: {value!r} is not {spec.get('t')}"
    assert not (spec.get("t") in ("integer", "number") and isinstance(value, bool)), where
    for key, sub in (spec.get("p") or {}).items():
        if isinstance(value, dict) and key in value:
            check(value[key], sub, f"{where}.{key}")


def call(sb: Sandbox, method: str, path: str, token: str | None = None, **kwargs: Any):
    headers = {"x-api-token": sb.token if token is None else token, **kwargs.pop("headers", {})}
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
