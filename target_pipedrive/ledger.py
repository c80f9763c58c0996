"""The durable ledger: which messages were written, what they produced, and the engagement
counters. SQLite by default (one machine); a PostgreSQL URL for scheduled multi-worker setups.

Tables: `pd_messages` (message and event ids that are completely written: `done`),
`pd_counterparts` and `pd_threads` (the engagement counters, JSON), `pd_objects` (kind, key ->
Pipedrive id: the organization of a domain, the person, lead and deal of an address, the activity
of a message, and `pending:<kind>` marks written just before a create). A run that finds a
pending mark (the last run died between asking for an object and remembering it) looks the
object up in Pipedrive before writing it again, so nothing is doubled and nothing is lost.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from .engagement import Counterpart, ThreadMemory

# pg_advisory_lock key of a run: any constant, the same for every worker of one ledger.
RUN_LOCK_KEY = 7_411_000_006

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS pd_messages (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "detail TEXT)",
    "CREATE TABLE IF NOT EXISTS pd_counterparts (email TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pd_threads (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pd_objects (kind TEXT NOT NULL, key TEXT NOT NULL, "
    "object_id TEXT NOT NULL, PRIMARY KEY (kind, key))",
]


class Ledger:
    """`location`: a SQLite file path (or sqlite:///path), or a postgresql:// URL.

    `scratch=True` (dry runs) reads what earlier runs recorded but keeps nothing: SQLite works on
    a copy, PostgreSQL in one transaction that is rolled back at close.
    """

    def __init__(self, location: str, scratch: bool = False) -> None:
        self.location = location
        self.is_postgres = location.startswith(("postgres://", "postgresql://"))
        self._scratch_dir: tempfile.TemporaryDirectory | None = None
        if self.is_postgres:
            import psycopg

            self._conn: Any = psycopg.connect(location, autocommit=not scratch)
            if scratch:
                # Open the outer transaction now: every block below becomes a savepoint in it.
                self._conn.execute("SELECT 1")
            self._ph = "%s"
        else:
            path = Path(location.removeprefix("sqlite:///"))
            if scratch:
                self._scratch_dir = tempfile.TemporaryDirectory(prefix="target-pipedrive-")
                copy = Path(self._scratch_dir.name) / "ledger.db"
                if path.exists():
                    source = sqlite3.connect(path)
                    with sqlite3.connect(copy) as target:
                        source.backup(target)
                    source.close()
                path = copy
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path = path
            self._file_lock = FileLock(str(path) + ".lock")
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=60)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._ph = "?"
        with self.transaction():
            if self.is_postgres:  # two workers starting at once must not race on CREATE TABLE
                self._exec("SELECT pg_advisory_xact_lock(?)", (RUN_LOCK_KEY + 1,))
            for statement in SCHEMA:
                self._exec(statement)

    def close(self) -> None:
        if self.is_postgres and not self._conn.autocommit:
            self._conn.rollback()
        self._conn.close()
        if self._scratch_dir:
            self._scratch_dir.cleanup()

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """One writer at a time per ledger (held while a batch is written): workers that share
        a ledger take turns, and each batch starts from what the others recorded."""
        if self.is_postgres:
            self._exec("SELECT pg_advisory_lock(?)", (RUN_LOCK_KEY,))
            try:
                yield
            finally:
                self._exec("SELECT pg_advisory_unlock(?)", (RUN_LOCK_KEY,))
        else:
            with self._file_lock:
                yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; a block inside another joins the outer one."""
        if self.is_postgres:
            with self._conn.transaction():
                yield
            return
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

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

    def objects(self, kind: str) -> list[tuple[str, str]]:
        """Every (key, object id) of one kind, by key."""
        rows = self._exec(
            "SELECT key, object_id FROM pd_objects WHERE kind = ? ORDER BY key", (kind,)
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def count_messages(self, status: str = "done") -> int:
        return int(self._one("SELECT count(*) FROM pd_messages WHERE status = ?", (status,)))
