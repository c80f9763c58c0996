"""The client's settings as JSON schema properties, declared once for every plugin that uses it.

Plain JSON schema (no Singer import): the tap and the target put these first in their own
settings, so connection and pacing read the same in `--about`, Meltano and docs/.
"""

from __future__ import annotations

from typing import Any


def _prop(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], "description": description, **extra}


_SECRET = {"secret": True, "writeOnly": True}

CLIENT_SETTINGS: dict[str, dict[str, Any]] = {
    "api_token": _prop(
        "string",
        "API token (Pipedrive > Personal preferences > API). Sent only in the x-api-token "
        "header, never in a URL or a log line. Required unless oauth_access_token is set.",
        **_SECRET,
    ),
    "oauth_access_token": _prop(
        "string",
        "OAuth access token, instead of api_token (sent as Authorization: Bearer).",
        **_SECRET,
    ),
    "company_domain": _prop(
        "string",
        "The part before .pipedrive.com in your Pipedrive address (acme): letters, digits and "
        "hyphens. Required unless api_url is set.",
    ),
    "api_url": _prop(
        "string",
        "Base URL instead of company_domain, e.g. the local sandbox (plain http only to "
        "loopback); a trailing /api/v1 or /api/v2 is dropped.",
    ),
    "plan": _prop(
        "string",
        "Pipedrive plan (lite, growth, premium, ultimate, or the older names) for the burst "
        "limit; without it the client starts at 20 requests per 2 s and adopts the limit the API "
        "announces.",
    ),
    "max_requests_per_2s": _prop(
        "integer", "Burst limit override in requests per rolling 2 seconds."
    ),
    "search_requests_per_2s": _prop(
        "integer", "Burst limit of search calls per 2 seconds (default 10)."
    ),
    "budget_store": _prop(
        "string",
        "Share one rate budget between processes on the same "
        "token: sqlite:///file.db, redis://... or postgresql://...",
    ),
    "wait_for_daily_budget": _prop(
        "boolean",
        "Wait for the daily token budget to reset instead of stopping the run.",
        default=False,
    ),
}


def with_client_settings(schema: dict[str, Any]) -> dict[str, Any]:
    """A plugin's settings schema with the client's settings in front of its own."""
    return {**schema, "properties": {**CLIENT_SETTINGS, **schema["properties"]}}
