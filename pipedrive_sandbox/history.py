"""Field-level change logs of deals, persons and organizations, as
`GET /api/v1/{deals,persons,organizations}/{id}/changelog` serves them.

A record's log has two parts, oldest first:

- generated: a plausible past of a generated record (deals move through the stages of their
  pipeline, people change name, email or phone, a custom field gets filled in...), drawn again
  from (seed, entity, index) whenever the log is read, so nothing is kept. It ends in the
  record's generated state, between its add_time and its update_time (the last change at the
  update_time itself).
- recorded: what every write since changed, one entry per changed field (custom fields by their
  40-character key), kept in an overlay keyed by (entity, id). An entry's time is the record's
  new update_time.

Values are strings or null, as the API's: numbers without a needless `.0`, booleans `true` or
`false`, ids of enum and set options (a set comma-separated), the primary email or phone, the
`value` of a compound field (monetary and daterange custom fields also log their `_currency`
and `_until` parts under `<key>_currency` and `<key>_until`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from .generator import LAST, between, choose

if TYPE_CHECKING:
    from .store import Store

ENTITIES = ("deals", "persons", "organizations")
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36"
)
INTEGRATION = "Zapier"  # the user agent of generated changes made through the API
# Stored names whose v1 field key differs.
FIELD_KEYS = {"emails": "email", "phones": "phone"}
# What a record keeps that is no field of its own (times, the visibility flag of other tables).
UNLOGGED = frozenset({"id", "add_ms", "update_ms", "archive_ms", "active_flag", "custom_fields"})
# The parts of compound values logged beside their `value`, under `<key>_<part>`.
PARTS = ("currency", "until")
# Custom field types whose generated past is drawn (an address changes rarely).
DRAWN_TYPES = frozenset({"double", "enum", "set", "varchar", "text", "date", "monetary"})

# (field_key, old_value, new_value, actor_user_id, time_ms, change_source, user_agent, bulk)
Entry = tuple[str, "str | None", "str | None", int, int, "str | None", "str | None", bool]
Change = tuple[str, "str | None", "str | None"]


@dataclass(frozen=True)
class Author:
    """Who made a change, and through what: `api` with the client's user agent, or the web
    `app` with a browser's. A bulk edit changes many records at once."""

    user_id: int
    source: str = "app"
    agent: str | None = BROWSER
    bulk: bool = False


APP_USER = Author(1)  # a change made in the app by the first user, when no one else is named


def text(value: Any) -> str | None:
    """A stored value as the change log shows it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):  # emails, phones
            return text(next((v for v in value if v.get("primary")), value[0]).get("value"))
        return ",".join(str(text(v)) for v in value) or None
    if isinstance(value, dict):
        return text(value.get("value"))
    return str(value)


def field_changes(key: str, old: Any, new: Any) -> list[Change]:
    """The entries one field's change makes: none when its shown value stays the same."""
    out = [(key, text(old), text(new))]
    for part in PARTS:
        before = old.get(part) if isinstance(old, dict) else None
        after = new.get(part) if isinstance(new, dict) else None
        out.append((f"{key}_{part}", text(before), text(after)))
    return [c for c in out if c[1] != c[2]]


def changes(old: dict, new: dict) -> list[Change]:
    """What a write changed, field by field; a creation (from `{}`) logs the fields it set."""
    out: list[Change] = []
    for key in dict.fromkeys([*old, *new]):
        if key not in UNLOGGED:
            out += field_changes(FIELD_KEYS.get(key, key), old.get(key), new.get(key))
    old_custom, new_custom = old.get("custom_fields") or {}, new.get("custom_fields") or {}
    for key in dict.fromkeys([*old_custom, *new_custom]):
        out += field_changes(key, old_custom.get(key), new_custom.get(key))
    if not old:
        out = [c for c in out if c[2] not in (None, "", "false")]
    return out


class History:
    """Recorded entries, and the generated past of generated records."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.recorded: dict[tuple[str, Any], list[Entry]] = {}

    # -- recording (under the store's lock) ------------------------------------------------------

    def record(self, entity: str, old: dict, new: dict, by: Author) -> None:
        if entity not in ENTITIES:
            return
        found = changes(old, new)
        if found:
            at = new["update_ms"]
            entries = self.recorded.setdefault((entity, new["id"]), [])
            entries += [
                (key, before, after, by.user_id, at, by.source, by.agent, by.bulk)
                for key, before, after in found
            ]

    def forget(self, entity: str, rid: Any) -> None:
        self.recorded.pop((entity, rid), None)

    # -- reading ------------------------------------------------------------------------------

    def entries(self, entity: str, rid: Any) -> list[Entry] | None:
        """A record's whole log, oldest first; None if there is no such record (never was, or
        purged). A deleted record keeps its log while it is visible."""
        table = self.store.tables[entity]
        with self.store.lock:
            if rid not in table:
                return None
            recorded = list(self.recorded.get((entity, rid), ()))
        index = table.index_of(rid)
        return (self.generated(entity, index) if index is not None else []) + recorded

    def generated(self, entity: str, i: int) -> list[Entry]:
        """The generated record's past, oldest first, drawn from (seed, entity, index)."""
        store = self.store
        row = store.generated(entity, i)
        rng = store.generator.rng(f"{entity}_history", i)
        past = {"deals": self._deal, "persons": self._person, "organizations": self._org}
        events = [e for e in past[entity](rng, row, i) if e]
        add, update = row["add_ms"], row["update_ms"]
        # Whole seconds between add_time and update_time; the last change made the update_time.
        times = sorted(add + int(rng.random() * (update - add)) // 1000 * 1000 for _ in events)
        if times:
            times[-1] = update
        out: list[Entry] = []
        users = store.counts["users"]
        for event, at in zip(events, times, strict=True):
            actor = row["owner_id"] if rng.random() < 0.7 else between(rng, 1, users)
            source, agent = ("api", INTEGRATION) if rng.random() < 0.15 else ("app", BROWSER)
            out += [(k, o, n, actor, at, source, agent, False) for k, o, n in event]
        return out

    def _deal(self, rng: random.Random, row: dict, i: int) -> list[list[Change]]:
        """Stage moves within the deal's pipeline ending in its stage, maybe a new title, value
        or owner on the way; then how it closed, and its deletion or archiving."""
        stages = [str(s["id"]) for s in self.store.stages if s["pipeline_id"] == row["pipeline_id"]]
        now = stages.index(str(row["stage_id"]))
        first = 0 if rng.random() < 0.8 else between(rng, 0, now)
        if now > first:
            between_ = range(first + 1, now)
            path = [first, *sorted(rng.sample(between_, between(rng, 0, len(between_)))), now]
        elif len(stages) > 1 and rng.random() < 0.3:  # moved on, then back
            path = [now, now + 1 if now + 1 < len(stages) else now - 1, now]
        else:
            path = [now]
        events = [[("stage_id", stages[a], stages[b])] for a, b in pairwise(path)]
        if rng.random() < 0.4:
            value = float(between(rng, 1, 500) * 100)
            events.insert(between(rng, 0, len(events)), field_changes("value", value, row["value"]))
        events.insert(between(rng, 0, len(events)), self._owner(rng, row))
        if rng.random() < 0.2:
            events.insert(0, [("title", f"Draft deal {i}", row["title"])])
        if row["status"] in ("won", "lost"):
            events.append([("status", "open", row["status"])])
        if row["is_deleted"]:
            events.append([("is_deleted", "false", "true")])
        if row["is_archived"]:
            events.append([("is_archived", "false", "true")])
        return events

    def _person(self, rng: random.Random, row: dict, i: int) -> list[list[Change]]:
        """A new last name, email or phone, a custom field, an owner: a few of them."""
        first, last = row["first_name"], row["last_name"]
        events: list[list[Change]] = []
        if rng.random() < 0.3:
            before = choose(rng, [x for x in LAST if x != last])
            events.append([("name", f"{first} {before}", row["name"]), ("last_name", before, last)])
        email = text(row["emails"])
        if rng.random() < 0.5:
            domain = "mail.example" if email and email.endswith("@gmail.com") else "gmail.com"
            events.append(field_changes("email", f"{first.lower()}{i}@{domain}", email))
        if rng.random() < 0.3:
            phone = f"+1555{(i * 7919 + 1) % 10**7:07d}"
            events.append(field_changes("phone", phone, row["phones"]))
        events += self._customs(rng, "persons", row)
        events.append(self._owner(rng, row))
        rng.shuffle(events)
        return events

    def _org(self, rng: random.Random, row: dict, i: int) -> list[list[Change]]:
        """The full name given later, a custom field, an owner: a few of them."""
        events: list[list[Change]] = []
        if rng.random() < 0.4:
            company = row["name"].split(" ", 1)[0]
            events.append([("name", f"{company} {i}", row["name"])])
        events += self._customs(rng, "organizations", row)
        events.append(self._owner(rng, row))
        rng.shuffle(events)
        return events

    def _owner(self, rng: random.Random, row: dict) -> list[Change]:
        """Sometimes the record was someone else's before."""
        users = self.store.counts["users"]
        if users < 2 or rng.random() >= 0.2:
            return []
        before = choose(rng, [u for u in range(1, users + 1) if u != row["owner_id"]])
        return field_changes("owner_id", before, row["owner_id"])

    def _customs(self, rng: random.Random, entity: str, row: dict) -> list[list[Change]]:
        """Earlier values of up to two custom fields (none: filled in later)."""
        defs = [f for f in self.store.generated_defs[entity] if f.field_type in DRAWN_TYPES]
        values = row.get("custom_fields") or {}
        return [
            field_changes(f.key, self.store.generator.custom_value(rng, f), values.get(f.key))
            for f in rng.sample(defs, min(len(defs), between(rng, 0, 2)))
        ]
