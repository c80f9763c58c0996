"""The tap's settings: declared once for --about and Meltano, validated once at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from singer_sdk import typing as th

from pipedrive_client import ClientConfig, ConfigError
from pipedrive_client.settings_schema import with_client_settings

DEFAULT_LOOKBACK_SECONDS = 300
DEFAULT_READ_AHEAD_STREAMS = 3
MAX_READ_AHEAD_STREAMS = 8

SETTINGS = with_client_settings(
    th.PropertiesList(
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=False,
            description="The SDK's switch for full-refresh runs: send ACTIVATE_VERSION, so the "
            "loader retires rows the run did not read (meltano.yml's reference job sets it).",
        ),
        th.Property(
            "anchor_date",
            th.StringType,
            description="Where the first incremental sync starts: YYYY-MM-DD or an RFC 3339 "
            "time. Default: one year before today.",
        ),
        th.Property(
            "start_date",
            th.StringType,
            description="Alias of anchor_date (anchor_date wins when both are set; both are "
            "checked).",
        ),
        th.Property(
            "lookback_window",
            th.CustomType({"type": ["integer", "string"]}),
            default=DEFAULT_LOOKBACK_SECONDS,
            description="How far before each bookmark an incremental run starts reading again, "
            "for records committed late: seconds (300), or a string such as '300s', '5m', "
            "'5 minutes'. Default 300 seconds.",
        ),
        th.Property(
            "custom_field_names",
            th.StringType,
            default="readable",
            allowed_values=["readable", "keys"],
            description="readable: snake_case columns named after the fields; keys: the "
            "40-character hash keys.",
        ),
        th.Property(
            "custom_field_columns",
            th.ObjectType(additional_properties=th.StringType),
            description="{hash key: column}: pins a custom field to a column name, so a field "
            "renamed in Pipedrive keeps its column.",
        ),
        th.Property(
            "include_deleted",
            th.BooleanType,
            default=True,
            description="Emit deleted deals (the API keeps them 30 days) with _sdc_deleted_at.",
        ),
        th.Property(
            "read_ahead_streams",
            th.IntegerType,
            default=DEFAULT_READ_AHEAD_STREAMS,
            description="How many streams further down the sync are read at the same time as "
            "the one being written, with the requests the burst limit has to spare, into "
            "temporary files (at most 64 MB each). 0 reads one stream at a time. Default 3.",
        ),
    ).to_dict()
)


def anchor_date(config: Mapping[str, Any], today: datetime | None = None) -> str:
    """The effective anchor as RFC 3339 UTC, from anchor_date, start_date or one year ago."""
    given = [name for name in ("anchor_date", "start_date") if config.get(name)]
    if not given:
        start = (today or datetime.now(UTC)) - timedelta(days=365)
        return start.strftime("%Y-%m-%dT00:00:00Z")
    # Both are checked: the one not in use would still fail, or mislead, later.
    parsed = [_parsed_date(name, config[name]) for name in given]
    return parsed[0]


def _parsed_date(name: str, raw: Any) -> str:
    try:
        parsed = pendulum.parse(str(raw), tz="UTC")
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        raise ConfigError(
            f"{name} '{raw}' is not a date: use YYYY-MM-DD or an RFC 3339 time such as "
            "2025-01-01T00:00:00Z."
        ) from None
    if not isinstance(parsed, datetime):
        parsed = pendulum.datetime(parsed.year, parsed.month, parsed.day, tz="UTC")
    return parsed.in_tz("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


_DURATION = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$", re.IGNORECASE
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def lookback_seconds(config: Mapping[str, Any]) -> int:
    """lookback_window in seconds: a whole number of seconds, or '300s', '5m', '5 minutes'."""
    raw = config.get("lookback_window", DEFAULT_LOOKBACK_SECONDS)
    if raw is None:
        return DEFAULT_LOOKBACK_SECONDS
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    match = _DURATION.match(raw) if isinstance(raw, str) else None
    if not match:
        raise ConfigError(
            f"lookback_window '{raw}' is not a duration: give seconds (300) or a string such as "
            "'300s' or '5m'."
        )
    unit = (match.group(2) or "s")[0].lower()
    return int(match.group(1)) * _UNIT_SECONDS[unit]


def read_ahead_streams(config: Mapping[str, Any]) -> int:
    raw = config.get("read_ahead_streams", DEFAULT_READ_AHEAD_STREAMS)
    if raw is None:
        return DEFAULT_READ_AHEAD_STREAMS
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_READ_AHEAD_STREAMS:
        raise ConfigError(
            f"read_ahead_streams '{raw}' must be a whole number from 0 to {MAX_READ_AHEAD_STREAMS}."
        )
    return raw


def validate(config: Mapping[str, Any]) -> ClientConfig:
    """Fail at start, with one line naming the setting, rather than at the first request."""
    anchor_date(config)
    lookback_seconds(config)
    read_ahead_streams(config)
    if config.get("custom_field_names", "readable") not in ("readable", "keys"):
        raise ConfigError("custom_field_names must be 'readable' or 'keys'.")
    return ClientConfig.from_settings(config)
