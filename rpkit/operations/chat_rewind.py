"""Per-chat rewind: cut one chat back to an event, and what its later events caused.

The removed set of a rewind of chat C to N is every event of C with an id
above N, plus every event derived from a removed one (``cause_id``,
transitively, whatever its chat). Retirements made by removed events are
undone; every other event stays with its id. When no event comes back, only
the rows the removed events changed are refolded, with the later events that
write or read them (``projection.touched``): every other chat's rows stay as
they were, byte for byte. Otherwise the projection is rolled back to just
before the first event whose visibility changes and folded forward.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from ..errors import RewindPointError
from ..log import chat_created_at
from ..projection import (
    MemorySink,
    Refold,
    apply_rows,
    apply_touched,
    can_refold_touched,
    effects,
    plan_touched,
    reproject_from,
)
from ..store import atomic, get_meta, head_id, live, log_count, retired
from ..store.sqlite import sqlite3
from .timetravel import sink_frames


def _removed_sql(db: str) -> str:
    return f"""
WITH RECURSIVE removed(id) AS (
  SELECT id FROM {db}.event_log WHERE chat_id = ? AND id > ?
  UNION
  SELECT e.id FROM {db}.event_log e JOIN removed r ON e.cause_id = r.id
)
SELECT id FROM removed ORDER BY id
"""


IDS = "(SELECT value FROM json_each(?))"


def check_chat_point(conn: sqlite3.Connection, after_event_id: int, chat_id: object) -> int:
    """The chat to rewind; refuse a point before the chat was created."""
    chat, created = chat_created_at(conn, chat_id, other="None for a global rewind")
    if after_event_id < created:
        raise RewindPointError(
            f"after_event_id {after_event_id} is before chat {chat} was created (event "
            f"{created}); a rewind of chat {chat} keeps at least its creation: pick an id from "
            f"{created} to {head_id(conn)}, or pass chat_id=None to rewind every chat"
        )
    return chat


def removed_ids(
    conn: sqlite3.Connection, after_event_id: int, chat_id: int | None, *, db: str = "main"
) -> list[int]:
    """The ids a rewind to ``after_event_id`` removes (of ``chat_id``; None: every chat)."""
    if chat_id is None:
        sql = f"SELECT id FROM {db}.event_log WHERE id > ? ORDER BY id"
        return [r[0] for r in conn.execute(sql, (after_event_id,))]
    return [r[0] for r in conn.execute(_removed_sql(db), (chat_id, after_event_id))]


def retired_by(conn: sqlite3.Connection, ids: list[int], *, db: str = "main") -> list[tuple]:
    """Events outside ``ids`` retired by one of them: (id, kind, chat_id, superseded_by)."""
    text = json.dumps(ids)
    return conn.execute(
        f"SELECT id, kind, chat_id, superseded_by FROM {db}.event_log "
        f"WHERE {retired()} AND superseded_by IN {IDS} AND id NOT IN {IDS} "
        "ORDER BY id",
        (text, text),
    ).fetchall()


def chat_preview(conn: sqlite3.Connection, after_event_id: int, chat_id: int) -> dict[str, Any]:
    """The preview of a rewind of ``chat_id`` (the keys of the global one, plus ``chat_id``)."""
    ids = removed_ids(conn, after_event_id, chat_id)
    rows = conn.execute(
        f"SELECT kind, chat_id, hidden FROM event_log WHERE id IN {IDS}", (json.dumps(ids),)
    ).fetchall()
    by_kind: dict[str, int] = {}
    by_chat: dict[int | None, int] = {}
    for kind, chat, _hidden in rows:
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_chat[chat] = by_chat.get(chat, 0) + 1
    restored = [
        {"id": i, "kind": k, "chat_id": c, "superseded_by": s}
        for i, k, c, s in retired_by(conn, ids)
    ]
    return {
        "after_event_id": after_event_id,
        "head_event_id": head_id(conn),
        "total_events": len(rows),
        "by_kind": dict(sorted(by_kind.items())),
        "hidden_events": sum(r[2] for r in rows),
        "by_chat": dict(sorted(by_chat.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0))),
        "restored_events": restored,
        "chat_id": chat_id,
    }


def scope_fingerprint(
    conn: sqlite3.Connection,
    chat_id: int | None,
    *,
    upto: int | None = None,
    total: int | None = None,
) -> tuple[int, int]:
    """How many events the scope (a chat, or the whole log) holds, and its newest id.

    For the whole log the count is the log's kept count (``log_count``) less the
    tail past ``upto`` (a ``COUNT(*)`` with ``id <= ?`` would read every row);
    pass the count as ``total`` when the caller has it.
    """
    if chat_id is not None:
        where, args = "WHERE chat_id = ?", [chat_id]
        if upto is not None:
            where, args = f"{where} AND id <= ?", [*args, upto]
        count, newest = conn.execute(
            f"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM event_log {where}", args
        ).fetchone()
        return count, newest
    count = total if total is not None else log_count(conn)
    if upto is None:
        return count, conn.execute("SELECT COALESCE(MAX(id), 0) FROM event_log").fetchone()[0]
    count -= conn.execute("SELECT COUNT(*) FROM event_log WHERE id > ?", (upto,)).fetchone()[0]
    newest = conn.execute(
        "SELECT COALESCE(MAX(id), 0) FROM event_log WHERE id <= ?", (upto,)
    ).fetchone()[0]
    return count, newest


def chat_cut_plan(
    conn: sqlite3.Connection, after_event_id: int, chat_id: int
) -> tuple[list[int], list[tuple[int, int]], int]:
    """What a rewind of a chat removes: the ids, the retirements it undoes, where to refold.

    The retirements are (id, superseded_by) of events outside the removed set
    retired by one in it; the refold starts at the first event whose
    visibility changes (or after the projection's position, if that is lower).
    """
    ids = removed_ids(conn, after_event_id, chat_id)
    back = [(r[0], r[3]) for r in retired_by(conn, ids)] if ids else []
    start = min([*ids[:1], *(b[0] for b in back), get_meta(conn, "projected_at") + 1])
    return ids, back, start


def touched_plan(
    conn: sqlite3.Connection, ids: list[int], back: list[tuple[int, int]], start: int
) -> Refold | None:
    """The touched refold of the cut ``chat_cut_plan`` named, or None when it cannot be used.

    It can when no event comes back (no retirement undone) and the rollback
    log reaches ``start`` with the tables at the log's head. Reads only, so it
    runs before the record is written (which then holds what it changes).
    """
    if not ids or back or not can_refold_touched(conn, start, head_id(conn)):
        return None
    return plan_touched(conn, ids, start)


def cut_chat(
    conn: sqlite3.Connection,
    ids: list[int],
    back: list[tuple[int, int]],
    start: int,
    refold: Refold | None,
) -> int:
    """Remove the events ``chat_cut_plan`` named, undo their retirements; return how many.

    Runs inside the caller's transaction, after its record or snapshot;
    ``refold`` is ``touched_plan``'s.
    """
    if not ids:
        return 0
    text = json.dumps(ids)
    conn.execute(
        f"UPDATE event_log SET hidden = 0, superseded_by = NULL "
        f"WHERE {retired()} AND superseded_by IN {IDS}",
        (text,),
    )
    conn.execute(f"DELETE FROM event_log WHERE id IN {IDS}", (text,))
    if refold is not None:  # only the rows the removed events changed, and what followed
        apply_touched(conn, refold)
    else:  # an event comes back, or the rollback log does not reach: from the first change
        reproject_from(conn, start, head_id(conn))
    return len(ids)


def state_after_chat_rewind(
    conn: sqlite3.Connection, after_event_id: int, chat_id: int
) -> dict[str, pd.DataFrame]:
    """Every projected table as a rewind of ``chat_id`` would leave it, without touching it.

    The log without the removed set, with what those events retired visible
    again, folded from scratch in memory (the shape of ``state_at``).
    """
    with atomic(conn, write=False):
        chat = check_chat_point(conn, after_event_id, chat_id)
        text = json.dumps(removed_ids(conn, after_event_id, chat))
        rows = conn.execute(
            "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log "
            f"WHERE id NOT IN {IDS} AND ({live()} OR superseded_by IN {IDS}) "
            "ORDER BY id",
            (text, text),
        ).fetchall()
    sink = MemorySink()
    apply_rows(sink, rows, effects())
    return sink_frames(sink)
