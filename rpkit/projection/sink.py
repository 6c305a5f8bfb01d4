"""Where a fold writes: projected tables in memory, or a write-back cache over the file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..gcpause import paused_gc
from ..store.schema import PROJECTED, ensure_tables
from ..store.sqlite import sqlite3
from .rollback import RollbackEntry, earliest, prune_if_due, write_rollback
from .tables import all_codes, table_code


class MemorySink:
    """Projected tables held in dicts; records rollback entries for events past ``record_from``."""

    def __init__(self, record_from: int | None = None) -> None:
        self.codes = all_codes()
        self.key_of = {name: code.key_of for name, code in self.codes.items()}
        self.tables: dict[str, dict[tuple, dict[str, Any]]] = {t: {} for t in PROJECTED}
        self.rollback: list[RollbackEntry] = []
        self.record_from = record_from
        self.event_id = 0

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        return self.tables[table].get(key)

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = self.key_of[table](row)
        rows = self.tables[table]
        record_from = self.record_from
        if record_from is not None and self.event_id > record_from:
            self.rollback.append((self.event_id, table, key, rows.get(key)))
        rows[key] = row

    def patch(self, table: str, key: tuple, changes: dict[str, Any]) -> None:
        rows = self.tables[table]
        old = rows.get(key)
        if old is None:
            return
        if self.record_from is not None and self.event_id > self.record_from:
            self.rollback.append((self.event_id, table, key, old))
            rows[key] = {**old, **changes}
        else:  # no rollback entry refers to the row (none is recorded before it): change it in place
            old.update(changes)

    def is_empty(self) -> bool:
        return not self.rollback and not any(self.tables.values())

    def clear(self) -> None:
        for rows in self.tables.values():
            rows.clear()
        self.rollback.clear()

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> MemorySink:
        """A copy of the live projected tables."""
        sink = cls()
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        with paused_gc():
            for name, code in sink.codes.items():
                if name not in present:  # an extension table this history has not used yet
                    continue
                rows = conn.execute(f"SELECT {', '.join(code.cols)} FROM {name}").fetchall()
                dicts = [dict(zip(code.cols, values, strict=True)) for values in rows]
                sink.tables[name] = {code.key_of(row): row for row in dicts}
        return sink

    def roll_back(self, entries: Iterable[tuple[str, tuple, dict[str, Any] | None]]) -> None:
        """Apply the earliest rollback entry of each row (rollback entries in log order)."""
        for table, key, old in earliest(entries):
            if old is None:
                self.tables[table].pop(key, None)
            else:
                self.tables[table][key] = old


class SqlSink(MemorySink):
    """A write-back cache over the live tables; ``flush`` writes rows and rollback entries."""

    def __init__(self, conn: sqlite3.Connection, record: bool = True) -> None:
        super().__init__(record_from=0 if record else None)
        ensure_tables(conn)
        self.conn = conn
        self.dirty: dict[str, dict[tuple, None]] = {t: {} for t in PROJECTED}

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        cache = self.tables[table]
        if key in cache:
            return cache[key]
        code = self.codes[table]
        values = self.conn.execute(code.select_one, key).fetchone()
        row = None if values is None else dict(zip(code.cols, values, strict=True))
        cache[key] = row
        return row

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = self.key_of[table](row)
        self.get(table, key)  # load the old row so the rollback entry is right
        super().put(table, row)
        self.dirty[table][key] = None

    def patch(self, table: str, key: tuple, changes: dict[str, Any]) -> None:
        old = self.get(table, key)
        if old is not None:
            self.put(table, {**old, **changes})

    def flush(self) -> None:
        for name, keys in self.dirty.items():
            if keys:
                rows = self.tables[name]
                upsert(self.conn, name, [rows[k] for k in keys])
                keys.clear()
        write_rollback(self.conn, self.rollback)
        self.rollback.clear()
        prune_if_due(self.conn, self.event_id)


def upsert(conn: sqlite3.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    code = table_code(name)
    conn.executemany(code.upsert, map(code.values_of, rows))
