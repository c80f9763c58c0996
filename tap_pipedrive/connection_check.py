"""`tap-pipedrive --test`: whether the connection works, for one request (GET /api/v1/users/me,
2 tokens), where the SDK's own test would sync a record of every stream (discovery and a
request per stream). It tells, on standard error, whom the token belongs to, the plan's burst
limit and the daily token budget left as the API's headers say, and which streams the user's
access lets the tap read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipedrive_client import PLAN_BURST_LIMITS, PipedriveClient


def report(client: PipedriveClient, streams: Iterable[Any]) -> list[str]:
    """The lines of the check (its one request raises on a rejected token or domain)."""
    user, headers = client.current_user_and_headers()
    burst = _number(headers.get("x-ratelimit-limit"))
    daily_left = client.stats.daily_tokens_left
    daily_limit = _number(headers.get("x-daily-ratelimit-token-limit"))
    apps = {entry.get("app"): bool(entry.get("admin")) for entry in user.get("access") or []}
    readable, unreadable = readable_streams(streams, apps, burst)
    admin = any(apps.values()) or user.get("is_admin")
    lines = [
        "Connection check: the API token was accepted.",
        f"User: {user.get('name')} <{user.get('email')}> (id {user.get('id')})"
        + (
            ", an admin"
            if admin
            else ", not an admin: records are those its visibility groups show"
        ),
        f"Company: {user.get('company_name')} (id {user.get('company_id')}, "
        f"{user.get('company_domain')}.pipedrive.com)",
        "Burst limit: "
        + (
            f"{burst:,.0f} requests per 2 s ({plan_names(burst)})"
            if burst
            else "not announced by the API; the tap paces at its `plan` setting's limit"
        ),
        "Daily token budget left: "
        + (
            f"{daily_left:,.0f}" + (f" of {daily_limit:,.0f}" if daily_limit else "")
            if daily_left is not None
            else "not announced by the API"
        ),
        f"Streams the user may read ({len(readable)}): {', '.join(readable)}",
    ]
    if unreadable:
        lines.append(
            f"Streams it may not read ({len(unreadable)}): "
            + "; ".join(f"{name} ({why})" for name, why in unreadable)
        )
    lines.append(f"This check cost {client.stats.requests} request, {client.stats.tokens} tokens.")
    return lines


def readable_streams(
    streams: Iterable[Any], apps: Mapping[str, bool], burst: float | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Stream names the user's app access (and the plan, where a list needs one) allow, and
    the others with the reason."""
    readable, unreadable = [], []
    for stream in sorted(streams, key=lambda s: s.name):
        if stream.app not in apps:
            unreadable.append((stream.name, f"no access to the {stream.app} app"))
        elif stream.plan and burst and burst < PLAN_BURST_LIMITS[stream.plan]:
            unreadable.append((stream.name, f"the {stream.plan.capitalize()} plan and above"))
        else:
            readable.append(stream.name)
    return readable, unreadable


def plan_names(burst: float) -> str:
    names = [name.capitalize() for name, limit in PLAN_BURST_LIMITS.items() if limit == burst]
    return " or ".join(names) + " plan" if names else "a custom limit"


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
