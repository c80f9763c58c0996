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
DEFAULT_READ_AHEAD_STREAMS = 8
DEFAULT_HISTORY_MAX_TOKENS = 20_000
MAX_READ_AHEAD_STREAMS = 8
DEFAULT_TIME_WINDOWS = 8
DEFAULT_PROGRESS_INTERVAL = 5
MAX_TIME_WINDOWS = 32

SETTINGS = with_client_settings(
    th.PropertiesList(
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=False,
            description="The SDK's switch for full-refresh runs: after a stream was read whole, "
            "send ACTIVATE_VERSION, so the loader retires rows the run did not read "
            "(meltano.yml's reference job sets it).",
        ),
        th.Property(
            "reconcile",
            th.BooleanType,
            default=False,
            description="A reconciliation run: read the selected streams whole (every record, "
            "whatever the bookmarks and anchor_date) and tell the loader with ACTIVATE_VERSION "
            "which rows still exist, so rows deleted in Pipedrive get _sdc_deleted_at. For its "
            "own job with its own state (meltano.yml's tap-pipedrive-reconcile).",
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
            "history_max_tokens",
            th.IntegerType,
            default=DEFAULT_HISTORY_MAX_TOKENS,
            description="The most API tokens the change-log streams (deal_changes, "
            "person_changes, organization_changes, deal_stage_changes) may spend in a run; "
            "records whose history did not fit wait in a backlog in the state, read by later "
            "runs. Default 20000.",
        ),
        th.Property(
            "history_daily_share",
            th.NumberType,
            description="At most this share (0 to 1) of the company's daily token budget left, "
            "as the API's headers say at the start of the history, for the change-log streams "
            "(the smaller of this and history_max_tokens applies).",
        ),
        th.Property(
            "history_backlog_order",
            th.StringType,
            default="oldest",
            allowed_values=["oldest", "newest"],
            description="Which records of the history backlog are read first: oldest (lowest "
            "ids) or newest.",
        ),
        th.Property(
            "read_ahead_streams",
            th.IntegerType,
            default=DEFAULT_READ_AHEAD_STREAMS,
            description="How many streams further down the sync are read at the same time as "
            "the one being written, into temporary files (at most 64 MB each); their "
            "requests wait behind those of the stream being written; only over a network (with "
            "a server answering within 30 ms, streams are read in turn). 0 reads one stream at "
            "a time. Default 8.",
        ),
        th.Property(
            "time_windows",
            th.IntegerType,
            default=DEFAULT_TIME_WINDOWS,
            description="How many time windows of one large list (deals, persons, "
            "organizations, activities) may be read at once when the writer waits for pages "
            "(a network's latency), with the requests the burst limit allows; they are written "
            "in order, so bookmarks are as with one. Later windows wait in temporary files (at "
            "most 256 MB each). 1 reads each list as one chain of pages. Default 8.",
        ),
        th.Property(
            "progress_interval",
            th.NumberType,
            default=DEFAULT_PROGRESS_INTERVAL,
            description="Seconds between progress lines on standard error (per stream: records "
            "so far and their rate, pages, requests, tokens). 0 turns them off; the table per "
            "stream at the end of a run stays. Default 5.",
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


def time_windows(config: Mapping[str, Any]) -> int:
    raw = config.get("time_windows", DEFAULT_TIME_WINDOWS)
    if raw is None:
        return DEFAULT_TIME_WINDOWS
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TIME_WINDOWS:
        raise ConfigError(
            f"time_windows '{raw}' must be a whole number from 1 to {MAX_TIME_WINDOWS}."
        )
    return raw


def progress_interval(config: Mapping[str, Any]) -> float:
    raw = config.get("progress_interval", DEFAULT_PROGRESS_INTERVAL)
    if raw is None:
        return DEFAULT_PROGRESS_INTERVAL
    try:
        seconds = float(raw)  # the SDK reads a config file's 0.5 as a Decimal
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(raw, bool | str) or not seconds >= 0:
        raise ConfigError(f"progress_interval '{raw}' must be a number of seconds, 0 or more.")
    return seconds


def history_tokens(config: Mapping[str, Any], daily_left: float | None) -> float:
    """What the change-log streams may spend in this run."""
    cap = config.get("history_max_tokens", DEFAULT_HISTORY_MAX_TOKENS)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise ConfigError(
            f"history_max_tokens '{cap}' must be a whole number of tokens, 0 or more."
        )
    share = config.get("history_daily_share")
    if share is None:
        return float(cap)
    if isinstance(share, bool) or not 0 <= float(share) <= 1:
        raise ConfigError(f"history_daily_share '{share}' must be a number from 0 to 1.")
    if daily_left is None:
        return float(cap)  # the API did not say: the cap alone
    return min(float(cap), float(share) * daily_left)


def validate(config: Mapping[str, Any]) -> ClientConfig:
    """Fail at start, with one line naming the setting, rather than at the first request."""
    anchor_date(config)
    lookback_seconds(config)
    read_ahead_streams(config)
    time_windows(config)
    progress_interval(config)
    history_tokens(config, None)
    if config.get("custom_field_names", "readable") not in ("readable", "keys"):
        raise ConfigError("custom_field_names must be 'readable' or 'keys'.")
    return ClientConfig.from_settings(config)
