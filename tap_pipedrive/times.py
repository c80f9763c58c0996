"""The API's time formats, reshaped once at the edge into RFC 3339 UTC."""

from __future__ import annotations

import re
from typing import Any

import pendulum

# "2026-01-02T03:04:05Z", "2026-01-02 03:04:05" (v1) or "2026-01-02T03:04:05.123Z" (leads).
_UTC_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?Z?")


def rfc3339(value: Any, millis: bool = False) -> str | None:
    """Any of the API's time formats as RFC 3339 UTC, one fixed width per stream so that string
    order is time order. Sub-second digits are cut (not rounded) without `millis`."""
    if value in (None, ""):
        return None
    text = str(value)
    # The API's usual shapes are UTC already: reshape them without parsing (a record has
    # several times, and parsing each was half of the tap's time).
    match = _UTC_TIME.fullmatch(text)
    if match:
        day, clock, fraction = match.groups()
        if millis:
            return f"{day}T{clock}.{(fraction or '')[:3].ljust(3, '0')}Z"
        return f"{day}T{clock}Z"
    parsed = pendulum.parse(text.replace(" ", "T"), tz="UTC").in_tz("UTC")
    if millis:
        return parsed.format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"
    return parsed.format("YYYY-MM-DDTHH:mm:ss") + "Z"
