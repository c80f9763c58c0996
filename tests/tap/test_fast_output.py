"""The tap's fast RECORD output (tap_pipedrive/fast_conform.py, fast_writer.py) writes what the
SDK's plain path writes, byte for byte: a whole run on the sandbox with values of every kind,
and the compiled conformer and the fast writer each against the SDK's own function."""

from __future__ import annotations

import contextlib
import datetime
import decimal
import io
import json
import logging
import math
import random
import re
import struct
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import requests
from singer_sdk.helpers import _typing
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter

from tap_pipedrive import fast_conform, fast_writer, times
from tap_pipedrive.custom_fields import CustomField
from tap_pipedrive.fast_conform import Conformer
from tap_pipedrive.fast_writer import RecordLineWriter

from .runner import config_for

SCHEMAS = sorted(
    p.name.removesuffix(".json")
    for p in resources.files("tap_pipedrive").joinpath("schemas").iterdir()
    if p.name.endswith(".json")
)
# The SDK's plain path: its own RECORD messages and writer (what the tap wrote before).
PLAIN = """
from singer_sdk import Stream
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from tap_pipedrive import base_streams, tap
base_streams.PipedriveStream._generate_record_messages = Stream._generate_record_messages
tap.TapPipedrive.message_writer_class = SimpleSingerWriter
tap.main()
"""
FAST = "from tap_pipedrive import tap; tap.main()"
# What differs from one run to the next: the time each record was written, and the run's
# start in the state.
RUN_TIMES = re.compile(rb'("time_extracted"|"replication_key_signpost"):"[^"]*"')


# -- a whole run ----------------------------------------------------------------------------


def _field(sb, name: str, field_type: str) -> str:
    response = requests.post(
        f"{sb.api_url}/api/v2/personFields",
        params={"api_token": sb.token},
        json={"field_name": name, "field_type": field_type},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["data"]["field_code"]


def _unusual_records(sb) -> None:
    """Records with what output must carry exactly: text in many scripts and every escape,
    floats Python and other encoders write differently, nulls, nested objects and arrays,
    custom fields of every kind, and values conformance changes (0/1 at boolean places)."""
    kinds = ["monetary", "user", "org", "people", "stage", "timerange", "daterange", "text"]
    kinds += ["time", "phone", "enum", "set", "double", "address", "varchar", "date"]
    extra = {kind: _field(sb, f"Extra {kind}", kind) for kind in kinds}
    text = 'Zoë Ångström — 東京 😀 "quoted" back\\slash tab\t line\nbreak \x7f \u2028 \x01'
    person, other = sb.ids("persons")[:2]
    customs = sb.store.get("persons", person)["custom_fields"]
    doubles = [d.key for d in sb.store.custom_defs("persons") if d.field_type == "double"]
    sb.store.update(
        "persons",
        person,
        {
            "name": text,
            "first_name": "Zoë",
            "job_title": 12345,  # an integer at a text place: kept as it is
            "is_deleted": 0,  # conformed to false
            "emails": [{"value": "zoë@example.com", "primary": 1, "label": None, "x": "drop"}],
            "phones": [{"value": "+1 555", "primary": 0, "label": "work"}],
            "postal_address": {"value": "Straße 1, München", "locality": "München", "z": 1},
            "custom_fields": {
                **customs,
                **dict.fromkeys(doubles, 1e-07),
                extra["monetary"]: {"value": "12.5", "currency": "EUR"},
                extra["user"]: {"id": 2, "name": "Ann"},
                extra["org"]: 7,
                extra["people"]: "12",
                extra["stage"]: 3.0,
                extra["timerange"]: {"value": "08:00:00", "until": "09:30:00"},
                extra["daterange"]: {"value": "2026-01-01", "until": "2026-02-01"},
                extra["text"]: text,
                extra["time"]: "23:59:59",
                extra["phone"]: "+44 20 7946 0000",
                extra["enum"]: "not a number",
                extra["set"]: [1, "2", {"id": 3}, None],
                extra["double"]: 1.5e16,
                extra["address"]: {"value": "東京", "nested": [1, 2.5, None, {"a": "é"}]},
                extra["varchar"]: "",
                extra["date"]: None,
            },
        },
    )
    sb.store.update(
        "persons",
        other,
        {"name": "Ωmega", "custom_fields": {**dict.fromkeys(doubles, 2.5e-05), extra["set"]: []}},
    )
    deal = sb.ids("deals")[0]
    sb.store.update("deals", deal, {"title": text, "value": 1e16, "probability": 0.1 + 0.2})
    product = sb.ids("products")[0]
    prices = [{"currency": "EUR", "price": 1e-06, "cost": None, "note": "ü"}]
    sb.store.update("products", product, {"name": "Prodüct ☃", "prices": prices})


def _run(code: str, config: dict, tmp: Path) -> bytes:
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-c", code, "--config", str(path)],
        capture_output=True,
        check=True,
        timeout=240,
    )
    return done.stdout


def test_a_run_writes_what_the_sdk_plain_path_writes_byte_for_byte(sandbox, tmp_path) -> None:
    _unusual_records(sandbox)
    # One stream at a time, so that the STATE messages between records come at the same places.
    config = config_for(sandbox, read_ahead_streams=0, time_windows=1)
    fast = _run(FAST, config, tmp_path)
    plain = _run(PLAIN, config, tmp_path)
    fast_lines, plain_lines = fast.splitlines(), plain.splitlines()
    assert len(fast_lines) == len(plain_lines)
    for ours, theirs in zip(fast_lines, plain_lines, strict=True):
        assert RUN_TIMES.sub(rb"\1:-", ours) == RUN_TIMES.sub(rb"\1:-", theirs)
    assert fast.endswith(b"\n")
    # The run did carry what this is about.
    records = [json.loads(line) for line in fast_lines if line.startswith(b'{"type":"RECORD"')]
    zoe = next(r["record"] for r in records if r["record"].get("first_name") == "Zoë")
    assert zoe["is_deleted"] is False
    assert zoe["emails"] == [{"value": "zoë@example.com", "primary": True, "label": None}]
    assert zoe["phones"][0]["primary"] is False
    assert "z" not in zoe["postal_address"]
    assert zoe["job_title"] == 12345
    assert zoe["extra_monetary"] == 12.5
    assert zoe["extra_people"] == 12
    assert zoe["extra_set"] == [1, 2, 3]
    assert zoe["extra_double"] == 1.5e16
    assert rb"Zo\u00eb \u00c5ngstr\u00f6m \u2014 \u6771\u4eac \ud83d\ude00" in fast
    assert rb"\u007f" in fast
    assert rb'"price":1e-06' in fast
    assert rb'"value":1e+16' in fast
    assert len(records) > 100


# -- the compiled conformer against the SDK's ---------------------------------------------------


class Box(dict):
    """A dict subclass: a type JSON parsing never gives."""


TEXTS = ["", "text", "Zoë 東京 😀", "2026-01-02T03:04:05Z", "0", "\ud800"]
FLOATS = [0.0, -0.0, 1.5, 1e-07, 1e16, math.nan, math.inf, -math.inf]
ODD = [
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    datetime.date(2026, 1, 2),
    datetime.time(3, 4, 5),
    datetime.timedelta(seconds=5),
    decimal.Decimal("1.50"),
    decimal.Decimal("NaN"),
    b"\x00",
    b"\x01",
    (1, 2),
]


def _value(rng: random.Random, schema: Any, depth: int = 0) -> Any:
    """A value for a schema place: mostly one of its type, often one it must conform or drop,
    now and then one only the SDK handles."""
    schema = schema if isinstance(schema, dict) else {}
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    roll = rng.random()
    if roll < 0.55 and depth < 4:
        kind = rng.choice([t for t in types if t != "null"] or ["string"])
        if kind == "object" and "properties" in schema:
            return _object(rng, schema, depth + 1)
        if kind == "object":
            return {"free": _value(rng, {}, depth + 1), "é": [1.5, None]}
        if kind == "array":
            return [
                _value(rng, schema.get("items", {}), depth + 1) for _ in range(rng.randint(0, 3))
            ]
        if kind == "boolean":
            return rng.choice([True, False, 0, 1, 2, "yes", ""])
        if kind == "integer":
            return rng.choice([0, 1, -7, 2**70, True, "12"])
        if kind == "number":
            return rng.choice([*FLOATS, 3, 2**64])
        return rng.choice(TEXTS)
    if roll < 0.65:
        return None
    if roll < 0.9 or depth >= 4:
        return rng.choice([*TEXTS, *FLOATS, 0, 1, True, False, [], {}, [1, "a"], {"k": None}])
    return rng.choice([*ODD, Box(a=1), [Box(), {"x": 1.0}]])


def _object(rng: random.Random, schema: dict, depth: int = 0) -> dict:
    properties = list(schema["properties"].items())
    rng.shuffle(properties)
    out = {
        name: _value(rng, place, depth)
        for name, place in properties[: rng.randint(0, len(properties))]
    }
    if rng.random() < 0.1:
        out[f"unknown_{rng.randint(0, 3)}"] = _value(rng, {}, depth)
    return out


def _schema(name: str) -> dict:
    schema = json.loads(
        resources.files("tap_pipedrive").joinpath(f"schemas/{name}.json").read_text()
    )
    for kind in ("double", "monetary", "enum", "set", "user", "address", "daterange", "varchar"):
        labels = {1: "One", "x": "Text id"} if kind == "set" else {1: "One"}
        schema["properties"].update(
            CustomField(f"k{kind}", kind, kind, f"c_{kind}", labels).schema()
        )
    return schema


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (True is not 1, NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, decimal.Decimal) and a.is_nan():
        return b.is_nan()
    return a == b


def _sdk(record: dict, schema: dict) -> tuple[Any, Any]:
    try:
        return _typing._conform_record_data_types(
            record, schema, TypeConformanceLevel.RECURSIVE, None
        ), None
    except Exception as exc:
        return None, type(exc)


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_compiled_conformer_gives_what_the_sdk_gives(name) -> None:
    schema = _schema(name)
    conformer = Conformer(name, schema, logging.getLogger("test"))
    rng = random.Random(name)
    for _ in range(300):
        record = _object(rng, schema)
        before = repr(record)
        expected, error = _sdk(record, schema)
        if error is not None:
            with pytest.raises(error):
                conformer.conform(record)
            continue
        got = conformer.conform(record)
        assert repr(record) == before  # the record given is left as it was
        assert _same(got, expected), (record, got, expected)


@pytest.mark.parametrize("name", SCHEMAS)
def test_records_as_the_api_sends_them_take_the_fast_way(name, monkeypatch) -> None:
    """JSON's own types, of the schema's types: no record is handed to the SDK's function
    (that would be right, only slow)."""

    def refuse(*_: Any) -> Any:
        raise AssertionError("handed to the SDK")

    monkeypatch.setattr(fast_conform.sdk_internals, "sdk_conform", refuse)
    schema = _schema(name)
    conformer = Conformer(name, schema, logging.getLogger("test"))
    rng = random.Random(name)
    for _ in range(100):
        record = json.loads(json.dumps(_typed(rng, schema)))
        expected, error = _sdk(record, schema)
        assert error is None
        assert _same(conformer.conform(record), expected)


def _typed(rng: random.Random, schema: dict, depth: int = 0) -> Any:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    kind = rng.choice([t for t in types if t != "null"] or ["string"])
    if rng.random() < 0.2 and "null" in types:
        return None
    if kind == "object":
        properties = schema.get("properties", {})
        return {k: _typed(rng, v, depth + 1) for k, v in properties.items() if depth < 3}
    if kind == "array":
        return [_typed(rng, schema.get("items") or {}, depth + 1) for _ in range(2)]
    return {"boolean": True, "integer": 7, "number": 2.5}.get(kind, "text é")


def test_unmapped_properties_are_warned_about_as_the_sdk_warns(caplog) -> None:
    schema = _schema("persons")
    record = {"id": 1, "surprise": 1, "emails": [{"value": "a", "new": 1}], "late": None}
    expected, _ = _sdk(record, schema)
    with caplog.at_level(logging.WARNING):
        got = Conformer("persons-warn", schema, logging.getLogger("test")).__call__(record)
    assert _same(got, expected[0])
    assert expected[1] == ["surprise", "emails.new", "late"]
    assert "('surprise', 'emails.new', 'late')" in caplog.text


# -- the fast writer against the SDK's --------------------------------------------------------


def _floats(rng: random.Random) -> list[float]:
    """Floats around every power of ten where formats switch, and random bit patterns."""
    out = []
    for exponent in range(-12, 24):
        base = 10.0**exponent
        out += [base, -base, math.nextafter(base, 0), math.nextafter(base, math.inf)]
        out += [rng.uniform(1, 10) * base for _ in range(5)]
    for _ in range(300):
        value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        out.append(value)
    return [*out, 0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 0.1 + 0.2]


def _texts(rng: random.Random) -> list[str]:
    out = ["".join(map(chr, range(128))), "\ud800", "\udfff x", "😀", "\u2028\u2029", "\x00"]
    for _ in range(200):
        out.append(
            "".join(
                chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x10FFFF)]))
                for _ in range(rng.randint(0, 12))
            )
        )
    return out


def _record(rng: random.Random, floats: list, texts: list) -> Any:
    def value(depth: int) -> Any:
        roll = rng.random()
        if roll < 0.3:
            return rng.choice(floats)
        if roll < 0.55:
            return rng.choice(texts)
        if roll < 0.65:
            return rng.choice([None, True, False, 0, -1, 2**53, 2**63 - 1, 2**64, -(2**70)])
        if roll < 0.7:
            return rng.choice(ODD[:5])
        if depth < 3 and roll < 0.85:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if depth < 3:
            return {rng.choice(texts): value(depth + 1) for _ in range(rng.randint(0, 3))}
        return "leaf"

    record = {rng.choice(texts[:50]) or "k": value(0) for _ in range(rng.randint(0, 8))}
    if rng.random() < 0.05:
        record[7] = "an integer key"
    return record


def _message(rng: random.Random, record: Any) -> RecordMessage:
    extracted = rng.choice(
        [
            None,
            datetime.datetime.now(datetime.UTC),
            datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        ]
    )
    version = rng.choice([None, 1_700_000_000, 0])
    stream = rng.choice(["deals", "persons", "Zoë", 'a"b'])
    return RecordMessage(stream=stream, record=record, version=version, time_extracted=extracted)


def test_record_lines_are_the_sdk_writers_byte_for_byte() -> None:
    rng = random.Random(7)
    floats, texts = _floats(rng), _texts(rng)
    ours, sdk = RecordLineWriter(), SimpleSingerWriter()
    for f in floats:
        message = _message(rng, {"f": f, "fs": [f, -f]})
        assert ours.serialize_message(message) == sdk.serialize_message(message), f
    for text in texts:
        message = _message(rng, {text or "k": text})
        assert ours.serialize_message(message) == sdk.serialize_message(message), text
    for _ in range(3000):
        message = _message(rng, _record(rng, floats, texts))
        assert ours.serialize_message(message) == sdk.serialize_message(message)


def test_other_messages_and_the_written_stream_are_the_sdk_writers() -> None:
    messages = [
        SchemaMessage("deals", {"properties": {"id": {"type": "integer"}}}, ["id"], ["x"]),
        RecordMessage("deals", {"id": 1, "name": "Zoë"}, time_extracted=None),
        RecordMessage("deals", {"id": 2, "f": 1e-05}, version=3),
        StateMessage({"bookmarks": {"deals": {"replication_key_value": "2026-01-01T00:00:00Z"}}}),
        RecordMessage("deals", {"id": 3, "d": decimal.Decimal("1.10")}),
    ]
    written = {}
    for writer in (RecordLineWriter(), SimpleSingerWriter()):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for message in messages:
                writer.write_message(message)
            if isinstance(writer, RecordLineWriter):
                assert out.getvalue().count("\n") == 4  # the last record is still held
                writer.flush()
        written[type(writer)] = out.getvalue()
    assert written[RecordLineWriter] == written[SimpleSingerWriter]


def test_the_fast_encoder_checks_out_and_takes_the_usual_records(monkeypatch) -> None:
    assert fast_writer.fast_encoder_agrees()
    writer = RecordLineWriter()
    slow = []
    monkeypatch.setattr(fast_writer, "serialize_json", lambda obj: slow.append(obj) or "{}")
    record = {"id": 1, "name": "Deal 1", "value": 123.45, "tags": [1, 2], "org": {"id": 2}}
    writer.serialize_message(RecordMessage("deals", record))
    assert slow == []
    writer.serialize_message(RecordMessage("deals", {"name": "Zoë"}))  # not ASCII: the SDK's
    assert slow == [{"name": "Zoë"}]


# -- times already in their form are not reshaped ----------------------------------------------


def _reference_rfc3339(value: Any, millis: bool) -> str | None:
    """rfc3339 as it was before its shortcut for times already in form."""
    if value in (None, ""):
        return None
    match = times._UTC_TIME.fullmatch(str(value))
    if match:
        day, clock, fraction = match.groups()
        if millis:
            return f"{day}T{clock}.{(fraction or '')[:3].ljust(3, '0')}Z"
        return f"{day}T{clock}Z"
    return times.rfc3339(value, millis)  # parsed: the shortcut does not apply


@pytest.mark.parametrize("millis", [False, True])
def test_times_in_form_come_back_as_they_were_reshaped(millis) -> None:
    rng = random.Random(3)
    digits = "0123456789٣٤"  # \d also matches other scripts' digits
    for _ in range(3000):
        text = "".join(rng.choice(digits) for _ in range(14))
        day, clock = (
            f"{text[:4]}-{text[4:6]}-{text[6:8]}",
            f"{text[8:10]}:{text[10:12]}:{text[12:14]}",
        )
        fraction = rng.choice(["", ".1", ".123", ".1234", ".12٣"])
        for value in (f"{day}T{clock}{fraction}Z", f"{day} {clock}{fraction}", f"{day}T{clock}"):
            assert times.rfc3339(value, millis) == _reference_rfc3339(value, millis), value
