"""Rewind records: what a rewind takes away, in one small self-describing SQLite file.

A whole-file copy of the history costs the history's size on every rewind; a
record costs what the rewind removes. It lives in ``snapshots/`` beside the
copies, is named like them, and holds:

* ``rpkit_meta``: the description a copy carries (``snapshot_kind``,
  ``snapshot_taken_at``, ``snapshot_max_event_id`` and ``snapshot_events``, the
  head and the event count before the rewind, the ``snapshot_rewind_*`` scope),
  plus ``snapshot_format = 'record'``, the history's ``history_id``, its
  ``schema_version``, ``snapshot_removed`` and ``snapshot_rollback_from``;
* ``event_log``: the removed events, every column;
* ``retirements``: events the rewind brought back (retired by a removed one),
  with the event that had retired them;
* ``added``: events that putting the record back takes away (a restore's
  record names the events the restore put back, so a restore is undoable);

and, for the projection, ``snapshot_rollback_from`` (the first event whose
state the rewind changes), ``snapshot_undo_floor`` and ``snapshot_projected_at``.
When the rewind worked out what it does to the projection
(``projection.putback``; ``snapshot_projection = 'rows'``) the record also holds
it: ``projection_rows`` (each row it changes, as it was), ``projection_undo``
and ``projection_events`` (the rollback entries it drops, and the events whose
entries it replaces) and ``projection_updates`` (entries it rewrites in place,
as they were). Putting the record back while nothing moved since restores
those; otherwise (``'refold'``, or moved on) it refolds from
``snapshot_rollback_from`` through the rollback log. Both write the same tables
and rollback entries (the property tests compare every row of the file).

It is written under a temporary name while the history's write lock is held,
fsynced, renamed into place and its folder fsynced, all before the first
destructive statement: a crash leaves it whole or absent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

from ..errors import InvalidSnapshotError
from ..projection import PutBack
from ..store import db_path_of, get_meta, head_id, log_count, schema
from ..store.sqlite import sqlite3
from .chat_rewind import IDS, removed_ids
from .snapshot_files import data_dir_of, publishing, snapshot_dir

RECORD, COPY = "record", "copy"
EVENT_COLUMNS = "id, ts, chat_id, kind, payload, cause_id, hidden, superseded_by"

RECORD_DDL = (
    "CREATE TABLE rpkit_meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE event_log (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, chat_id INTEGER, "
    "kind TEXT NOT NULL, payload TEXT NOT NULL, cause_id INTEGER, hidden INTEGER NOT NULL, "
    "superseded_by INTEGER)",
    "CREATE TABLE retirements (id INTEGER PRIMARY KEY, superseded_by INTEGER NOT NULL)",
    "CREATE TABLE added (id INTEGER PRIMARY KEY)",
)
# What the projection needs put back (``projection.putback``); ``snapshot_projection``
# says whether the record holds it ("rows") or putting it back refolds ("refold").
PUTBACK_DDL = (
    "CREATE TABLE projection_rows (tbl TEXT NOT NULL, key TEXT NOT NULL, row TEXT)",
    "CREATE TABLE projection_undo (seq INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, "
    "tbl TEXT NOT NULL, key TEXT NOT NULL, old TEXT)",
    "CREATE TABLE projection_events (id INTEGER PRIMARY KEY)",
    "CREATE TABLE projection_updates (event_id INTEGER NOT NULL, tbl TEXT NOT NULL, "
    "key TEXT NOT NULL, old TEXT)",
)
RECORD_TABLES = {
    "rpkit_meta": ["key", "value"],
    "event_log": EVENT_COLUMNS.split(", "),
    "retirements": ["id", "superseded_by"],
    "added": ["id"],
}
PUTBACK_TABLES = {
    "projection_rows": ["tbl", "key", "row"],
    "projection_undo": ["seq", "event_id", "tbl", "key", "old"],
    "projection_events": ["id"],
    "projection_updates": ["event_id", "tbl", "key", "old"],
}
ROWS, REFOLD = "rows", "refold"
# A small record's page size (up to SMALL_RECORD removed events: each of its tables
# takes a page at least, so small pages keep it small), and what a record holds
# besides the removed rows: a page or two per table and the meta rows.
RECORD_PAGE, SMALL_RECORD, RECORD_PAGES = 1024, 512, 6


def is_record(meta: dict[str, str]) -> bool:
    """Whether a snapshot's raw ``rpkit_meta`` describes a record (else a whole-file copy)."""
    return meta.get("snapshot_format") == RECORD


def write_record(
    conn: sqlite3.Connection,
    *,
    data_dir: str | PathLike[str] | None,
    kind: str,
    removed: tuple[str, Sequence[object]],
    retirements: Sequence[tuple[int, int]],
    added: Sequence[int] = (),
    rollback_from: int,
    describe: dict[str, object],
    events: int | None = None,
    putback: PutBack | None = None,
) -> Path:
    """Write a record of what the caller is about to change; return its path.

    Runs inside the caller's write transaction, before it changes anything.
    ``removed`` is a condition on ``event_log`` and its arguments naming the
    events that go; ``retirements`` the (id, superseded_by) that go with
    them; ``added`` the ids that putting the record back removes;
    ``rollback_from`` the first event whose rollback entries the change rewrites;
    ``events`` the log's event count, when the caller has it; ``putback`` what
    the change does to the projection, when the caller worked it out (else
    putting the record back refolds).
    """
    source = db_path_of(conn)
    folder = snapshot_dir(data_dir_of(source, data_dir))
    where, args = removed
    # Nothing written on this connection yet (the record comes before any change, and
    # this connection holds the write lock): the file as committed is what it sees, so
    # the record's connection copies the rows from it in SQL. Else through Python.
    direct = conn.total_changes == 0
    removing = conn.execute(f"SELECT COUNT(*) FROM event_log WHERE {where}", args).fetchone()[0]
    head = head_id(conn)
    count = log_count(conn) if events is None else events
    history = conn.execute("SELECT value FROM rpkit_meta WHERE key = 'history_id'").fetchone()
    now = datetime.now(UTC)
    meta = {
        "snapshot_kind": kind,
        "snapshot_format": RECORD,
        "snapshot_taken_at": now.isoformat(),
        "snapshot_source": source.name,
        "snapshot_max_event_id": head,
        "snapshot_events": count,
        "snapshot_removed": removing,
        "snapshot_rollback_from": rollback_from,
        "snapshot_undo_floor": get_meta(conn, "undo_floor"),
        "snapshot_projected_at": get_meta(conn, "projected_at"),
        "snapshot_projection": REFOLD if putback is None else ROWS,
        "history_id": history[0] if history else "",
        "schema_version": schema.SCHEMA_VERSION,
        **{f"snapshot_{k}": v for k, v in describe.items()},
    }
    stem = f"{kind}-{now.strftime('%Y%m%dT%H%M%S%fZ')}"
    with publishing(folder, stem, "a rewind record") as publication:
        out = sqlite3.connect(publication.tmp)
        try:
            out.execute(f"PRAGMA page_size = {page_size_for(removing)}")
            out.execute("PRAGMA journal_mode = OFF")  # a fresh file: the rename is the commit
            out.execute("PRAGMA synchronous = OFF")  # one fsync below covers every write
            for ddl in (*RECORD_DDL, *(PUTBACK_DDL if putback is not None else ())):
                out.execute(ddl)
            out.commit()  # the file, with its page size, before another one is attached
            if direct:
                out.execute("ATTACH DATABASE ? AS h", (str(source),))  # only read
            out.executemany(
                "INSERT INTO rpkit_meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()]
            )
            _copy(out, conn, direct, "event_log", EVENT_COLUMNS, (where, args), "id")
            out.executemany("INSERT INTO retirements VALUES (?, ?)", retirements)
            out.executemany("INSERT INTO added VALUES (?)", [(i,) for i in added])
            if putback is not None:
                out.executemany("INSERT INTO projection_rows VALUES (?, ?, ?)", putback.rows)
                columns = "event_id, tbl, key, old"
                if isinstance(putback.entries, tuple):
                    order = "event_id, seq"
                    _copy(out, conn, direct, "projection_undo", columns, putback.entries, order)
                else:
                    out.executemany(
                        f"INSERT INTO projection_undo({columns}) VALUES (?, ?, ?, ?)",
                        putback.entries,
                    )
                out.executemany(
                    "INSERT INTO projection_events VALUES (?)", [(i,) for i in putback.events]
                )
                out.executemany(
                    "INSERT INTO projection_updates VALUES (?, ?, ?, ?)", putback.updates
                )
            out.commit()
            if direct:
                out.execute("DETACH DATABASE h")
        finally:
            out.close()
        return publication.publish(head)


def _copy(
    out: sqlite3.Connection,
    conn: sqlite3.Connection,
    direct: bool,
    table: str,
    columns: str,
    which: tuple[str, tuple],
    order: str,
) -> None:
    """Copy the rows of ``table`` that ``which`` names into the record, in ``order``."""
    where, args = which
    select = f"SELECT {columns} FROM {'h.' if direct else ''}{table} WHERE {where} ORDER BY {order}"
    if direct:
        out.execute(f"INSERT INTO {table}({columns}) {select}", args)
        return
    marks = ", ".join("?" * len(columns.split(", ")))
    rows = conn.execute(select, args).fetchall()
    out.executemany(f"INSERT INTO {table}({columns}) VALUES ({marks})", rows)


def check_record_tables(ro: sqlite3.Connection, path: Path) -> None:
    """Refuse a record that lacks a table or whose columns are not a record's."""
    meta = dict(ro.execute("SELECT key, value FROM rpkit_meta")) if _has(ro, "rpkit_meta") else {}
    tables = dict(RECORD_TABLES)
    if meta.get("snapshot_projection") == ROWS:
        tables.update(PUTBACK_TABLES)
    for name, columns in tables.items():
        found = [c[0] for c in ro.execute("SELECT name FROM pragma_table_info(?)", (name,))]
        if found != columns:
            raise InvalidSnapshotError(
                f"{path}: table {name} has columns {found}, a rewind record has {columns}; "
                "it is not a complete record: pass a file execute_rewind wrote"
            )


def _has(ro: sqlite3.Connection, name: str) -> bool:
    return ro.execute("SELECT 1 FROM pragma_table_info(?)", (name,)).fetchone() is not None


def page_size_for(rows: int) -> int:
    """A record's page size: small records stay small, large ones take fewer pages."""
    return RECORD_PAGE if rows <= SMALL_RECORD else 4096


def record_size(conn: sqlite3.Connection, after_event_id: int, chat_id: int | None = None) -> int:
    """About how many bytes the record of a rewind to ``after_event_id`` takes (for a preview).

    The removed rows, their rollback entries (what the projection needs put
    back) and the record's pages: within a few pages of the file
    ``execute_rewind`` writes for a global rewind. A per-chat rewind's record
    also holds the entries of the later events it refolds, which only the
    rewind works out: the estimate leaves them out.
    """
    if chat_id is None:
        where, args = "id > ?", (after_event_id,)
        entries = ("event_id > ?", args)
    else:
        text = json.dumps(removed_ids(conn, after_event_id, chat_id))
        where, args = f"id IN {IDS}", (text,)
        entries = (f"event_id IN {IDS}", args)
    rows, size = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(ts) + LENGTH(kind) + LENGTH(payload) + 24), 0) "
        f"FROM event_log WHERE {where}",
        args,
    ).fetchone()
    put = conn.execute(
        "SELECT COALESCE(SUM(LENGTH(tbl) + LENGTH(key) + COALESCE(LENGTH(old), 0) + 12), 0) "
        f"FROM projection_undo WHERE {entries[0]}",
        entries[1],
    ).fetchone()[0]
    pages = RECORD_PAGES + len(PUTBACK_DDL)  # and the putback tables
    return size + put + pages * page_size_for(rows)
