"""One entity's records, generated on demand so that a million-record company stays small.

A generated record is made again from (seed, entity, index) whenever it is read; only the columns
that lists sort, filter and relate on (times, visibility flags, a few ids) stay in memory, in
compact arrays. Writes go to an overlay of plain dicts that shadows the generated record, so a
write changes exactly what it changes. Small tables (reference data, writes) live in the overlay
alone.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

DELETED = 1
ARCHIVED = 2
REMOVED: Any = object()  # overlay marker: a generated record that no longer exists
SORT_FIELDS = (None, "update_ms", "add_ms")


def id_key(rid: Any) -> tuple:
    """Numeric ids sort as numbers, text ids (leads) after them as text."""
    return (0, rid, "") if isinstance(rid, int) else (1, 0, str(rid))


def row_flags(row: dict) -> int:
    return (DELETED if row.get("is_deleted") else 0) | (ARCHIVED if row.get("is_archived") else 0)


def column(n: int) -> array:
    return array("q", bytes(8 * (n + 1)))


class ComputedKeys:
    """Text ids made from indices by a bijection, so that no list of them is kept: `prefix` and
    32 hex digits of (index * a + b) mod 2**128, `a` odd (call logs, whose ids look like
    `CAd92b224eb4a39b5ad8fea92ff0e`)."""

    MOD = 1 << 128

    def __init__(self, prefix: str, a: int, b: int) -> None:
        self.prefix, self.a, self.b = prefix, a | 1, b % self.MOD
        self._inverse = pow(self.a, -1, self.MOD)

    def __getitem__(self, i: int) -> str:
        return f"{self.prefix}{(i * self.a + self.b) % self.MOD:032x}"

    def index(self, key: Any) -> int | None:
        if not isinstance(key, str) or not key.startswith(self.prefix):
            return None
        digits = key[len(self.prefix) :]
        if len(digits) != 32 or digits != digits.lower():
            return None
        try:
            x = int(digits, 16)
        except ValueError:
            return None
        return (x - self.b) * self._inverse % self.MOD


class Table(MutableMapping):
    def __init__(
        self,
        n: int = 0,
        make: Callable[[int], dict] | None = None,
        keys: list | None = None,
        columns: dict[str, array] | None = None,
        flags: bytearray | None = None,
    ) -> None:
        self.n = n
        self.make = make
        # index -> id where ids are not the index itself: a list (leads) or computed (call logs)
        self.keys_by_index = keys
        self._index = {k: i for i, k in enumerate(keys) if i} if isinstance(keys, list) else None
        self.columns = columns or {}
        self.flags = flags if flags is not None else bytearray(n + 1)
        self.overlay: dict[Any, Any] = {}
        self.version = 0
        self._base_orders: dict[str | None, array] = {}
        self._views: dict[str | None, tuple[int, SortedView]] = {}

    # -- identity -----------------------------------------------------------------------------

    def key_of(self, i: int) -> Any:
        return self.keys_by_index[i] if self.keys_by_index else i

    def index_of(self, key: Any) -> int | None:
        if self._index is not None:
            return self._index.get(key)
        if isinstance(self.keys_by_index, ComputedKeys):
            i = self.keys_by_index.index(key)
            return i if i is not None and 1 <= i <= self.n else None
        return key if type(key) is int and 1 <= key <= self.n else None

    # -- mapping ------------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> dict:
        row = self.overlay.get(key)
        if row is not None:
            if row is REMOVED:
                raise KeyError(key)
            return row
        i = self.index_of(key)
        if i is None or self.make is None:
            raise KeyError(key)
        return self.make(i)

    def __setitem__(self, key: Any, row: dict) -> None:
        self.overlay[key] = row
        self.version += 1

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        if self.index_of(key) is None:
            del self.overlay[key]
        else:
            self.overlay[key] = REMOVED
        self.version += 1

    def __contains__(self, key: object) -> bool:
        row = self.overlay.get(key)
        if row is not None:
            return row is not REMOVED
        return self.index_of(key) is not None

    def __iter__(self) -> Iterator:
        overlay = self.overlay
        for i in range(1, self.n + 1):
            key = self.key_of(i)
            if overlay.get(key) is not REMOVED:
                yield key
        for key, row in list(overlay.items()):
            if row is not REMOVED and self.index_of(key) is None:
                yield key

    def __len__(self) -> int:
        removed = sum(1 for row in self.overlay.values() if row is REMOVED)
        added = sum(1 for k in self.overlay if self.index_of(k) is None)
        return self.n - removed + added

    # -- columns without making records ------------------------------------------------------

    def base_value(self, i: int, field: str | None) -> Any:
        return self.key_of(i) if field is None else self.columns[field][i]

    def keys_where(self, include_deleted: bool, include_archived: bool) -> list:
        """Ids in id order, filtered on the visibility flags alone."""
        mask = (0 if include_deleted else DELETED) | (0 if include_archived else ARCHIVED)
        view = self.sorted_view(None)
        return [view.key(i) for i in range(len(view)) if not view.flags(i) & mask]

    def expired(self, deleted_before: int) -> list:
        """Ids of deleted records whose deletion is older than the cutoff."""
        gone = []
        update, flags = self.columns.get("update_ms"), self.flags
        for i in range(1, self.n + 1):
            if flags[i] & DELETED and update[i] < deleted_before:
                key = self.key_of(i)
                if key not in self.overlay:
                    gone.append(key)
        for key, row in self.overlay.items():
            if row is not REMOVED and row.get("is_deleted") and row["update_ms"] < deleted_before:
                gone.append(key)
        return gone

    # -- order ----------------------------------------------------------------------------------

    def _base_order(self, field: str | None) -> array:
        """Generated records in (field, id) order; it never changes, so it is computed once."""
        order = self._base_orders.get(field)
        if order is None:
            indices = range(1, self.n + 1)
            if not self.n:
                order = array("q")
            elif field is None and self.keys_by_index is None:
                order = array("q", indices)
            elif field is None:
                order = array("q", sorted(indices, key=self.keys_by_index.__getitem__))
            elif self.keys_by_index is None:
                col = self.columns[field]
                order = array("q", sorted(indices, key=lambda i: (col[i], i)))
            else:
                col, keys = self.columns[field], self.keys_by_index
                order = array("q", sorted(indices, key=lambda i: (col[i], id_key(keys[i]))))
            self._base_orders[field] = order
        return order

    def sorted_view(self, field: str | None) -> SortedView:
        cached = self._views.get(field)
        if cached and cached[0] == self.version:
            return cached[1]
        view = self._merge(field)
        self._views[field] = (self.version, view)
        return view

    def _merge(self, field: str | None) -> SortedView:
        """The generated order with overlay records taking their places: written rows are
        snapshotted, so a list that is being read keeps the order it was sorted in."""
        base = self._base_order(field)
        if not self.overlay:
            return SortedView(self, field, base, [])
        shadowed = {i for i in map(self.index_of, self.overlay) if i is not None}
        kept = array("q", (i for i in base if i not in shadowed)) if shadowed else base
        rows = sorted(
            (r for r in self.overlay.values() if r is not REMOVED),
            key=lambda r: (r["id"] if field is None else r[field], id_key(r["id"])),
        )

        def base_key(i: int) -> tuple:
            return (self.base_value(i, field), id_key(self.key_of(i)))

        entries, start = array("q"), 0
        for pos, row in enumerate(rows):
            value = row["id"] if field is None else row[field]
            at = bisect.bisect_left(kept, (value, id_key(row["id"])), lo=start, key=base_key)
            entries.extend(kept[start:at])
            entries.append(-(pos + 1))
            start = at
        entries.extend(kept[start:])
        return SortedView(self, field, entries, rows)


class SortedView(Sequence):
    """A table in (field, id) order, ascending or descending. Entries are generated indices
    (positive) or overlay rows (negative); records are made only when read, and sort keys come
    from the columns."""

    def __init__(
        self, table: Table, field: str | None, entries: array, rows: list[dict], desc: bool = False
    ) -> None:
        self.table, self.field, self.entries, self.rows, self.desc = (
            table,
            field,
            entries,
            rows,
            desc,
        )

    def reversed(self) -> SortedView:
        return SortedView(self.table, self.field, self.entries, self.rows, not self.desc)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator:
        for i in range(len(self.entries)):
            yield self[i]

    def _entry(self, i: int) -> int:
        n = len(self.entries)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return self.entries[n - 1 - i if self.desc else i]

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        e = self._entry(i)
        return self.rows[-e - 1] if e < 0 else self.table.make(e)

    def _value(self, e: int) -> Any:
        if e < 0:
            row = self.rows[-e - 1]
            return row["id"] if self.field is None else row[self.field]
        return self.table.base_value(e, self.field)

    def _key(self, e: int) -> Any:
        return self.rows[-e - 1]["id"] if e < 0 else self.table.key_of(e)

    def value(self, i: int) -> Any:
        return self._value(self._entry(i))

    def key(self, i: int) -> Any:
        return self._key(self._entry(i))

    def column(self, i: int, name: str) -> Any:
        e = self._entry(i)
        return self.rows[-e - 1][name] if e < 0 else self.table.columns[name][e]

    def attribute(self, i: int, name: str) -> Any:
        """A record's field, from a column when there is one (0 there means none)."""
        e = self._entry(i)
        if e < 0:
            return self.rows[-e - 1].get(name)
        col = self.table.columns.get(name)
        if col is not None:
            return col[e] or None
        return self.table.make(e).get(name)

    def written(self, i: int) -> dict | None:
        """The record at a position if it was written (the overlay's), else None."""
        e = self._entry(i)
        return self.rows[-e - 1] if e < 0 else None

    def flags(self, i: int) -> int:
        e = self._entry(i)
        return row_flags(self.rows[-e - 1]) if e < 0 else self.table.flags[e]

    def _ascending_position(self, target: tuple, right: bool) -> int:
        def sort_key(e: int) -> tuple:
            return (self._value(e), id_key(self._key(e)))

        find = bisect.bisect_right if right else bisect.bisect_left
        return find(self.entries, target, key=sort_key)

    def first_at_or_after(self, value: Any) -> int:
        """Position of the first entry whose sort value is at least `value` (ascending)."""
        if self.desc:
            raise ValueError("only ascending views seek to a value")
        return bisect.bisect_left(self.entries, value, key=self._value)

    def first_after(self, value: Any, rid: Any) -> int:
        """Position of the first entry strictly after (value, id) in this view's order."""
        target = (value, id_key(rid))
        if self.desc:
            return len(self.entries) - self._ascending_position(target, right=False)
        return self._ascending_position(target, right=True)
