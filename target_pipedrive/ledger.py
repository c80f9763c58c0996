"""The durable ledger: which messages were written, what they produced, and the engagement
counters. SQLite by default (one machine); a PostgreSQL URL for scheduled multi-worker setups.

A message is `pending` from just before its first write until its activity exists, then `done`.
A run that finds a pending message (the last run died mid-message) checks Pipedrive before
writing again, so nothing is doubled and nothing is lost.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .engagement import Counterpart, ThreadMemory

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS pd_messages (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "detail TEXT)",
    "CREATE TABLE IF NOT EXISTS pd_counterparts (email TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pd_threads (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pd_objects (kind TEXT NOT NULL, key TEXT NOT NULL, "
    "object_id TEXT NOT NULL, PRIMARY KEY (kind, key))",
]


class Ledger:
    def __init__(self, location: str) -> None:
        if location.startswith(("postgres://", "postgresql://")):
            import psycopg

            self._conn: Any = psycopg.connect(location, autocommit=True)
            self._ph = "%s"
        else:
            path = location.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._ph = "?"
        with self.transaction():
            for statement in SCHEMA:
                self._exec(statement)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._ph == "?":
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        else:
            with self._conn.transaction():
                yield

    def _exec(self, sql: str, params: tuple = ()) -> Any:
        return self._conn.execute(sql.replace("?", self._ph), params)

    def _one(self, sql: str, params: tuple) -> Any:
        row = self._exec(sql, params).fetchone()
        return row[0] if row else None

    def _upsert(self, table: str, key_cols: tuple[str, ...], row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c not in key_cols)
        self._exec(
            f"INSERT INTO {table} ({cols}) VALUES ({marks}) "  # noqa: S608 - fixed names
            f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET {updates}",
            tuple(row.values()),
        )

    # -- messages -----------------------------------------------------------------------------

    def message_status(self, message_id: str) -> str | None:
        return self._one("SELECT status FROM pd_messages WHERE id = ?", (message_id,))

    def mark_message(self, message_id: str, status: str, detail: dict | None = None) -> None:
        self._upsert(
            "pd_messages",
            ("id",),
            {"id": message_id, "status": status, "detail": json.dumps(detail or {})},
        )

    # -- engagement ---------------------------------------------------------------------------

    def counterpart(self, email: str) -> Counterpart | None:
        data = self._one("SELECT data FROM pd_counterparts WHERE email = ?", (email,))
        return Counterpart.from_json(json.loads(data)) if data else None

    def save_counterpart(self, person: Counterpart) -> None:
        self._upsert(
            "pd_counterparts",
            ("email",),
            {"email": person.email, "data": json.dumps(person.to_json())},
        )

    def thread(self, thread_id: str) -> ThreadMemory:
        data = self._one("SELECT data FROM pd_threads WHERE id = ?", (thread_id,))
        return ThreadMemory.from_json(json.loads(data)) if data else ThreadMemory()

    def save_thread(self, thread_id: str, memory: ThreadMemory) -> None:
        self._upsert("pd_threads", ("id",), {"id": thread_id, "data": json.dumps(memory.to_json())})

    # -- Pipedrive objects we made or found -----------------------------------------------------

    def object_id(self, kind: str, key: str) -> str | None:
        return self._one("SELECT object_id FROM pd_objects WHERE kind = ? AND key = ?", (kind, key))

    def save_object(self, kind: str, key: str, object_id: Any) -> None:
        self._upsert(
            "pd_objects", ("kind", "key"), {"kind": kind, "key": key, "object_id": str(object_id)}
        )

    def forget_object(self, kind: str, key: str) -> None:
        self._exec("DELETE FROM pd_objects WHERE kind = ? AND key = ?", (kind, key))
