"""Opening a history: one SQLite file, checked before anything is written to it.

``open_db`` refuses a directory, a file that is not SQLite, another
application's database and a newer rpkit schema without changing a byte, then
turns on foreign keys, WAL and a busy timeout. ``atomic`` gives every rpkit
operation all-or-nothing behaviour whether or not the caller has a transaction
open.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

from . import schema
from .errors import (
    ForeignDatabaseError,
    NotADatabaseError,
    ReadOnlyDatabaseError,
    SchemaVersionError,
)

BUSY_TIMEOUT_S = 30.0
_savepoints = itertools.count()


def _check_writable(path: Path) -> None:
    """Refuse a history rpkit could read but not write (opening it writes: WAL, projection)."""
    if not os.access(path, os.W_OK):
        raise ReadOnlyDatabaseError(
            f"{path} is read-only (no write permission, or a read-only file system); rpkit "
            "writes to a history it opens: copy it to a writable folder or fix its permissions"
        )
    if not os.access(path.parent, os.W_OK | os.X_OK) and not Path(f"{path}-wal").exists():
        raise ReadOnlyDatabaseError(
            f"the folder {path.parent} of {path} is not writable, and SQLite keeps "
            f"{path.name}-wal and {path.name}-shm beside the history; copy it to a writable "
            "folder or fix the folder's permissions"
        )


def _inspect(path: Path) -> int | None:
    """Return the rpkit schema version of ``path``, or None for a new or empty file.

    Reads through a read-only connection, so a refused file is left untouched.
    """
    if path.is_dir():
        raise NotADatabaseError(
            f"{path} is a directory; pass the path of a history file, e.g. {path / 'history.db'}"
        )
    if not path.exists():
        if not path.parent.is_dir():
            raise NotADatabaseError(
                f"cannot create {path}: folder {path.parent} does not exist; create it first"
            )
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise ReadOnlyDatabaseError(
                f"cannot create {path}: folder {path.parent} is not writable; "
                "choose a folder you can write to"
            )
        return None
    if path.stat().st_size:
        with path.open("rb") as fh:
            header = fh.read(16)
        if header != b"SQLite format 3\x00":
            raise NotADatabaseError(
                f"{path} is not an SQLite database (its first bytes are {header[:15]!r}); "
                "pass the path of an rpkit history, or a new path to create one"
            )
    _check_writable(path)
    if path.stat().st_size == 0:
        return None
    ro = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        names = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not names:
            return None
        if "rpkit_meta" not in names or "event_log" not in names:
            shown = ", ".join(sorted(names)[:5])
            raise ForeignDatabaseError(
                f"{path} is an SQLite database of another application (tables: {shown}); "
                "rpkit opens only its own histories: import the data or choose a new path"
            )
        row = ro.execute("SELECT value FROM rpkit_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        if "readonly" in str(exc):
            raise ReadOnlyDatabaseError(f"{path} cannot be opened for writing ({exc})") from exc
        raise NotADatabaseError(f"{path} cannot be read as SQLite ({exc}); is it damaged?") from exc
    finally:
        ro.close()
    if row is None or not str(row[0]).isdigit():
        raise ForeignDatabaseError(f"{path} has an rpkit_meta table without a schema version")
    version = int(row[0])
    if version > schema.SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} has rpkit schema version {version}, newer than this rpkit's "
            f"{schema.SCHEMA_VERSION}; upgrade rpkit to open it"
        )
    return version


def connect(path: str | PathLike[str]) -> sqlite3.Connection:
    """Open (creating or migrating) a history and return a configured connection."""
    path = Path(path)
    version = _inspect(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version is None or version < schema.SCHEMA_VERSION:
            _create_or_migrate(conn, version)
    except BaseException:
        conn.close()
        raise
    return conn


def _create_or_migrate(conn: sqlite3.Connection, version: int | None) -> None:
    from .projection import project  # the projection needs the store, not the reverse

    with atomic(conn):
        current = (
            conn.execute("SELECT value FROM rpkit_meta WHERE key='schema_version'").fetchone()
            if version is not None
            else None
        )
        if version is None:
            # Another process may have created it between our look and our lock.
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'rpkit_meta'"
            ).fetchone()
            if exists:
                return
            schema.create(conn)
            set_meta(conn, "projected_at", 0)
            return
        if current is not None and int(current[0]) >= schema.SCHEMA_VERSION:
            return
        schema.migrate(conn, version)
        project(conn)  # a migrated history gets a projection built by this version


@contextmanager
def open_db(path: str | PathLike[str]) -> Iterator[sqlite3.Connection]:
    """Open a history as a context manager: commit on a clean exit, roll back on an error.

    >>> with open_db("history.db") as conn:            # doctest: +SKIP
    ...     append(conn, "you_set", {"name": "Ada"})
    """
    conn = connect(path)
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()
    finally:
        conn.close()


@contextmanager
def atomic(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """Run a block all-or-nothing.

    Without an open transaction it starts one (``BEGIN IMMEDIATE`` for writers, so
    two writers queue on the busy timeout instead of failing) and commits it; inside
    a caller's transaction it uses a savepoint, so a failure undoes only this block.
    """
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.commit()
        except BaseException:  # e.g. a deferred foreign key: the transaction is still open
            conn.rollback()
            raise
        return
    name = f"rpkit_{next(_savepoints)}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    else:
        conn.execute(f"RELEASE {name}")


def get_meta(conn: sqlite3.Connection, key: str, default: int = 0) -> int:
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


def db_path_of(conn: sqlite3.Connection) -> Path:
    """The file behind a connection (its ``main`` database)."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file)
    raise NotADatabaseError("this connection has no file behind it (an in-memory database?)")
