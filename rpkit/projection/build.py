"""Bringing the projected tables to an event by the cheapest correct path.

The projected state is a pure function of the visible log (DESIGN §4). A full
rebuild folds every visible event in memory and writes each table in bulk; an
append, a catch-up or an edit folds only the new events through a write-back
cache over the live tables; a rewind or an edit of an old turn first rolls the
tables back with the rollback log, then folds forward. ``rpkit_meta`` records
``projected_at`` (the log position the tables show) and ``undo_floor`` (rolling
back to an event above it is possible).
"""

from __future__ import annotations

from ..store import atomic, check_event_id, get_meta, head_id, set_meta
from ..store.schema import PROJECTED, count_events, ensure_tables
from ..store.sqlite import sqlite3
from .fold import fold
from .rollback import (
    earliest,
    prune_rollback,
    rollback_entries,
    rollback_floor_for,
    rollback_point,
    write_rollback,
)
from .sink import MemorySink, SqlSink, upsert
from .tables import table_code


def _write_all(conn: sqlite3.Connection, sink: MemorySink) -> None:
    conn.execute("PRAGMA defer_foreign_keys = ON")
    ensure_tables(conn)
    for name in reversed(PROJECTED):
        conn.execute(f"DELETE FROM {name}")
    for name, rows in sink.tables.items():
        if rows:
            code = table_code(name)
            conn.executemany(code.insert, map(code.values_of, rows.values()))


def rebuild(conn: sqlite3.Connection, target: int) -> int:
    """Fold the whole log visible at ``target`` in memory and write it; return the count."""
    floor = rollback_floor_for(target)
    sink = MemorySink(record_from=floor)
    n = fold(conn, sink, 1, target, desc="rebuilding projection")
    _write_all(conn, sink)
    conn.execute("DELETE FROM projection_undo")
    write_rollback(conn, sink.rollback)
    set_meta(conn, "undo_floor", floor)
    set_meta(conn, "projected_at", target)
    return n


def _roll_back(conn: sqlite3.Connection, start: int) -> None:
    """Put every row back as it was before event ``start`` wrote to it."""
    conn.execute("PRAGMA defer_foreign_keys = ON")
    ensure_tables(conn)
    restored = list(earliest(rollback_entries(conn, start)))
    for name in reversed(PROJECTED):
        gone = [key for table, key, old in restored if table == name and old is None]
        if gone:
            conn.executemany(table_code(name).delete_one, gone)
    for name in PROJECTED:
        back = [old for table, _key, old in restored if table == name and old is not None]
        if back:
            upsert(conn, name, back)
    conn.execute("DELETE FROM projection_undo WHERE event_id >= ?", (start,))


def reproject_from(conn: sqlite3.Connection, start: int, target: int) -> int:
    """Roll the tables back to just before ``start`` and fold forward to ``target``.

    Falls back to a full rebuild when the rollback log does not reach back to ``start``.
    Returns the number of events folded.
    """
    if start <= get_meta(conn, "undo_floor"):
        return rebuild(conn, target)
    if start <= get_meta(conn, "projected_at"):  # else there is nothing to roll back
        _roll_back(conn, start)
    sink = SqlSink(conn)
    n = fold(conn, sink, start, target, desc="projecting")
    sink.flush()
    set_meta(conn, "projected_at", target)
    prune_rollback(conn, target)
    return n


def move_to(conn: sqlite3.Connection, target: int) -> int:
    """Bring the projection to ``target`` by the shortest path; return events folded."""
    return reproject_from(conn, rollback_point(conn, target), target)


def project(conn: sqlite3.Connection, *, upto: int | None = None) -> None:
    """Rebuild every projected table from the visible log, in one transaction.

    With ``upto`` the tables show the state at that event (by the visibility rule)
    and ``catch_up`` later brings them to the newest event. The log's kept count
    (``store.schema.EVENT_COUNT``) is counted again too.
    """
    with atomic(conn):
        target = head_id(conn) if upto is None else check_event_id(conn, upto, what="upto")
        rebuild(conn, target)
        count_events(conn, recount=True)


def catch_up(conn: sqlite3.Connection) -> int:
    """Project events appended since the projection last ran (e.g. by another process).

    Returns the number of events folded (0 when the projection is current).
    """
    with atomic(conn):
        head = head_id(conn)
        if get_meta(conn, "projected_at") == head:
            return 0
        return move_to(conn, head)


def settle_projection(conn: sqlite3.Connection) -> None:
    """Project what another process appended without projecting, before writing more."""
    head = head_id(conn)
    if get_meta(conn, "projected_at") != head:
        move_to(conn, head)
