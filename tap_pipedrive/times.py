"""The API's time formats, reshaped once at the edge into RFC 3339 UTC."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pendulum

# "2026-01-02T03:04:05Z", "2026-01-02 03:04:05" (v1) or "2026-01-02T03:04:05.123Z" (leads).
_UTC_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?Z?")
# The two forms `rfc3339` gives, which it gives back unchanged.
_NORMAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").fullmatch
_NORMAL_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").fullmatch


def normal_form(millis: bool = False) -> Callable[[str], Any]:
    """A test (a match or None) for a text already in `rfc3339`'s form: `rfc3339` returns such
    a text as it is, so a record's times that pass need no call."""
    return _NORMAL_MILLIS if millis else _NORMAL


def rfc3339(value: Any, millis: bool = False) -> str | None:
    """Any of the API's time formats as RFC 3339 UTC, one fixed width per stream so that string
    order is time order. Sub-second digits are cut (not rounded) without `millis`."""
    if type(value) is str and (_NORMAL_MILLIS if millis else _NORMAL)(value):
        return value  # already in this form (as v2 lists send their times)
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
