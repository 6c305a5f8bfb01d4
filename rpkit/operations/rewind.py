"""Rewind: cut the log back to an event, after showing exactly what goes.

The preview also says which chats lose events and which retired events come
back; the rewind un-retires events whose retiring edit it deletes; the
snapshot is taken while the write lock is held, so it is exactly the state
the rewind starts from; the projection is rolled back by the tail it undoes.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import EventIdError, SnapshotError, StalePreviewError
from ..kinds import TURN_KINDS
from ..log import get_turn
from ..projection import can_refold_touched, reproject_from, rollback_point, rollback_putback
from ..store import (
    atomic,
    check_event_id,
    head_id,
    log_count,
    require_history,
    retired,
    retired_after,
)
from ..store.sqlite import sqlite3
from .chat_rewind import (
    IDS,
    chat_cut_plan,
    chat_preview,
    check_chat_point,
    cut_chat,
    scope_fingerprint,
    touched_plan,
)
from .opening import open_db
from .record import COPY, RECORD, write_record
from .snapshot import data_dir_of, snapshot_dir, take_snapshot


def compute_rewind_preview(
    conn: sqlite3.Connection, after_event_id: int, *, chat_id: int | None = None
) -> dict[str, Any]:
    """What ``execute_rewind(after_event_id, chat_id=...)`` would remove and bring back.

    Keys: ``after_event_id``, ``head_event_id``, ``total_events`` and ``by_kind``
    (rows removed, retired ones included), ``hidden_events`` (how
    many of those were already retired), ``by_chat`` (removed per chat id, None for
    world-level events) and ``restored_events`` (retired events that become
    visible again: id, kind, chat_id, superseded_by). With a ``chat_id`` the
    counts are over that chat's events after the point and what they caused,
    and the dict also has ``chat_id``.
    """
    n = check_event_id(conn, after_event_id, what="after_event_id")
    if chat_id is not None:
        with atomic(conn, write=False):
            return chat_preview(conn, n, check_chat_point(conn, n, chat_id))
    # Each query reads only the tail or the retired rows (NOT INDEXED and INDEXED BY
    # steer SQLite to the id range and the superseded_by index), so a preview costs the tail.
    with atomic(conn, write=False):
        by_kind = dict(
            conn.execute(
                "SELECT kind, COUNT(*) FROM event_log WHERE id > ? GROUP BY kind ORDER BY kind",
                (n,),
            )
        )
        by_chat = dict(
            conn.execute(
                "SELECT chat_id, COUNT(*) FROM event_log NOT INDEXED WHERE id > ? GROUP BY chat_id "
                "ORDER BY chat_id",
                (n,),
            )
        )
        hidden = conn.execute(
            f"SELECT COUNT(*) FROM event_log NOT INDEXED WHERE id > ? AND {retired()}", (n,)
        ).fetchone()[0]
        restored = [
            {"id": i, "kind": k, "chat_id": c, "superseded_by": s}
            for i, k, c, s in conn.execute(
                "SELECT id, kind, chat_id, superseded_by FROM event_log "
                "INDEXED BY event_log_superseded_by "
                f"WHERE id <= ? AND {retired_after()} ORDER BY id",
                (n, n),
            )
        ]
        head = head_id(conn)
    return {
        "after_event_id": n,
        "head_event_id": head,
        "total_events": sum(by_kind.values()),
        "by_kind": by_kind,
        "hidden_events": hidden,
        "by_chat": by_chat,
        "restored_events": restored,
    }


def execute_rewind(
    *,
    db_path: str | PathLike[str],
    data_dir: str | PathLike[str] | None = None,
    after_event_id: int,
    chat_id: int | None = None,
    expected_preview: dict[str, Any] | None = None,
    keep: str = RECORD,
) -> Path:
    """Record what goes, then in one transaction cut the log after ``after_event_id``.

    Without ``chat_id`` every chat is cut: afterwards the log and every projected
    table equal ``state_at(after_event_id)`` as it was before. With ``chat_id``
    only that chat's later events go, with every event they caused (DESIGN §11);
    the rest of the log stays, with its ids. Pass the preview the user confirmed
    as ``expected_preview`` and the rewind refuses (StalePreviewError) if the
    history changed since.

    Returns the file that undoes it, in ``data_dir/snapshots/`` (``data_dir``
    defaults to the history's folder): with ``keep="record"`` a rewind record
    (what the rewind removes, kilobytes for a short rewind), with
    ``keep="copy"`` a whole-file copy of the history as it was. Either serves
    ``undo_rewind`` and ``restore_snapshot``; it is complete and fsynced
    before the first row is deleted.
    """
    if keep not in (RECORD, COPY):
        raise SnapshotError(
            f"keep={keep!r} must be {RECORD!r} (a record of what the rewind removes) or "
            f"{COPY!r} (a whole-file copy of the history)"
        )
    data_dir = data_dir_of(db_path, data_dir)
    snapshot_dir(data_dir)  # refuse an unusable folder before taking any lock
    with open_db(require_history(db_path)) as conn, atomic(conn, durable=True):
        n = _confirmed_point(conn, after_event_id, chat_id, expected_preview)
        chat = None if chat_id is None else check_chat_point(conn, n, chat_id)
        total = log_count(conn)
        count, newest = scope_fingerprint(conn, chat, upto=n, total=total)
        describe = {
            "rewind_chat_id": "" if chat is None else chat,
            "rewind_after_event_id": n,
            "rewind_scope_events": count,
            "rewind_scope_head": newest,
        }
        putback = None
        if chat is not None:
            ids, back, start = chat_cut_plan(conn, n, chat)
            refold = touched_plan(conn, ids, back, start)
            removed = (f"id IN {IDS}", (json.dumps(ids),))
            putback = None if refold is None else refold.putback()
        else:
            start = rollback_point(conn, n)
            back = [
                (r[0], r[1])
                for r in conn.execute(
                    "SELECT id, superseded_by FROM event_log INDEXED BY event_log_superseded_by "
                    f"WHERE id <= ? AND {retired_after()} ORDER BY id",
                    (n, n),
                )
            ]
            removed = ("id > ?", (n,))
            if keep == RECORD and start == n + 1 and can_refold_touched(conn, start, head_id(conn)):
                putback = rollback_putback(conn, start)  # the rewind only rolls back
        if keep == COPY:
            snapshot = take_snapshot(conn, data_dir=data_dir, kind="rewind", describe=describe)
        else:
            snapshot = write_record(
                conn,
                data_dir=data_dir,
                kind="rewind",
                removed=removed,
                retirements=back,
                rollback_from=start,
                describe=describe,
                events=total,
                putback=putback,
            )
        if chat is not None:
            cut_chat(conn, ids, back, start, refold)
            return snapshot
        conn.execute(
            f"UPDATE event_log SET hidden = 0, superseded_by = NULL WHERE {retired_after()}", (n,)
        )
        conn.execute("DELETE FROM event_log WHERE id > ?", (n,))
        # n may fall in a gap left by an earlier rewind: the state there is the newest
        # surviving event's, and the projection says so (verify expects projected_at == head)
        reproject_from(conn, start, head_id(conn))
    return snapshot


def _confirmed_point(
    conn: sqlite3.Connection,
    after_event_id: object,
    chat_id: object,
    expected_preview: dict[str, Any] | None,
) -> int:
    """The checked point; refuse it when the history changed since the confirmed preview."""
    try:
        n = check_event_id(conn, after_event_id, what="after_event_id")
    except EventIdError as exc:
        if expected_preview is None:
            raise
        raise StalePreviewError(
            f"the history changed since the preview: {exc}; preview again and confirm "
            "the new counts"
        ) from exc
    if expected_preview is not None:
        now = compute_rewind_preview(conn, n, chat_id=chat_id)
        if now != expected_preview:
            raise StalePreviewError(
                f"the history changed since the preview of a rewind to {n} "
                f"(it then had {expected_preview.get('head_event_id')} as newest event, now "
                f"{now['head_event_id']}); preview again and confirm the new counts"
            )
    return n


def rewind_points(conn: sqlite3.Connection, chat_id: int) -> dict[int, int]:
    """ "Rewind to here" for every turn of a chat (retired ones too): turn id -> point.

    The point keeps the turn and the events derived from it (its affinity
    updates, memories, classifier results), but never the chat's next turn: a
    classifier that runs later derives events after many turns, and "rewind to
    here" must still end the conversation at this turn.
    """
    marks = ", ".join("?" * len(TURN_KINDS))
    turns = [
        r[0]
        for r in conn.execute(
            f"SELECT id FROM event_log WHERE chat_id = ? AND kind IN ({marks}) ORDER BY id",
            (chat_id, *sorted(TURN_KINDS)),
        )
    ]
    derived = dict(
        conn.execute(
            f"""
            WITH RECURSIVE derived(root, id) AS (
              SELECT id, id FROM event_log WHERE chat_id = ? AND kind IN ({marks})
              UNION
              SELECT d.root, e.id FROM event_log e JOIN derived d ON e.cause_id = d.id
            )
            SELECT root, MAX(id) FROM derived GROUP BY root
            """,
            (chat_id, *sorted(TURN_KINDS)),
        )
    )
    nxt = [*turns[1:], None] if turns else []
    return {
        t: derived[t] if n is None else min(derived[t], n - 1)
        for t, n in zip(turns, nxt, strict=True)
    }


def rewind_point(conn: sqlite3.Connection, turn_event_id: int) -> int:
    """The ``after_event_id`` for "rewind to here" on a turn (see ``rewind_points``)."""
    ev, _ = get_turn(conn, turn_event_id, "rewind to")
    return rewind_points(conn, ev.chat_id)[ev.id]
