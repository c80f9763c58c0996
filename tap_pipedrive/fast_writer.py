"""The SDK's Singer message writer, with RECORD lines made faster and byte for byte the same.

The SDK writes each message with `simplejson.dumps(message, use_decimal=True,
default=<isoformat or str>, separators=(",", ":"), ignore_nan=True)` (ASCII only: every other
character escaped) and flushes stdout after every line. Per record that builds a new encoder,
calls back into Python for `time_extracted`, and makes a system call.

Here a RECORD line is put together from its parts, in the order of the SDK's
`RecordMessage.to_dict` (type, stream, record, version, time_extracted), and its record is
encoded by orjson, which gives the same bytes as simplejson for what a record holds (JSON's
own types) except in cases that are recognised in its output and then encoded by simplejson
instead (`_same_as_simplejson`). Every other message, and every record orjson refuses (a type
JSON parsing does not give, an integer beyond 64 bits, text that is not valid Unicode), goes
through the SDK's own serializer. Before the first record the fast encoder is checked on a
set of values covering each of these cases; should an orjson release format one differently,
every record goes the SDK's way.

Lines are written in batches: RECORD lines are held (at most BUFFER_CHARS) and written with
the next message of any other kind (a STATE, a SCHEMA), so a STATE never reaches the target
before the records it covers, and the tap writes what is held when a stream's sync ends, well
or not (`flush`).
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import sys
from typing import Any

import orjson
from simplejson.encoder import encode_basestring_ascii
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.json import serialize_json

BUFFER_CHARS = 256 * 1024
_SMALL_FLOAT = re.compile(rb"[0-9]e-")
# Types orjson would write its own way rather than refuse: go to simplejson.
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _same_as_simplejson(encoded: bytes) -> bool:
    """Whether orjson's bytes for a record are what simplejson would write. They differ only
    where (1) a character is not ASCII (simplejson writes \\uXXXX), (2) DEL, 0x7f, appears
    (simplejson escapes it), (3) a float below 1e-4 in magnitude is written (Python's repr,
    and so simplejson, writes 1e-05 where orjson writes 0.00001, and 1e-07 where it writes
    1e-7). A false alarm (the same bytes inside a text) only costs the slower way."""
    return (
        encoded.isascii()
        and b"\x7f" not in encoded
        and b"0.0000" not in encoded
        and (b"e-" not in encoded or not _SMALL_FLOAT.search(encoded))
    )


# Values of every kind a record holds, and the edges where the two encoders part: checked once
# (a new orjson release that wrote one of them its own way would otherwise go unnoticed).
_FLOATS = [0.0, -0.0, 1.0, -1.5, 0.1, 1e-4, 1.5e-4, 9.99e-5, 1e-5, 1e-7, 1e-10, 1e15, 1e16]
_FLOATS += [1e21, 1e22, 2.5e300, 5e-324, 1.7976931348623157e308, 123456.789, 2**53 + 0.0]
_FLOATS += [math.nan, math.inf, -math.inf, 1 / 3, 2 / 3, 100.0, 1234567890123456.7]
_PROBES: list[Any] = [
    {"ascii": "".join(map(chr, range(128))), "text": "Café Zoë ☃ 𝄞 \u2028"},
    {"floats": _FLOATS, "ints": [0, -1, 2**31, 2**53, 2**63 - 1, -(2**63), 2**64 - 1, 2**64]},
    {"nested": [{"a": None, "b": True, "c": False, "d": [], "e": {}}], "": ""},
    {"surrogate": "\ud800", "key \x00": 'quote " backslash \\ slash /'},
]
_PROBES += [{"f": f} for f in _FLOATS]


class Prepared(dict):
    """A record conformed to its stream's schema by the thread that read it (prepared.py), and
    `json`, its JSON as `record_json` gives it. Stored (pickled, read_ahead.py) as that JSON,
    which reads back as the same record: only a record whose JSON orjson wrote is prepared."""

    __slots__ = ("json",)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _prepared_from_json, (self.json,)


def _prepared_from_json(text: str) -> Prepared:
    record = Prepared(orjson.loads(text))
    record.json = text
    return record


class RecordLineWriter(SimpleSingerWriter):
    """SimpleSingerWriter (the SDK's default) with fast RECORD lines and batched writes."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[str] = []
        self._held_chars = 0
        self._heads: dict[str, str] = {}
        self._fast = fast_encoder_agrees()

    # -- lines -----------------------------------------------------------------------------

    def serialize_message(self, message: Any) -> str:
        if type(message) is RecordMessage:
            line = self.record_line(message)
            if line is not None:
                return line
        return serialize_json(message.to_dict())

    def record_line(self, message: RecordMessage) -> str | None:
        """The SDK's line for this RECORD message, or None when only the SDK can tell."""
        stream, version, extracted = message.stream, message.version, message.time_extracted
        head = self._heads.get(stream) if type(stream) is str else None
        if head is None:
            if type(stream) is not str:
                return None
            head = self._heads[stream] = (
                '{"type":"RECORD","stream":' + encode_basestring_ascii(stream) + ',"record":'
            )
        tail = ""
        if version is not None:
            if type(version) is not int:
                return None
            tail = ',"version":' + int.__repr__(version)
        if extracted is not None:
            if not isinstance(extracted, datetime.datetime):
                return None
            # simplejson hands a datetime to the SDK's `default`: isoformat(sep="T").
            tail += ',"time_extracted":' + encode_basestring_ascii(extracted.isoformat(sep="T"))
        record = self.record_json(message.record)
        return head + record + tail + "}"

    def record_json(self, record: Any) -> str:
        if type(record) is Prepared:
            return record.json
        if self._fast:
            text = fast_record_json(record)
            if text is not None:
                return text
        return serialize_json(record)

    # -- writing ---------------------------------------------------------------------------

    def write_message(self, message: Any) -> None:
        line = self.format_message(message)
        self._held.append(line)
        self._held_chars += len(line)
        if type(message) is not RecordMessage or self._held_chars >= BUFFER_CHARS:
            self.flush()

    def flush(self) -> None:
        """Write the lines held, then flush stdout (what the SDK does after every line)."""
        if self._held:
            held, self._held, self._held_chars = self._held, [], 0
            held.append("")
            sys.stdout.write("\n".join(held))
        sys.stdout.flush()


def fast_record_json(record: Any) -> str | None:
    """The record's JSON by orjson, when that is simplejson's to the byte (else None)."""
    if type(record) is dict:
        try:
            encoded = orjson.dumps(record, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: a value only simplejson writes
            return None
        if _same_as_simplejson(encoded):
            return encoded.decode("ascii")
    return None


@functools.cache
def fast_encoder_agrees() -> bool:
    """Whether the fast record encoding gives the SDK's bytes for every probe (once a run)."""
    writer = RecordLineWriter.__new__(RecordLineWriter)
    writer._fast = True
    try:
        return all(writer.record_json(probe) == serialize_json(probe) for probe in _PROBES)
    except Exception:
        return False
