"""Undoing a rewind: put back exactly what it removed, keep what was written since.

A rewind's snapshot records what the rewind removed (the chat, or none for a
global rewind, and the point) and what the rewound scope held afterwards.
``undo_rewind`` reads the removed events from that file (ATTACHed), with their
ids and retirements, inserts them again, re-retires what they had retired,
and folds the projection forward from the first event put back. It refuses,
changing nothing, once the rewound chat (or, after a global rewind, the
history) has moved on, or when the snapshot is not a rewind's of this history.
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
    NotARewindSnapshotError,
)
from ..projection import reproject_from
from ..store import atomic, get_meta, head_id, log_count, require_history, schema
from ..store.sqlite import sqlite3
from .chat_rewind import IDS, removed_ids, retired_by, scope_fingerprint
from .opening import open_db
from .record import RECORD
from .record_apply import check_names, check_not_retired, put_back
from .snapshot import data_dir_of, read_snapshot_meta, resolve_snapshot

_KEYS = ("rewind_chat_id", "rewind_after_event_id", "rewind_scope_events", "rewind_scope_head")


def _whole_file(path: Path) -> str:
    return (
        f"nothing was changed; restore_snapshot(db_path=..., snapshot='{path.name}') "
        "puts the whole file back as it was before the rewind (and loses what was written since)"
    )


def _rewind_meta(conn: sqlite3.Connection, path: Path) -> dict[str, str]:
    """The snapshot's description; refuse one no rewind took, or one of another history."""
    meta = dict(conn.execute("SELECT key, value FROM snap.rpkit_meta"))
    if any(f"snapshot_{k}" not in meta for k in _KEYS):
        raise NotARewindSnapshotError(
            f"{path} is a {meta.get('snapshot_kind')!r} snapshot that records no rewind, so "
            "undo_rewind cannot tell what to put back; pass the snapshot execute_rewind "
            "returned, or restore_snapshot to restore this one whole"
        )
    if meta.get("schema_version") != str(schema.SCHEMA_VERSION):
        raise NotARewindSnapshotError(
            f"{path} has schema version {meta.get('schema_version')}, this rpkit undoes rewinds "
            f"of version {schema.SCHEMA_VERSION} only; use restore_snapshot"
        )
    ours = conn.execute("SELECT value FROM main.rpkit_meta WHERE key = 'history_id'").fetchone()
    if ours is None or meta.get("history_id") != ours[0]:
        raise ForeignSnapshotError(
            f"{path} is a snapshot of another history (history id {meta.get('history_id')}, "
            f"this one is {ours[0] if ours else None}); nothing was changed: pass a snapshot a "
            "rewind of this history took (list_snapshots(db_path=...) lists them)"
        )
    return meta


def _check_moved_on(
    conn: sqlite3.Connection, path: Path, meta: dict[str, str], chat: int | None, ids: list[int]
) -> None:
    """Refuse when the rewound scope changed since, or when events it kept are gone."""
    text = json.dumps(ids)
    back = conn.execute(f"SELECT MIN(id) FROM main.event_log WHERE id IN {IDS}", (text,))
    again = back.fetchone()[0]
    if again is not None:
        raise HistoryMovedOnError(
            f"event {again}, which the rewind removed, is in the history again: this rewind "
            f"was undone already; {_whole_file(path)}"
        )
    scope = "the history" if chat is None else f"chat {chat}"
    then = (int(meta["snapshot_rewind_scope_events"]), int(meta["snapshot_rewind_scope_head"]))
    now = scope_fingerprint(conn, chat)
    if now != then:
        raise HistoryMovedOnError(
            f"{scope} has moved on since the rewind (it then held "
            f"{counted(then[0], 'event')} up to id {then[1]}, now {now[0]} up to id {now[1]}), "
            "so the removed events no longer fit "
            f"in; {_whole_file(path)}"
        )
    snap_head, snap_events = int(meta["snapshot_max_event_id"]), int(meta["snapshot_events"])
    past = conn.execute("SELECT COUNT(*) FROM main.event_log WHERE id > ?", (snap_head,))
    if log_count(conn) - past.fetchone()[0] != snap_events - len(ids):
        raise HistoryMovedOnError(
            "events the rewind kept were removed since (by another rewind or a restore), so "
            f"the removed events would refer to missing ones; {_whole_file(path)}"
        )


def _check_fits(conn: sqlite3.Connection, path: Path, ids: list[int]) -> list[int]:
    """Refuse when the removed events no longer fit in; return the events to retire again."""
    rows = conn.execute(
        f"SELECT id, kind, chat_id, payload FROM snap.event_log WHERE id IN {IDS}",
        (json.dumps(ids),),
    ).fetchall()
    check_names(conn, rows, _whole_file(path))
    targets = [t[0] for t in retired_by(conn, ids, db="snap")]
    check_not_retired(conn, targets, _whole_file(path))
    return targets


def _put_back(conn: sqlite3.Connection, path: Path) -> None:
    meta = _rewind_meta(conn, path)
    chat = int(meta["snapshot_rewind_chat_id"]) if meta["snapshot_rewind_chat_id"] else None
    ids = removed_ids(conn, int(meta["snapshot_rewind_after_event_id"]), chat, db="snap")
    if not ids:
        return
    _check_moved_on(conn, path, meta, chat, ids)
    targets = _check_fits(conn, path, ids)
    conn.execute(
        f"INSERT INTO main.event_log SELECT * FROM snap.event_log WHERE id IN {IDS}",
        (json.dumps(ids),),
    )
    conn.execute(
        "UPDATE main.event_log SET hidden = 1, superseded_by = (SELECT s.superseded_by "
        "FROM snap.event_log s WHERE s.id = main.event_log.id) "
        f"WHERE id IN {IDS}",
        (json.dumps(targets),),
    )
    start = min(ids[0], *targets) if targets else ids[0]
    reproject_from(conn, min(start, get_meta(conn, "projected_at") + 1), head_id(conn))


def undo_rewind(
    *,
    db_path: str | PathLike[str],
    data_dir: str | PathLike[str] | None = None,
    snapshot: str | PathLike[str],
) -> None:
    """Put back exactly what the rewind that took ``snapshot`` removed, in one transaction.

    The events come back with their ids and retirements; everything written
    since in other chats and the world stays. Refused, with nothing changed,
    once the rewound chat (or, after a global rewind, the history) has moved
    on: ``restore_snapshot`` then restores the whole file instead.
    """
    data_dir = data_dir_of(db_path, data_dir)
    path = resolve_snapshot(data_dir, snapshot)
    try:
        found = read_snapshot_meta(path)
    except InvalidSnapshotError as exc:
        raise NotARewindSnapshotError(
            f"{exc}; undo_rewind takes the snapshot execute_rewind returned"
        ) from exc
    if found["format"] == RECORD:
        put_back(db_path=db_path, data_dir=data_dir, path=path, restore=False)
        return
    with open_db(require_history(db_path)) as conn:
        conn.execute("ATTACH DATABASE ? AS snap", (str(path),))
        try:
            with atomic(conn, durable=True):
                _put_back(conn, path)
        finally:
            conn.execute("DETACH DATABASE snap")
