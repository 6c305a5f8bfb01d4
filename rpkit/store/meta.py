"""What a history records about itself: meta values, the newest id, its file."""

from __future__ import annotations

from pathlib import Path

from ..errors import NotADatabaseError
from .schema import EVENT_COUNT
from .sqlite import sqlite3


def get_meta(conn: sqlite3.Connection, key: str, default: int = 0) -> int:
    """An integer from ``rpkit_meta`` (``projected_at``, ``undo_floor``, ...)."""
    row = conn.execute("SELECT value FROM rpkit_meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row and row[0] is not None else default


def set_meta(conn: sqlite3.Connection, key: str, value: int | str) -> None:
    conn.execute(
        "INSERT INTO rpkit_meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, str(value)),
    )


def head_id(conn: sqlite3.Connection) -> int:
    """The newest event id, 0 for an empty log."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM event_log").fetchone()[0]


def log_count(conn: sqlite3.Connection, db: str = "main") -> int:
    """How many events the log holds, as its triggers keep it (``schema.EVENT_COUNT``)."""
    found = conn.execute(f"SELECT value FROM {db}.rpkit_meta WHERE key = ?", (EVENT_COUNT,))
    row = found.fetchone()
    if row is None:  # not kept (a file not opened by open_db since): count it
        return conn.execute(f"SELECT COUNT(*) FROM {db}.event_log").fetchone()[0]
    return int(row[0])


def db_path_of(conn: sqlite3.Connection) -> Path:
    """The file behind a connection (its ``main`` database)."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file)
    raise NotADatabaseError("this connection has no file behind it (an in-memory database?)")
