"""What a removal changes in the projection, kept so that putting it back restores rows.

A rewind (global, or of one chat on the touched path) knows before it deletes
anything which projected rows it changes and which rollback entries it drops
or rewrites. ``PutBack`` is that: each such row as it is now (None: absent),
the rollback entries as they are now, and the events whose entries the change
rewrites. A rewind record stores it (``operations/record.py``); putting the
record back while the projection is exactly as the rewind left it restores
those rows and entries instead of folding the removed events again, which
gives the same tables and rollback log as the refold (the property tests
compare every row of the file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..store import head_id, set_meta
from ..store.schema import PROJECTED
from ..store.sqlite import sqlite3
from .codec import decode, row_from_json, row_json
from .tables import table_code

# A rollback entry as stored: (event id, table, key text, the row it replaced as JSON text)
StoredEntry = tuple[int, str, str, str | None]


@dataclass
class PutBack:
    """Rows as they are now (table, key text, JSON text or None), entries, rewritten events.

    ``entries`` is either the entries themselves or, as ``(condition, args)`` on
    ``projection_undo``, which of its entries they are (a record then copies them
    in SQL, without reading them into Python); putting back deletes the entries
    of ``events`` and inserts ``entries``. ``updates`` are entries the change
    rewrites in place (an event's row, written once), as they are: putting back
    sets them back.
    """

    rows: list[tuple[str, str, str | None]]
    entries: list[StoredEntry] | tuple[str, tuple]
    events: list[int]
    updates: list[StoredEntry] = field(default_factory=list)  # entries to set back in place


def row_now(conn: sqlite3.Connection, table: str, key: str) -> str | None:
    """The row of ``table`` with ``key`` (the rollback log's key text) as JSON text, or None."""
    code = table_code(table)
    values = conn.execute(code.select_one, decode(key)).fetchone()
    return None if values is None else row_json(code, dict(zip(code.cols, values, strict=True)))


def rollback_putback(conn: sqlite3.Connection, start: int) -> PutBack:
    """What rolling the tables back to just before ``start`` changes (read before it does)."""
    keys = conn.execute(
        "SELECT DISTINCT tbl, key FROM projection_undo WHERE event_id >= ?", (start,)
    ).fetchall()
    rows = [(t, k, row_now(conn, t, k)) for t, k in keys]
    return PutBack(rows, ("event_id >= ?", (start,)), [])


def write_rows(
    conn: sqlite3.Connection, rows: dict[tuple[str, str], dict[str, Any] | None]
) -> None:
    """Set each (table, key text) row to its value (None: delete it), parents first."""
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for name in reversed(PROJECTED):
        gone = [decode(k) for (table, k), row in rows.items() if table == name and row is None]
        if gone:
            conn.executemany(table_code(name).delete_one, gone)
    for name in PROJECTED:
        some = [row for (table, _), row in rows.items() if table == name and row is not None]
        if some:
            code = table_code(name)
            conn.executemany(code.upsert, map(code.values_of, some))


def update_entries(conn: sqlite3.Connection, entries: Iterable[StoredEntry]) -> None:
    """Set the ``old`` of each (event, table, key) entry, which that event writes once."""
    conn.executemany(
        "UPDATE main.projection_undo SET old = ? WHERE event_id = ? AND tbl = ? AND key = ?",
        [(old, e, t, k) for e, t, k, old in entries],
    )


def restore_putback(conn: sqlite3.Connection, db: str) -> None:
    """Put back the rows and rollback entries stored in the attached record ``db``."""
    conn.execute(
        f"DELETE FROM main.projection_undo WHERE event_id IN (SELECT id FROM {db}.projection_events)"
    )
    conn.execute(
        "INSERT INTO main.projection_undo(event_id, tbl, key, old) "
        f"SELECT event_id, tbl, key, old FROM {db}.projection_undo ORDER BY seq"
    )
    update_entries(
        conn, conn.execute(f"SELECT event_id, tbl, key, old FROM {db}.projection_updates")
    )
    rows = {
        (t, k): row_from_json(t, text)
        for t, k, text in conn.execute(f"SELECT tbl, key, row FROM {db}.projection_rows")
    }
    write_rows(conn, rows)
    set_meta(conn, "projected_at", head_id(conn))
