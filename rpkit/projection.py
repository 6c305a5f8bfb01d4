"""Projecting the visible log into the state tables, by the cheapest correct path.

The projected state is a pure function of the visible log (DESIGN §4). Three
paths reach it and are held equal by the tests:

* a full rebuild folds every visible event in memory and writes each table in
  bulk (``project``);
* an append, a catch-up or an edit folds only the new events, through a
  write-back cache over the live tables;
* a rewind, an edit of an old turn or ``state_at`` first *rolls the projection
  back* to the first event whose visibility changes, using ``projection_undo``
  (what each projection write replaced), then folds forward from there.

``rpkit_meta`` records ``projected_at`` (the log position the tables show) and
``undo_floor`` (rolling back to an event id above it is possible).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from . import handlers as _builtin_handlers  # noqa: F401  (registers the built-in kinds)
from ._progress import progress_bar
from .registry import HANDLERS, Event
from .schema import PROJECTED
from .store import atomic, get_meta, head_id, set_meta

# A full rebuild keeps undo entries for this many newest events (at least), so a
# rewind of the recent past right after a rebuild or an import is cheap.
UNDO_TAIL = 100_000
UNDO_TAIL_FRACTION = 0.25

_SELECT_EVENTS = (
    "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log "
    "WHERE id >= ? AND id <= ? AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id"
)

try:  # orjson decodes payloads several times faster; the stdlib is the fallback
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads


def _key(table: str, row: dict[str, Any]) -> tuple:
    return tuple(row[c] for c in PROJECTED[table].key)


class MemorySink:
    """Projected tables held in dicts; optionally records undo entries."""

    def __init__(self, record_from: int | None = None) -> None:
        self.tables: dict[str, dict[tuple, dict[str, Any]]] = {t: {} for t in PROJECTED}
        self.undo: list[tuple[int, str, tuple, dict[str, Any] | None]] = []
        self.record_from = record_from
        self.event_id = 0
        self.touched = False

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        return self.tables[table].get(key)

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = _key(table, row)
        if self.record_from is not None and self.event_id > self.record_from:
            self.undo.append((self.event_id, table, key, self.get(table, key)))
        self.tables[table][key] = row
        self.touched = True

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> MemorySink:
        """A copy of the live projected tables."""
        sink = cls()
        for name, table in PROJECTED.items():
            cols = table.column_names
            rows = sink.tables[name]
            for values in conn.execute(f"SELECT {', '.join(cols)} FROM {name}"):
                row = dict(zip(cols, values, strict=True))
                rows[_key(name, row)] = row
        return sink

    def roll_back(self, entries: Iterable[tuple[str, tuple, dict[str, Any] | None]]) -> None:
        """Apply the earliest undo entry of each row (undo entries in log order)."""
        for table, key, old in _earliest(entries):
            if old is None:
                self.tables[table].pop(key, None)
            else:
                self.tables[table][key] = old


class SqlSink(MemorySink):
    """A write-back cache over the live tables; ``flush`` writes rows and undo entries."""

    def __init__(self, conn: sqlite3.Connection, record: bool = True) -> None:
        super().__init__(record_from=0 if record else None)
        self.conn = conn
        self.dirty: dict[str, dict[tuple, None]] = {t: {} for t in PROJECTED}

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        cache = self.tables[table]
        if key in cache:
            return cache[key]
        t = PROJECTED[table]
        cols = t.column_names
        where = " AND ".join(f"{c} = ?" for c in t.key)
        values = self.conn.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE {where}", key
        ).fetchone()
        row = None if values is None else dict(zip(cols, values, strict=True))
        cache[key] = row
        return row

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = _key(table, row)
        self.get(table, key)  # load the old row so the undo entry is right
        super().put(table, row)
        self.dirty[table][key] = None

    def flush(self) -> None:
        for name, keys in self.dirty.items():
            rows = [self.tables[name][k] for k in keys]
            if rows:
                _upsert(self.conn, name, rows)
            keys.clear()
        _write_undo(self.conn, self.undo)
        self.undo.clear()


def _earliest(entries: Iterable[tuple[str, tuple, Any]]) -> Iterator[tuple[str, tuple, Any]]:
    seen: dict[tuple[str, tuple], Any] = {}
    for table, key, old in entries:
        seen.setdefault((table, key), old)
    for (table, key), old in seen.items():
        yield table, key, old


def _upsert(conn: sqlite3.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    t = PROJECTED[name]
    cols = t.column_names
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in t.key) or "NOTHING"
    conflict = f"DO UPDATE SET {updates}" if updates != "NOTHING" else "DO NOTHING"
    conn.executemany(
        f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
        f"ON CONFLICT ({', '.join(t.key)}) {conflict}",
        [tuple(r[c] for c in cols) for r in rows],
    )


def _row_json(table: str, row: dict[str, Any] | None) -> str | None:
    return None if row is None else json.dumps([row[c] for c in PROJECTED[table].column_names])


def _row_from_json(table: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return dict(zip(PROJECTED[table].column_names, json.loads(text), strict=True))


def _write_undo(conn: sqlite3.Connection, undo: list) -> None:
    if undo:
        conn.executemany(
            "INSERT INTO projection_undo(event_id, tbl, key, old) VALUES (?, ?, ?, ?)",
            [(e, t, json.dumps(list(k)), _row_json(t, old)) for e, t, k, old in undo],
        )


def undo_entries(conn: sqlite3.Connection, since: int) -> Iterator[tuple[str, tuple, Any]]:
    """Undo entries of events ``>= since`` in the order they were written."""
    for table, key, old in conn.execute(
        "SELECT tbl, key, old FROM projection_undo WHERE event_id >= ? ORDER BY seq", (since,)
    ):
        yield table, tuple(json.loads(key)), _row_from_json(table, old)


def apply_event(sink: MemorySink, ev: Event) -> None:
    """Fold one event into ``sink`` through its registered handler."""
    from .handlers import touch_chat

    sink.event_id = ev.id
    sink.touched = False
    fn = HANDLERS.get(ev.kind)
    if fn is not None:
        fn(sink, ev)
    elif ev.chat_id is not None:  # an extension kind without a handler
        touch_chat(sink, ev)


def visible_events(
    conn: sqlite3.Connection, lo: int, hi: int, at: int | None = None
) -> Iterator[Event]:
    """Events with ``lo <= id <= hi`` that are visible at ``at`` (default ``hi``)."""
    at = hi if at is None else at
    for id_, ts, chat_id, kind, payload, cause_id in conn.execute(_SELECT_EVENTS, (lo, hi, at)):
        yield Event(id_, ts, chat_id, kind, _loads(payload), cause_id)


def fold(
    conn: sqlite3.Connection, sink: MemorySink, lo: int, hi: int, *, desc: str = "projecting"
) -> int:
    """Fold the events of ``[lo, hi]`` visible at ``hi`` into ``sink``; return their count."""
    n = 0
    with progress_bar(total=max(0, hi - lo + 1), desc=desc) as bar:
        for ev in visible_events(conn, lo, hi):
            apply_event(sink, ev)
            n += 1
            if bar is not None and n % 4096 == 0:
                bar.update(ev.id - lo + 1 - bar.n)
        if bar is not None:
            bar.update(bar.total - bar.n)
    return n


def rollback_point(conn: sqlite3.Connection, target: int) -> int:
    """The first event id whose state differs between the projection and ``target``.

    Everything below it is projected identically at both points, so the tables
    can be rolled back to just before it and folded forward to ``target``.
    """
    current = get_meta(conn, "projected_at")
    lo, hi = min(current, target), max(current, target)
    row = conn.execute(
        "SELECT MIN(id) FROM event_log WHERE id <= ? AND superseded_by > ? AND superseded_by <= ?",
        (lo, lo, hi),
    ).fetchone()
    return min(lo + 1, row[0]) if row[0] is not None else lo + 1


def _write_all(conn: sqlite3.Connection, sink: MemorySink) -> None:
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for name in reversed(PROJECTED):
        conn.execute(f"DELETE FROM {name}")
    for name, rows in sink.tables.items():
        if rows:
            cols = PROJECTED[name].column_names
            conn.executemany(
                f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [tuple(r[c] for c in cols) for r in rows.values()],
            )


def rebuild(conn: sqlite3.Connection, target: int) -> int:
    """Fold the whole log visible at ``target`` in memory and write it; return the count."""
    floor = max(0, min(target - UNDO_TAIL, int(target * (1 - UNDO_TAIL_FRACTION))))
    sink = MemorySink(record_from=floor)
    n = fold(conn, sink, 1, target, desc="rebuilding projection")
    _write_all(conn, sink)
    conn.execute("DELETE FROM projection_undo")
    _write_undo(conn, sink.undo)
    set_meta(conn, "undo_floor", floor)
    set_meta(conn, "projected_at", target)
    return n


def reproject_from(conn: sqlite3.Connection, start: int, target: int) -> int:
    """Roll the tables back to just before ``start`` and fold forward to ``target``.

    Falls back to a full rebuild when the undo log does not reach back to ``start``.
    Returns the number of events folded.
    """
    if start <= get_meta(conn, "undo_floor"):
        return rebuild(conn, target)
    conn.execute("PRAGMA defer_foreign_keys = ON")
    restored = list(_earliest(undo_entries(conn, start)))
    for name in reversed(PROJECTED):
        t = PROJECTED[name]
        where = " AND ".join(f"{c} = ?" for c in t.key)
        gone = [key for table, key, old in restored if table == name and old is None]
        if gone:
            conn.executemany(f"DELETE FROM {name} WHERE {where}", gone)
    for name in PROJECTED:
        back = [old for table, _key, old in restored if table == name and old is not None]
        if back:
            _upsert(conn, name, back)
    conn.execute("DELETE FROM projection_undo WHERE event_id >= ?", (start,))
    sink = SqlSink(conn)
    n = fold(conn, sink, start, target, desc="projecting")
    sink.flush()
    set_meta(conn, "projected_at", target)
    return n


def move_to(conn: sqlite3.Connection, target: int) -> int:
    """Bring the projection to ``target`` by the shortest path; return events folded."""
    return reproject_from(conn, rollback_point(conn, target), target)


def project(conn: sqlite3.Connection, *, upto: int | None = None) -> None:
    """Rebuild every projected table from the visible log, in one transaction.

    With ``upto`` the tables show the state at that event (by the visibility rule)
    and ``catch_up`` later brings them to the newest event.
    """
    from .events import check_event_id

    with atomic(conn):
        target = head_id(conn) if upto is None else check_event_id(conn, upto, what="upto")
        rebuild(conn, target)


def catch_up(conn: sqlite3.Connection) -> int:
    """Project events appended since the projection last ran (e.g. by another process).

    Returns the number of events folded (0 when the projection is current).
    """
    with atomic(conn):
        head = head_id(conn)
        if get_meta(conn, "projected_at") == head:
            return 0
        return move_to(conn, head)
