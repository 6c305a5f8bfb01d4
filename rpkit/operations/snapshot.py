"""Snapshots: complete, self-describing copies of a history, and restoring them.

A snapshot holds exactly the committed state. It is copied under the history's
write lock, so no commit can land during the copy: the file and its WAL are
copied as files by ``cp`` in a child process (several times faster than SQLite's
backup API; in this process an open() and close() of the database file would
drop the locks its connections hold) and the copy folds its WAL in. A history
not in WAL mode, a read transaction whose lock another writer holds, or a system
without ``cp`` is copied with the backup API instead. Either way the copy is
written under a temporary name, fsynced and then renamed, and the folder and
its parent are fsynced, so the snapshot is on disk before the operation that
took it deletes anything: a partial file is never listed or restorable. The copy describes itself in its own ``rpkit_meta``
table, so listing snapshots reads the files and no separate index can drift.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import pandas as pd

from ..dtypes import STRING
from ..errors import InvalidSnapshotError, SnapshotError, SnapshotVersionError
from ..projection import rebuild
from ..store import BUSY_TIMEOUT_S, atomic, db_path_of, head_id, require_history, schema
from ..store.schema import ensure_tables
from ..store.sqlite import sqlite3
from .opening import open_db
from .record import COPY, RECORD, check_record_tables, is_record
from .snapshot_files import SUFFIX, data_dir_of, publishing, snapshot_dir

_KIND = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_META_KEYS = ("kind", "taken_at", "source", "max_event_id", "events")
# What list_snapshots shows of each: ``format`` is "record" (what a rewind removed)
# or "copy" (the whole file); ``scope`` "global", "chat N", or None (no rewind's).
LIST_COLUMNS = [
    "path",
    "kind",
    "format",
    "taken_at",
    "size",
    "scope",
    "removed",
    "max_event_id",
    "events",
]


def _holds_write_lock(conn: sqlite3.Connection) -> bool:
    """Take the write lock for the caller's transaction; False if another writer holds it.

    A no-op write takes the lock (at once: a read transaction must not wait).
    """
    waited = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("DELETE FROM rpkit_meta WHERE 0")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(waited)}")


def _copy_committed(conn: sqlite3.Connection, source: Path, tmp: Path) -> None:
    """Write the committed state of ``source`` to ``tmp`` (inside ``atomic(conn)``)."""
    wal = Path(f"{source}-wal")
    cp = shutil.which("cp")
    wal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    if cp is not None and wal_mode and _holds_write_lock(conn):
        # Under the write lock the file and its WAL change only by checkpoints, which
        # write pages the WAL holds anyway; frames past the last commit are ignored.
        # A child process copies them: an open() and close() of the database file in
        # this process would drop the POSIX locks this process's connections hold on
        # it (then another process, closing, could delete the WAL they are using).
        files = [(source, tmp)] + ([(wal, Path(f"{tmp}-wal"))] if wal.exists() else [])
        for src, dst in files:
            done = subprocess.run([cp, "--", str(src), str(dst)], capture_output=True, text=True)
            if done.returncode != 0:
                raise OSError(f"cp {src.name} failed: {done.stderr.strip()}")
        return
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def take_snapshot(
    conn: sqlite3.Connection,
    *,
    data_dir: str | PathLike[str] | None = None,
    kind: str,
    describe: dict[str, object] | None = None,
) -> Path:
    """Write a complete copy of the committed history into ``data_dir/snapshots/``.

    ``data_dir`` defaults to the history's folder.
    Writes made on ``conn`` but not yet committed are not in the copy.
    ``describe`` adds values to the copy's description (a rewind records what
    it removes, for ``undo_rewind``).
    """
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise SnapshotError(
            f"snapshot kind {kind!r} must be 1-40 letters, digits, '-' or '_' (e.g. 'manual')"
        )
    source = db_path_of(conn)
    folder = snapshot_dir(data_dir_of(source, data_dir))
    now = datetime.now(UTC)
    stem = f"{kind}-{now.strftime('%Y%m%dT%H%M%S%fZ')}"
    with publishing(folder, stem, "a snapshot") as out:
        with atomic(conn):
            _copy_committed(conn, source, out.tmp)
        dst = sqlite3.connect(out.tmp)
        try:
            dst.execute("PRAGMA synchronous = OFF")  # one fsync below covers every write
            dst.execute("PRAGMA journal_mode = DELETE")
            # apart, MAX reads one page and COUNT the narrowest index; together both scan
            max_id = dst.execute("SELECT COALESCE(MAX(id), 0) FROM event_log").fetchone()[0]
            count = dst.execute("SELECT COUNT(*) FROM event_log").fetchone()[0]
            meta = {
                "kind": kind,
                "taken_at": now.isoformat(),
                "source": source.name,
                "max_event_id": max_id,
                "events": count,
                **(describe or {}),
            }
            dst.executemany(
                "INSERT OR REPLACE INTO rpkit_meta(key, value) VALUES (?, ?)",
                [(f"snapshot_{k}", str(v)) for k, v in meta.items()],
            )
            dst.commit()
        finally:
            dst.close()
        return out.publish(max_id)


def read_snapshot_meta(path: str | PathLike[str], *, check: bool = False) -> dict:
    """The description a snapshot carries; with ``check``, also verify it can be restored."""
    path = Path(path)
    if not path.is_file():
        raise InvalidSnapshotError(
            f"{path} is not a file; `rpkit snapshots DB` or list_snapshots(data_dir) shows "
            "the snapshots there are"
        )
    with path.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise InvalidSnapshotError(f"{path} is not an SQLite file, so not an rpkit snapshot")
    try:
        ro = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - sqlite opens lazily
        raise InvalidSnapshotError(f"{path} cannot be opened ({exc})") from exc
    try:
        if check:
            result = ro.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise InvalidSnapshotError(f"{path} is damaged (integrity_check: {result})")
        meta = dict(ro.execute("SELECT key, value FROM rpkit_meta"))
        if check and is_record(meta):
            check_record_tables(ro, path)
        elif check and "snapshot_kind" in meta:
            _check_tables(ro, path)
    except sqlite3.Error as exc:
        raise InvalidSnapshotError(f"{path} is not an rpkit snapshot ({exc})") from exc
    finally:
        ro.close()
    if "snapshot_kind" not in meta:
        raise InvalidSnapshotError(
            f"{path} is an rpkit history but not a snapshot; snapshots are made by take_snapshot"
        )
    version_text = str(meta.get("schema_version", ""))
    version = int(version_text) if version_text.isdigit() else -1
    if check and version != schema.SCHEMA_VERSION:
        raise SnapshotVersionError(
            f"{path} has schema version {version}; this rpkit restores version "
            f"{schema.SCHEMA_VERSION} snapshots only"
        )
    out = {k: meta.get(f"snapshot_{k}") for k in _META_KEYS}
    try:
        out["max_event_id"] = int(out["max_event_id"])
        out["events"] = int(out["events"])
    except (TypeError, ValueError) as exc:
        raise InvalidSnapshotError(
            f"{path} does not describe itself as an rpkit snapshot does ({exc})"
        ) from exc
    out["schema_version"] = version
    out["format"] = RECORD if is_record(meta) else COPY
    out["size"] = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    chat = meta.get("snapshot_rewind_chat_id")
    out["scope"] = None if chat is None else (f"chat {chat}" if chat else "global")
    removed = meta.get("snapshot_removed")
    out["removed"] = int(removed) if removed and removed.isdigit() else None
    out["history_id"] = meta.get("history_id")
    return out


@functools.cache
def _expected_tables() -> dict[str, list[str]]:
    """Table name -> column names of the current schema (built once, in memory)."""
    scratch = sqlite3.connect(":memory:")
    try:
        schema.create(scratch)
        names = [r[0] for r in scratch.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            n: [c[0] for c in scratch.execute("SELECT name FROM pragma_table_info(?)", (n,))]
            for n in names
        }
    finally:
        scratch.close()


def _check_tables(ro: sqlite3.Connection, path: Path) -> None:
    """Refuse a snapshot whose tables are not exactly those a restore copies."""
    for name, columns in _expected_tables().items():
        found = [c[0] for c in ro.execute("SELECT name FROM pragma_table_info(?)", (name,))]
        if not found and name != "sqlite_sequence":
            raise InvalidSnapshotError(
                f"{path} lacks the table {name}, so it is not a complete rpkit snapshot; "
                "restore a file made by take_snapshot"
            )
        if found and found != columns:
            raise InvalidSnapshotError(
                f"{path}: table {name} has columns {found}, an rpkit snapshot has {columns}; "
                "restore a file made by take_snapshot"
            )


def list_snapshots(
    data_dir: str | PathLike[str] | None = None, *, db_path: str | PathLike[str] | None = None
) -> pd.DataFrame:
    """One row per snapshot in ``data_dir/snapshots``, oldest first.

    Columns: ``path``, ``kind`` (what took it: ``rewind``, ``manual``,
    ``pre-restore``...), ``format`` (``record`` or ``copy``), ``taken_at``,
    ``size`` (bytes), ``scope`` (``global``, ``chat N``, or NA when no rewind
    took it), ``removed`` (events a record holds; NA for a copy),
    ``max_event_id`` and ``events`` (the history's newest id and count then).

    Name the folder (``data_dir``) or the history (``db_path``: its folder).
    """
    if data_dir is None and db_path is None:
        raise SnapshotError(
            "list_snapshots needs the folder or the history: pass data_dir= or db_path="
        )
    folder = data_dir_of(db_path or ".", data_dir) / "snapshots"
    rows = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            meta = read_snapshot_meta(path)
        except InvalidSnapshotError:
            continue
        rows.append({"path": path, **{k: meta[k] for k in LIST_COLUMNS[1:]}})
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
    for col in ("kind", "format", "scope"):
        frame[col] = frame[col].astype(STRING)
    frame["taken_at"] = pd.to_datetime(frame["taken_at"], utc=True, format="ISO8601")
    for col in ("size", "removed", "max_event_id", "events"):
        frame[col] = frame[col].astype("Int64")
    return frame.sort_values(["taken_at", "path"], kind="stable").reset_index(drop=True)


def resolve_snapshot(data_dir: str | PathLike[str], snapshot: str | PathLike[str]) -> Path:
    """The snapshot file meant by ``snapshot``: a path, or a name in ``data_dir/snapshots``."""
    path = Path(snapshot)
    if not path.exists() and not path.is_absolute():
        candidate = Path(data_dir) / "snapshots" / path
        path = candidate if candidate.exists() else path
    return path


def _tables(conn: sqlite3.Connection, database: str) -> set[str]:
    return {
        r[0] for r in conn.execute(f"SELECT name FROM {database}.sqlite_master WHERE type='table'")
    }


def restore_copy(*, db_path: str | PathLike[str], data_dir: Path, path: Path) -> Path:
    """Replace the history's content with the whole-file snapshot ``path``'s, atomically.

    The current state is snapshotted first; that snapshot's path is returned.
    """
    read_snapshot_meta(path, check=True)
    with open_db(require_history(db_path)) as conn:
        conn.execute("ATTACH DATABASE ? AS snap", (str(path),))
        try:
            before = _copy_in(conn, path, data_dir)
        except sqlite3.IntegrityError as exc:
            conn.rollback()
            raise InvalidSnapshotError(
                f"the content of {path} does not fit the rules of an rpkit history ({exc}); "
                "nothing was changed: restore another snapshot"
            ) from exc
        finally:
            conn.execute("DETACH DATABASE snap")
    return before


def _copy_in(conn: sqlite3.Connection, path: Path, data_dir: str | PathLike[str]) -> Path:
    """Snapshot the current state, then replace every table's content with ``snap``'s."""
    with atomic(conn, durable=True):
        before = take_snapshot(conn, data_dir=data_dir, kind="pre-restore")
        conn.execute("PRAGMA defer_foreign_keys = ON")
        ensure_tables(conn)
        # In an order that satisfies the foreign keys; an extension table the
        # snapshot lacks is emptied, and rebuilt below.
        content = ["event_log", *schema.PROJECTED, "projection_undo"]
        in_snapshot = _tables(conn, "snap")
        for name in reversed(content):
            conn.execute(f"DELETE FROM main.{name}")
        for name in content:
            if name in in_snapshot:
                conn.execute(f"INSERT INTO main.{name} SELECT * FROM snap.{name}")
        # Event ids are never reused: a restore keeps the highest id handed out.
        used = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM main.sqlite_sequence WHERE name = 'event_log'"
        ).fetchone()[0]
        conn.execute("DELETE FROM main.sqlite_sequence")
        conn.execute("INSERT INTO main.sqlite_sequence SELECT * FROM snap.sqlite_sequence")
        if not conn.execute(
            "UPDATE main.sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'event_log'",
            (used,),
        ).rowcount:
            conn.execute(
                "INSERT INTO main.sqlite_sequence(name, seq) VALUES ('event_log', ?)", (used,)
            )
        conn.execute("DELETE FROM main.rpkit_meta")
        conn.execute(
            "INSERT INTO main.rpkit_meta SELECT * FROM snap.rpkit_meta "
            "WHERE key NOT LIKE 'snapshot\\_%' ESCAPE '\\'"
        )
        if any(name not in in_snapshot for name in content):
            rebuild(conn, head_id(conn))
    return before
