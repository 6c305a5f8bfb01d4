"""Putting a rewind record back: undo its rewind, or restore the state before it.

Both take away what the record names in ``added`` (events a restore had put
back), insert the removed events with their ids, retire again what they had
retired, and bring the projection back: by restoring the rows and rollback
entries the record holds, when it holds them and nothing moved since
(``as_left``), else by folding forward from the first event that changed.
Either writes back the rollback entries too, so
putting back a record right after its rewind gives back the file's exact
content (the property tests compare every row). ``undo_rewind`` refuses once the rewound scope moved on;
``restore_snapshot`` first takes away every event written since (writing a
record of that, which restores the state before the restore in turn).
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

from ..display import counted
from ..errors import (
    ForeignSnapshotError,
    HistoryMovedOnError,
    InvalidSnapshotError,
    SnapshotVersionError,
)
from ..kinds import KINDS
from ..projection import reproject_from, restore_putback
from ..store import atomic, get_meta, head_id, log_count, require_history, retired, schema
from ..store.sqlite import sqlite3
from .chat_rewind import IDS, retired_by, scope_fingerprint
from .opening import open_db
from .record import ROWS, check_record_tables, write_record


def read_record(path: Path) -> dict[str, str]:
    """A record's raw description, after checking it is whole and has a record's tables."""
    try:
        ro = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = ro.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise InvalidSnapshotError(f"{path} is damaged (integrity_check: {result})")
            check_record_tables(ro, path)
            meta = dict(ro.execute("SELECT key, value FROM rpkit_meta"))
        finally:
            ro.close()
    except sqlite3.Error as exc:
        raise InvalidSnapshotError(
            f"{path} is not a whole rewind record ({exc}); it may be truncated: pass another "
            "snapshot (list_snapshots(db_path=...) lists them)"
        ) from exc
    version = meta.get("schema_version", "")
    if version != str(schema.SCHEMA_VERSION):
        raise SnapshotVersionError(
            f"{path} is a record of schema version {version or '?'}, this rpkit reads records "
            f"of version {schema.SCHEMA_VERSION}; nothing was changed: use the rpkit that wrote it"
        )
    return meta


def _check_history(conn: sqlite3.Connection, path: Path, meta: dict[str, str]) -> None:
    ours = conn.execute("SELECT value FROM main.rpkit_meta WHERE key = 'history_id'").fetchone()
    if ours is None or meta.get("history_id") != ours[0]:
        raise ForeignSnapshotError(
            f"{path} is a record of another history (history id {meta.get('history_id')}, "
            f"this one is {ours[0] if ours else None}); nothing was changed: pass a record a "
            "rewind of this history wrote (list_snapshots(db_path=...) lists them)"
        )


def _restore_instead(path: Path) -> str:
    return (
        f"nothing was changed; restore_snapshot(db_path=..., snapshot='{path.name}') brings back "
        "the state before the rewind (and takes away, recorded, what was written since)"
    )


def check_names(conn: sqlite3.Connection, rows: list[tuple], whole: str) -> None:
    """Refuse when something written since took a name a removed event creates.

    ``rows`` are (id, kind, chat_id, payload) of the events to put back;
    ``whole`` ends the message (what to do instead).
    """
    for id_, kind, chat_id, payload in rows:
        spec = KINDS.get(kind)
        if spec is None:
            continue
        taken = (
            spec.chat == "new"
            and conn.execute(
                "SELECT 1 FROM main.event_log WHERE chat_id = ? LIMIT 1", (chat_id,)
            ).fetchone()
        )
        for ref in (r for r in spec.refs if r.new):
            key = schema.PROJECTED[ref.table].key[0]
            value = json.loads(payload).get(ref.field)
            sql = f"SELECT 1 FROM main.{ref.table} WHERE {key} = ?"
            taken = taken or conn.execute(sql, (value,)).fetchone()
        if taken:
            raise HistoryMovedOnError(
                f"event {id_} ({kind}) that the rewind removed creates a chat or row that "
                f"was created again since; {whole}"
            )


def creating_kinds() -> list[str]:
    """The kinds whose events create a chat or a named row (what ``check_names`` checks)."""
    return sorted(n for n, k in KINDS.items() if k.chat == "new" or any(r.new for r in k.refs))


def check_not_retired(conn: sqlite3.Connection, targets: list[int], whole: str) -> None:
    """Refuse when an event the rewind brought back was retired again since."""
    busy = conn.execute(
        f"SELECT MIN(id) FROM main.event_log WHERE id IN {IDS} AND {retired()}",
        (json.dumps(targets),),
    ).fetchone()[0]
    if busy is not None:
        raise HistoryMovedOnError(
            f"event {busy}, which the rewind brought back, was retired again since; {whole}"
        )


def _ids(conn: sqlite3.Connection, sql: str, args: tuple = ()) -> list[int]:
    return [r[0] for r in conn.execute(sql, args)]


def _top(meta: dict[str, str], added: list[int]) -> int:
    """The newest id the record's change left: events above it were written since."""
    return max([int(meta["snapshot_max_event_id"]), *added[-1:]])


def _check_state(
    conn: sqlite3.Connection, path: Path, meta: dict[str, str], removed: list, added: list
) -> None:
    """Refuse unless the events up to the record's head are those its change left."""
    text = json.dumps(removed)
    again = conn.execute(f"SELECT MIN(id) FROM main.event_log WHERE id IN {IDS}", (text,))
    if (back := again.fetchone()[0]) is not None:
        raise HistoryMovedOnError(
            f"event {back}, which the rewind removed, is in the history again: this rewind "
            "was undone already (or its record restored); nothing was changed"
        )
    head, events = _top(meta, added), int(meta["snapshot_events"])
    # the log's count less the rows past head: a COUNT with id <= ? reads every row
    kept = log_count(conn)
    kept -= conn.execute("SELECT COUNT(*) FROM main.event_log WHERE id > ?", (head,)).fetchone()[0]
    present = conn.execute(
        f"SELECT COUNT(*) FROM main.event_log WHERE id IN {IDS}", (json.dumps(added),)
    ).fetchone()[0]
    if kept != events - len(removed) + len(added) or present != len(added):
        raise HistoryMovedOnError(
            f"events the rewind kept were removed since {path.name} was written (by another "
            "rewind or a restore), so its events would refer to missing ones; nothing was "
            "changed: put back the newer records first, or restore a whole-file snapshot"
        )


def _check_scope(conn: sqlite3.Connection, path: Path, meta: dict[str, str]) -> None:
    chat = int(meta["snapshot_rewind_chat_id"]) if meta["snapshot_rewind_chat_id"] else None
    scope = "the history" if chat is None else f"chat {chat}"
    then = (int(meta["snapshot_rewind_scope_events"]), int(meta["snapshot_rewind_scope_head"]))
    now = scope_fingerprint(conn, chat)
    if now != then:
        raise HistoryMovedOnError(
            f"{scope} has moved on since the rewind (it then held {counted(then[0], 'event')} "
            f"up to id {then[1]}, now {now[0]} up to id {now[1]}), so the removed events no "
            f"longer fit in; {_restore_instead(path)}"
        )


def apply_record(
    conn: sqlite3.Connection,
    path: Path,
    meta: dict[str, str],
    *,
    restore: bool,
    data_dir: str | PathLike[str] | None = None,
) -> Path | None:
    """Put the record ATTACHed as ``rec`` back, inside the caller's write transaction.

    With ``restore``, events written since the record are taken away first and
    the record of the restore is returned; else the rewound scope must not
    have moved on.
    """
    _check_history(conn, path, meta)
    removed = _ids(conn, "SELECT id FROM rec.event_log ORDER BY id")
    added = _ids(conn, "SELECT id FROM rec.added ORDER BY id")
    back = conn.execute("SELECT id, superseded_by FROM rec.retirements ORDER BY id").fetchall()
    _check_state(conn, path, meta, removed, added)
    head, events = int(meta["snapshot_max_event_id"]), int(meta["snapshot_events"])
    appended = []
    top = _top(meta, added)
    if restore:
        appended = _ids(conn, "SELECT id FROM main.event_log WHERE id > ? ORDER BY id", (top,))
    else:
        _check_scope(conn, path, meta)
    gone = sorted({*appended, *added})
    unretire = [(r[0], r[3]) for r in retired_by(conn, gone)] if gone else []
    if not restore:
        creating = creating_kinds()  # only these can take a name that was taken since
        rows = conn.execute(
            "SELECT id, kind, chat_id, payload FROM rec.event_log "
            f"WHERE kind IN ({', '.join('?' * len(creating))})",
            creating,
        ).fetchall()
        check_names(conn, rows, _restore_instead(path))
    targets = [b[0] for b in back]
    leaving = {u[0] for u in unretire}
    check_not_retired(conn, [t for t in targets if t not in leaving], _restore_instead(path))
    changed = [*gone[:1], *leaving, *removed[:1], *targets, get_meta(conn, "projected_at") + 1]
    start = min(changed)
    made = None
    if restore:
        made = write_record(
            conn,
            data_dir=data_dir,
            kind="pre-restore",
            removed=(f"id IN {IDS}", (json.dumps(gone),)),
            retirements=unretire,
            added=removed,
            rollback_from=start,
            describe={
                "rewind_chat_id": "",
                "rewind_after_event_id": head,
                "rewind_scope_events": events,
                "rewind_scope_head": head,
                "restored": path.name,
            },
        )
    text = json.dumps(gone)
    if gone:
        conn.execute(
            "UPDATE main.event_log SET hidden = 0, superseded_by = NULL "
            f"WHERE {retired()} AND superseded_by IN {IDS}",
            (text,),
        )
        conn.execute(f"DELETE FROM main.event_log WHERE id IN {IDS}", (text,))
    restores = not gone and as_left(conn, meta)  # read before the log changes
    conn.execute("INSERT INTO main.event_log SELECT * FROM rec.event_log ORDER BY id")
    conn.execute(
        "UPDATE main.event_log SET hidden = 1, superseded_by = (SELECT r.superseded_by "
        "FROM rec.retirements r WHERE r.id = main.event_log.id) "
        "WHERE id IN (SELECT id FROM rec.retirements)"
    )
    if restores:  # the rows and rollback entries as they were: nothing to fold
        restore_putback(conn, "rec")
    else:
        reproject_from(conn, start, head_id(conn))
    return made


def as_left(conn: sqlite3.Connection, meta: dict[str, str]) -> bool:
    """Whether the record holds what its change did to the projection, and nothing moved since.

    Nothing was written since the change (no event above its head, the tables
    at the log's head, the rollback floor where it was): then the projection
    is exactly what the change left, and restoring the rows and entries the
    record holds gives what folding the events again would.
    """
    if meta.get("snapshot_projection") != ROWS:
        return False
    head = head_id(conn)
    return (
        head <= int(meta["snapshot_max_event_id"])
        and get_meta(conn, "projected_at") == head
        and get_meta(conn, "undo_floor") == int(meta["snapshot_undo_floor"])
    )


def put_back(
    *,
    db_path: str | PathLike[str],
    data_dir: str | PathLike[str] | None,
    path: Path,
    restore: bool,
) -> Path | None:
    """Open the history, attach the record and put it back in one transaction."""
    meta = read_record(path)
    with open_db(require_history(db_path)) as conn:
        conn.execute("ATTACH DATABASE ? AS rec", (str(path),))
        try:
            with atomic(conn, durable=True):
                return apply_record(conn, path, meta, restore=restore, data_dir=data_dir)
        finally:
            conn.execute("DETACH DATABASE rec")
