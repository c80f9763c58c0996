"""Custom fields: from Pipedrive's 40-character hash keys to warehouse columns.

Discovery reads the v2 field definitions once. In `readable` mode a field becomes a snake_case
column named after the field ("Deal Source" -> `deal_source`); a name that collides with a
standard column or another custom field gets the first 8 characters of its key appended. Enum
values keep their option id and gain a `<column>_label`; sets gain `<column>_labels`; monetary
values split into `<column>` and `<column>_currency`; date and time ranges into `<column>` and
`<column>_until`; addresses stay objects. Every column's description carries the hash key, so the
mapping is always recoverable (`--discover` shows it).

Option ids are integers in practice, but the official description allows strings: a field
whose options have ids that are not whole numbers gets a text column (with a warning) instead of
losing its values.

A field renamed in Pipedrive would get a new column at the next discovery. To keep the old column,
pin it with the `custom_field_columns` setting ({key: column}); `keys` mode avoids renames
altogether by naming columns after the keys.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

logger = logging.getLogger("tap-pipedrive.custom_fields")

NUMBER_TYPES = {"double", "monetary"}
OPTION_TYPES = {"enum", "set"}
ID_TYPES = {"enum", "user", "org", "people", "stage"}
RANGE_TYPES = {"daterange", "timerange"}


# Letters that Unicode does not decompose into an ASCII base letter.
_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
    }
)
# PostgreSQL cuts identifiers at 63 bytes; leave room for a suffix and `_labels`.
MAX_COLUMN_BASE = 48


def snake_case(name: str) -> str:
    """A field name as an ASCII snake_case column name ('' when nothing usable is left)."""
    text = unicodedata.normalize("NFKD", name.translate(_LETTERS))
    text = text.encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text.strip())
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()[:MAX_COLUMN_BASE].strip("_")
    if text and text[0].isdigit():
        text = f"field_{text}"
    return text


@dataclass(frozen=True)
class CustomField:
    key: str
    name: str
    field_type: str
    column: str
    labels: Mapping[int | str, str] = field(default_factory=dict)

    @cached_property  # asked for each value
    def text_ids(self) -> bool:
        """Options with ids that are not whole numbers: the column holds ids as text."""
        return self.field_type in OPTION_TYPES and any(isinstance(k, str) for k in self.labels)

    def schema(self) -> dict[str, dict[str, Any]]:
        about = f"Pipedrive custom field '{self.name}' ({self.field_type}), key {self.key}"
        kind = self.field_type
        if kind in NUMBER_TYPES:
            main = {"type": ["null", "number"]}
        elif kind in ID_TYPES:
            main = {"type": ["null", "string" if self.text_ids else "integer"]}
        elif kind == "set":
            item = "string" if self.text_ids else "integer"
            main = {"type": ["null", "array"], "items": {"type": item}}
        elif kind == "address":
            main = {"type": ["null", "object"]}
        else:
            main = {"type": ["null", "string"]}
        out = {self.column: {**main, "description": about}}
        if kind == "monetary":
            out[f"{self.column}_currency"] = {
                "type": ["null", "string"],
                "description": f"Currency of {self.key}",
            }
        if kind == "enum":
            out[f"{self.column}_label"] = {
                "type": ["null", "string"],
                "description": f"Option label of {self.key}",
            }
        if kind == "set":
            out[f"{self.column}_labels"] = {
                "type": ["null", "array"],
                "items": {"type": "string"},
                "description": f"Option labels of {self.key}",
            }
        if kind in RANGE_TYPES:
            out[f"{self.column}_until"] = {
                "type": ["null", "string"],
                "description": f"End of the range of {self.key}",
            }
        return out

    def columns(self, value: Any) -> dict[str, Any]:
        kind, col = self.field_type, self.column
        if kind == "monetary":
            value = value if isinstance(value, dict) else {"value": value}
            return {col: _number(value.get("value")), f"{col}_currency": value.get("currency")}
        if kind in RANGE_TYPES:
            value = value if isinstance(value, dict) else {"value": value}
            return {col: value.get("value"), f"{col}_until": value.get("until")}
        if kind == "enum":
            option = option_key(value)
            label = self.labels.get(option) if option is not None else None
            return {col: self._option_value(option), f"{col}_label": label}
        if kind == "set":
            values = value if isinstance(value, list) else [] if value is None else [value]
            keys = [k for k in map(option_key, values) if k is not None]
            ids = [self._option_value(k) for k in keys]
            return {
                col: [i for i in ids if i is not None] or None,
                f"{col}_labels": [self.labels.get(k) for k in keys] if keys else None,
            }
        if kind in NUMBER_TYPES:
            return {col: _number(value)}
        if kind in ID_TYPES:
            return {col: self._option_value(option_key(value))}
        if kind == "address":
            return {col: value if isinstance(value, dict) or value is None else {"value": value}}
        return {col: None if value is None else str(value)}

    def _option_value(self, key: int | str | None) -> int | str | None:
        if key is None or self.text_ids:
            return None if key is None else str(key)
        if isinstance(key, str):
            # An integer column, and an id that is not a number: the column can not hold it.
            logger.warning(
                "Custom field '%s' (%s) has the value '%s', which is not a whole-number id; "
                "its column is left empty (its label, if known, is kept).",
                self.name,
                self.key,
                key[:40],
            )
            return None
        return key


def name_columns(
    definitions: Iterable[Mapping[str, Any]],
    reserved: Iterable[str],
    mode: str,
    pinned: Mapping[str, str] | None = None,
) -> list[CustomField]:
    """Column names for the custom fields among `definitions` (v2 field definitions)."""
    pinned = pinned or {}
    taken = set(reserved)
    planned = []
    for d in definitions:
        if not d.get("is_custom_field"):
            continue
        key = d["field_code"]
        if key in pinned:
            column = pinned[key]
        elif mode == "keys":
            column = key
        else:
            column = snake_case(d.get("field_name") or "") or f"field_{key[:8]}"
            if column in taken:
                column = f"{column}_{key[:8]}"
        labels = {
            option_key(o["id"]): o.get("label")
            for o in d.get("options") or []
            if isinstance(o, dict) and option_key(o.get("id")) is not None
        }
        planned_field = CustomField(
            key, d.get("field_name") or key, d.get("field_type") or "", column, labels
        )
        if planned_field.text_ids:
            logger.warning(
                "Custom field '%s' (%s) has option ids that are not whole numbers; its column "
                "'%s' holds them as text.",
                planned_field.name,
                key,
                column,
            )
        taken.update(planned_field.schema())
        planned.append(planned_field)
    return planned


def option_key(value: Any) -> int | str | None:
    """An option (or user, org, person) id as the API may send it: an integer, a string of
    digits, a string, or `{id, label}`. Whole numbers come back as int, other text as str."""
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    if isinstance(value, str):
        text = value.strip()
        return int(text) if re.fullmatch(r"-?\d+", text) else (text or None)
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# Where each stream's state keeps the custom fields' names and columns of its last run.
NAMES_STATE_KEY = "custom_field_names"


def renames(
    last_run: Mapping[str, Any] | None, fields: Iterable[CustomField]
) -> list[tuple[CustomField, str, str]]:
    """The fields renamed in Pipedrive since the last run, as (field now, old name, old
    column), from what the last run kept in the state ({key: [name, column]})."""
    out = []
    for now in fields:
        before = (last_run or {}).get(now.key)
        if isinstance(before, list | tuple) and len(before) == 2 and before[0] != now.name:
            out.append((now, str(before[0]), str(before[1])))
    return out


def names_to_keep(fields: Iterable[CustomField]) -> dict[str, list[str]]:
    return {f.key: [f.name, f.column] for f in fields}


def rename_warning(stream: str, now: CustomField, old_name: str, old_column: str) -> str:
    where = (
        f"its column stays '{now.column}'"
        if now.column == old_column
        else f"its values now go to a new column '{now.column}' and '{old_column}' keeps the "
        f"earlier rows (pin the field in custom_field_columns, "
        f'{{"{now.key}": "{old_column}"}}, to keep one column)'
    )
    return (
        f"{stream}: custom field '{old_name}' was renamed in Pipedrive to '{now.name}' since the "
        f"last run (key {now.key}); {where}."
    )
