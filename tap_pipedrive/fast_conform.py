"""The SDK's type conformance, with each stream's schema compiled once.

Before a record is written the SDK conforms it to its schema (`conform_record_data_types`):
it walks the schema next to the record and asks, for every value of every record, what the
schema's type at that place is (an array of one item schema? an object with properties? a
boolean and nothing else?). Those answers depend only on the schema, so here they are worked
out once per schema (with the SDK's own predicates) into a tree of small functions, and each
record is then walked once. What comes out is what the SDK's function returns: the same keys in
the same order, the same values, the same unmapped properties (and the SDK's one warning about
them).

Covered: every schema shape, for the values JSON parsing gives (str, int, float, bool, None,
dict, list). Any other value (a datetime, bytes, a Decimal, a subclass), a schema place where
the SDK's own predicates raise, or any error here hands the whole record to the SDK's function,
so the SDK always has the last word. tests/tap/test_fast_output.py compares the two on
generated records of every schema in schemas/ and on whole runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import compress, repeat
from operator import is_
from typing import Any

from . import sdk_internals

Unmapped = list  # the property paths not in the schema, in the SDK's order
Conform = Callable[[Any, Unmapped], Any]

_MISSING = object()
_RAISES = object()  # an SDK predicate raised on this schema place: values there go to the SDK
_NONE = type(None)
# Values a primitive (not array, not object) schema place leaves as they are, unless the place
# is exclusively boolean.
_KEPT = frozenset({str, int, bool, _NONE, dict, list})
# What the SDK turns into `value != 0` at an exclusively boolean place.
_TRUTH = frozenset({int, str, dict, list})
_KEPT_OR_FLOAT = _KEPT | {float}  # a float is kept when it is finite, wherever it is


class Unhandled(Exception):
    """A value the compiled conformer leaves to the SDK's function (for the whole record)."""


def _unhandled(*_: Any) -> Any:
    raise Unhandled


def _predicate(function: Callable[[dict], Any], schema: dict) -> Any:
    try:
        return function(schema)
    except Exception:
        return _RAISES


def _kept(values: Any) -> bool:
    """Whether a primitive place that is not exclusively boolean keeps every one of these
    values as it is (str, int, bool, None, dict, list, or a finite float), in one pass in C."""
    kinds = list(map(type, values))
    found = set(kinds)
    if found <= _KEPT:
        return True
    if not found <= _KEPT_OR_FLOAT:
        return False
    return all(map(math.isfinite, compress(values, map(is_, kinds, repeat(float)))))


def _primitive(schema: dict) -> tuple[Callable[[Any], Any], Any]:
    """`_conform_primitive_property(value, schema)` for this schema place, and whether the
    place is exclusively boolean (True, False, or _RAISES when the SDK's check raises)."""
    exclusive = _predicate(sdk_internals.is_exclusive_boolean_type, schema)
    if exclusive is _RAISES:
        return _unhandled, _RAISES
    if exclusive:

        def boolean(value: Any) -> Any:
            kind = type(value)
            if value is None:
                return None
            if kind is bool:
                return value
            if kind is float:
                return value if math.isfinite(value) else None
            if kind in _TRUTH:
                return value != 0
            raise Unhandled

        return boolean, True

    def primitive(value: Any) -> Any:
        kind = type(value)
        if kind in _KEPT:
            return value
        if kind is float:
            return value if math.isfinite(value) else None
        raise Unhandled

    return primitive, False


def _object(schema: dict, parent: str | None) -> Conform:
    """`_conform_record_data_types(obj, schema, RECURSIVE, parent)`, unmapped paths appended
    to the list passed along."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):

        def without_properties(obj: Any, unmapped: Unmapped) -> Any:
            if isinstance(obj, dict) and not obj:
                return {}
            raise Unhandled  # the SDK looks the properties up (and fails): its call

        return without_properties

    additional = schema.get("additionalProperties")
    # None: a primitive place that keeps the values JSON gives (most places), handled inline.
    handlers: dict[Any, Conform | None] = {}
    keeps_none_and_bool = set()  # places where None, True and False stay as they are
    for name, place in properties.items():
        path = name if parent is None else f"{parent}.{name}"
        handlers[name] = _property(place, path)
        if isinstance(place, dict) and _primitive(place)[1] is not _RAISES:
            keeps_none_and_bool.add(name)

    def ordered(obj: dict, unmapped: Unmapped) -> dict:
        out = {}
        for key, value in obj.items():
            handler = handlers.get(key, _MISSING)
            if handler is None:
                kind = type(value)
                if kind in _KEPT:
                    out[key] = value
                elif kind is float:
                    out[key] = value if math.isfinite(value) else None
                else:
                    raise Unhandled
            elif handler is _MISSING:
                if additional:
                    out[key] = value
                else:
                    unmapped.append(key if parent is None else f"{parent}.{key}")
            else:
                out[key] = handler(value, unmapped)
        return out

    if parent is not None:
        return ordered  # a nested object: a few keys, walked in order

    plain = frozenset(key for key, handler in handlers.items() if handler is None)
    special = {key: handler for key, handler in handlers.items() if handler is not None}

    def record(obj: dict, unmapped: Unmapped) -> dict:
        """`ordered` for a whole record, most of whose values stay as they are: the values
        are checked all at once, and only the keys at other places are looked at."""
        if not _kept(obj.values()):
            return ordered(obj, unmapped)
        out = obj.copy()
        rest = obj.keys() - plain
        if rest:
            nested: Unmapped = []
            for key in rest:
                value = obj[key]
                if (value is None or type(value) is bool) and key in keeps_none_and_bool:
                    continue
                handler = special.get(key)
                if handler is None:
                    return ordered(obj, unmapped)  # unmapped: the SDK's order of warnings
                out[key] = handler(value, nested)
            if nested:
                return ordered(obj, unmapped)
        return out

    return record


def _property(schema: Any, path: str) -> Conform | None:
    """What the SDK does with a value at this property: a list at a uniform-list place is
    conformed item by item, a dict at an object place with properties recursively, anything
    else as a primitive. None: a primitive place that keeps the values JSON gives."""
    if not isinstance(schema, dict):
        return _unhandled
    uniform = _predicate(sdk_internals.is_uniform_list, schema)
    nested = _predicate(sdk_internals.is_object_type, schema)
    if nested is not _RAISES:
        nested = bool(nested and "properties" in schema)
    primitive, exclusive = _primitive(schema)
    if uniform is False and nested is False and exclusive is False:
        return None

    if uniform is _RAISES:
        on_list: Conform = _unhandled
    elif uniform:
        on_list = _uniform_list(schema["items"], path)
    else:
        on_list = lambda value, _: primitive(value)  # noqa: E731
    if nested is _RAISES:
        on_dict: Conform = _unhandled
    elif nested:
        on_dict = _object(schema, path)
    else:
        on_dict = lambda value, _: primitive(value)  # noqa: E731

    def conform(value: Any, unmapped: Unmapped) -> Any:
        kind = type(value)
        if kind is list:
            return on_list(value, unmapped)
        if kind is dict:
            return on_dict(value, unmapped)
        if kind is str or kind is int or kind is bool or kind is float or value is None:
            return primitive(value)
        raise Unhandled  # a subclass of list or dict, or a type JSON does not give

    return conform


def _uniform_list(items: Any, path: str) -> Conform:
    """`_conform_uniform_list`: dict items of an object item schema recursively (its path is
    the list's), every other item as a primitive of the item schema."""
    if not isinstance(items, dict):
        return _unhandled
    objects = _predicate(sdk_internals.is_object_type, items)
    primitive, exclusive = _primitive(items)
    nested = _object(items, path) if objects and objects is not _RAISES else None

    def conform(values: list, unmapped: Unmapped) -> list:
        if objects is _RAISES and values:
            raise Unhandled
        if nested is None and exclusive is False and _kept(values):
            return list(values)  # items that stay as they are (ids, labels)
        out = []
        for item in values:
            if nested is not None and type(item) is dict:
                out.append(nested(item, unmapped))
            elif type(item) is dict or type(item) is list:
                out.append(primitive(item))
            elif isinstance(item, dict):
                raise Unhandled
            else:
                out.append(primitive(item))
        return out

    return conform


class Conformer:
    """A stream's conformance, compiled for one schema: `conformer(record)` returns what
    `singer_sdk`'s `conform_record_data_types(stream_name, record, schema, RECURSIVE, logger)`
    returns (and warns as it does)."""

    def __init__(self, stream_name: str, schema: dict, logger: Any) -> None:
        self.stream_name = stream_name
        self.schema = schema
        self.logger = logger
        self._conform = _object(schema, None)

    def __call__(self, record: dict) -> dict:
        out, unmapped = self.conform(record)
        if unmapped:
            sdk_internals.warn_unmapped_properties(self.stream_name, tuple(unmapped), self.logger)
        return out

    def conform(self, record: dict) -> tuple[dict, list]:
        """What the SDK's `_conform_record_data_types(record, schema, RECURSIVE, None)` returns:
        the conformed record and the paths of the properties not in the schema."""
        unmapped: Unmapped = []
        try:
            return self._conform(record, unmapped), unmapped
        except Exception:
            return sdk_internals.sdk_conform(record, self.schema)


class RecordOutput:
    """What a stream's RECORD messages need once per schema and selection rather than per
    record: the compiled conformer of the schema they are conformed to, and whether every
    property is selected (then the SDK's pruning of deselected properties has nothing to do)."""

    def __init__(self, stream_name: str, logger: Any) -> None:
        self.stream_name = stream_name
        self.logger = logger
        self._conformer: Conformer | None = None
        self._mask: Any = None
        self._every_selected = False

    def conformer(self, schema: dict) -> Conformer:
        if self._conformer is None or self._conformer.schema is not schema:
            self._conformer = Conformer(self.stream_name, schema, self.logger)
        return self._conformer

    def every_property_selected(self, mask: dict) -> bool:
        """A selection mask answers a breadcrumb it does not hold with its nearest ancestor's
        value (the stream's, True, at the root): when all it holds is True, nothing is
        deselected anywhere."""
        if mask is not self._mask:
            self._mask, self._every_selected = mask, all(mask.values())
        return self._every_selected
