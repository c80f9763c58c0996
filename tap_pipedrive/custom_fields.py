"""Custom fields: from Pipedrive's 40-character hash keys to warehouse columns.

Discovery reads the v2 field definitions once. In `readable` mode a field becomes a snake_case
column named after the field ("Deal Source" -> `deal_source`); a name that collides with a
standard column or another custom field gets the first 8 characters of its key appended. Enum
values keep their option id and gain a `<column>_label`; sets gain `<column>_labels`; monetary
values split into `<column>` and `<column>_currency`; date and time ranges into `<column>` and
`<column>_until`; addresses stay objects. Every column's description carries the hash key, so the
mapping is always recoverable (`--discover` shows it).

A field renamed in Pipedrive would get a new column at the next discovery. To keep the old column,
pin it with the `custom_field_columns` setting ({key: column}); `keys` mode avoids renames
altogether by naming columns after the keys.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NUMBER_TYPES = {"double", "monetary"}
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
    labels: Mapping[int, str] = field(default_factory=dict)

    def schema(self) -> dict[str, dict[str, Any]]:
        about = f"Pipedrive custom field '{self.name}' ({self.field_type}), key {self.key}"
        kind = self.field_type
        if kind in NUMBER_TYPES:
            main = {"type": ["null", "number"]}
        elif kind in ID_TYPES:
            main = {"type": ["null", "integer"]}
        elif kind == "set":
            main = {"type": ["null", "array"], "items": {"type": "integer"}}
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
            option = _option_id(value)
            return {col: option, f"{col}_label": self.labels.get(option) if option else None}
        if kind == "set":
            ids = [_option_id(v) for v in (value or [])]
            return {
                col: ids or None,
                f"{col}_labels": [self.labels.get(i) for i in ids] if ids else None,
            }
        if kind in NUMBER_TYPES:
            return {col: _number(value)}
        if kind in ID_TYPES:
            return {col: _option_id(value)}
        if kind == "address":
            return {col: value if isinstance(value, dict) or value is None else {"value": value}}
        return {col: None if value is None else str(value)}


def plan_columns(
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
        labels = {int(o["id"]): o.get("label") for o in d.get("options") or [] if "id" in o}
        planned_field = CustomField(
            key, d.get("field_name") or key, d.get("field_type") or "", column, labels
        )
        taken.update(planned_field.schema())
        planned.append(planned_field)
    return planned


def _option_id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
