"""A Singer loader into PostgreSQL that behaves like a target: records are written in a
transaction that commits together with the STATE that follows them, so after a crash the saved
state never runs ahead of what was loaded. Rows are replaced by primary key (delete, insert),
and the table has no unique constraint, so a loader that doubled rows would show it (its index on
the key is a plain one, for the delete's sake)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


class Warehouse:
    def __init__(self, schema: str) -> None:
        self.url = f"{SERVER}?options=-csearch_path%3D{schema}"

    def saved_state(self) -> dict | None:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT value FROM singer_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def load(self, lines: Iterable[str]) -> None:
        """Load a tap's output; a line cut short by a kill ends the load, uncommitted."""
        with psycopg.connect(self.url) as conn:
            self._load(conn, lines)
            conn.rollback()  # what came after the last STATE is not kept: as after a crash

    def _load(self, conn: psycopg.Connection, lines: Iterable[str]) -> None:
        keys: dict[str, list[str]] = {}
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                return  # the tap died mid-line
            if message["type"] == "SCHEMA":
                keys[message["stream"]] = message["key_properties"]
            elif message["type"] == "RECORD":
                record = message["record"]
                rid = key_of(record, keys[message["stream"]])
                conn.execute(
                    "DELETE FROM records WHERE stream = %s AND id = %s",
                    (message["stream"], rid),
                )
                conn.execute(
                    "INSERT INTO records VALUES (%s, %s, %s, %s)",
                    (
                        message["stream"],
                        rid,
                        record.get("update_time"),
                        record.get("_sdc_deleted_at"),
                    ),
                )
            elif message["type"] == "STATE":
                conn.execute(
                    "INSERT INTO singer_state VALUES (1, %s) "
                    "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                    (json.dumps(message["value"]),),
                )
                conn.commit()

    def versions(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        with psycopg.connect(self.url) as conn:
            for stream, rid, time, _ in conn.execute("SELECT * FROM records"):
                out.setdefault(stream, {})[rid] = time
        return out

    def duplicate_keys(self) -> int:
        with psycopg.connect(self.url) as conn:
            (n,) = conn.execute(
                "SELECT count(*) - count(DISTINCT (stream, id)) FROM records"
            ).fetchone()
        return n


@contextmanager
def warehouse() -> Iterator[Warehouse]:
    schema = f"reliability_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.records "
            "(stream text, id text, update_time text, deleted_at text)"
        )
        conn.execute(f"CREATE INDEX ON {schema}.records (stream, id)")  # not unique
        conn.execute(f"CREATE TABLE {schema}.singer_state (id int PRIMARY KEY, value text)")
    try:
        yield Warehouse(schema)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def key_of(record: dict, key_properties: list[str]) -> str:
    return "|".join(str(record[k]) for k in key_properties)


def versions_of(messages: list[dict]) -> dict[str, dict[str, str]]:
    """The last version of each record per stream, as the warehouse keeps them."""
    keys: dict[str, list[str]] = {}
    out: dict[str, dict[str, str]] = {}
    for message in messages:
        if message["type"] == "SCHEMA":
            keys[message["stream"]] = message["key_properties"]
        elif message["type"] == "RECORD":
            record = message["record"]
            rid = key_of(record, keys[message["stream"]])
            out.setdefault(message["stream"], {})[rid] = record.get("update_time")
    return out
