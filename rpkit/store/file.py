"""The history file: checked before anything is written to it, then opened.

``connect`` refuses a directory, a file that is not SQLite, another
application's database and a newer rpkit schema without changing a byte, then
turns on foreign keys, WAL and a busy timeout, and creates or migrates the
schema. ``require_history`` is the one check that a path names an existing
history, for the operations that must never create one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import NoReturn

from ..errors import (
    ForeignDatabaseError,
    NotADatabaseError,
    ReadOnlyDatabaseError,
    SchemaVersionError,
)
from .meta import set_meta
from .schema import EVENT_COUNT, SCHEMA_VERSION, count_events, create, migrate
from .sqlite import check_version, sqlite3
from .transaction import atomic

BUSY_TIMEOUT_S = 30.0
SQLITE_READONLY, SQLITE_READONLY_ROLLBACK = 8, 776  # pysqlite3 names neither


def require_history(path: str | PathLike[str]) -> Path:
    """``path`` as a Path if it is an existing file; refuse it before anything creates one."""
    path = Path(path)
    if path.is_file():
        return path
    what = "is a directory" if path.is_dir() else "does not exist (moved or deleted?)"
    raise NotADatabaseError(
        f"{path} {what}, so it is not an existing history file; nothing was changed: check "
        f"the path, or create a demo history with: rpkit demo {path}"
    )


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


def _refuse_unreadable(path: Path, exc: sqlite3.DatabaseError) -> NoReturn:
    """The error for a file SQLite cannot read: not SQLite at all, read-only, or damaged."""
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
        with path.open("rb") as fh:  # not a database, so no connection holds locks on it
            header = fh.read(16)
        if header != b"SQLite format 3\x00":
            raise NotADatabaseError(
                f"{path} is not an SQLite database (its first bytes are {header[:15]!r}); "
                "pass the path of an rpkit history, or a new path to create one"
            ) from exc
    _check_writable(path)  # e.g. a WAL history in a read-only folder cannot be opened at all
    if "readonly" in str(exc):
        raise ReadOnlyDatabaseError(f"{path} cannot be opened for writing ({exc})") from exc
    raise NotADatabaseError(f"{path} cannot be read as SQLite ({exc}); is it damaged?") from exc


def _table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _counted(conn: sqlite3.Connection) -> bool:
    """Whether the log's count is kept (files written before it was have it added)."""
    found = conn.execute("SELECT 1 FROM rpkit_meta WHERE key = ?", (EVENT_COUNT,)).fetchone()
    return found is not None


def _hot_journal(path: Path, exc: sqlite3.DatabaseError) -> bool:
    """A read-only connection met a hot journal: a writer was cut off mid-transaction.

    The standard library reports the extended code; pysqlite3 only SQLITE_READONLY.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if code == SQLITE_READONLY_ROLLBACK:
        return True
    journal = Path(f"{path}-journal")
    return code == SQLITE_READONLY and journal.is_file() and journal.stat().st_size > 0


def _roll_back_hot_journal(path: Path) -> None:
    """Let SQLite roll back the hot journal a crash left, through a read-write connection.

    A crash (or a power cut) while SQLite switches a new history to WAL leaves
    its ``-journal``; a read-only connection cannot roll it back.
    """
    rw = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        _table_names(rw)
    finally:
        rw.close()


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
    if path.stat().st_size == 0:
        _check_writable(path)
        return None
    # SQLite reads the file: an open() and close() of a database file in this process
    # would drop the POSIX locks all of the process's connections hold on it.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    ro = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        try:
            names = _table_names(ro)
        except sqlite3.DatabaseError as exc:
            if not _hot_journal(path, exc):
                _refuse_unreadable(path, exc)
            _check_writable(path)
            ro.close()
            _roll_back_hot_journal(path)
            ro = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
            names = _table_names(ro)
        _check_writable(path)
        if not names:
            return None
        if "rpkit_meta" not in names or "event_log" not in names:
            shown = ", ".join(sorted(names)[:5])
            raise ForeignDatabaseError(
                f"{path} is an SQLite database of another application (tables: {shown}); "
                "rpkit opens only its own histories: import the data or choose a new path"
            )
        try:
            row = ro.execute("SELECT value FROM rpkit_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            _refuse_unreadable(path, exc)
    finally:
        ro.close()
    if row is None or not str(row[0]).isdigit():
        raise ForeignDatabaseError(f"{path} has an rpkit_meta table without a schema version")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} has rpkit schema version {version}, newer than this rpkit's "
            f"{SCHEMA_VERSION}; upgrade rpkit to open it"
        )
    return version


def connect(
    path: str | PathLike[str],
    *,
    on_migrate: Callable[[sqlite3.Connection], None] | None = None,
) -> sqlite3.Connection:
    """Open (creating or migrating) a history and return a configured connection.

    ``on_migrate`` runs inside the migration's transaction, after the schema
    steps (the layer above passes a rebuild of the projection).
    """
    check_version()
    path = Path(path)
    version = _inspect(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version is None or version < SCHEMA_VERSION:
            _create_or_migrate(conn, version, on_migrate)
        elif not _counted(conn):
            with atomic(conn):
                count_events(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _create_or_migrate(
    conn: sqlite3.Connection,
    version: int | None,
    on_migrate: Callable[[sqlite3.Connection], None] | None,
) -> None:
    with atomic(conn):
        if version is None:
            # Another process may have created it between our look and our lock.
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'rpkit_meta'"
            ).fetchone()
            if exists:
                return
            create(conn)
            set_meta(conn, "projected_at", 0)
            return
        current = conn.execute("SELECT value FROM rpkit_meta WHERE key='schema_version'").fetchone()
        if current is not None and int(current[0]) >= SCHEMA_VERSION:
            return
        migrate(conn, version)
        count_events(conn)
        if on_migrate is not None:
            on_migrate(conn)
