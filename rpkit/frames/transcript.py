"""Transcripts: a chat's turns in reading order, retired ones flagged, and their places."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from ..dtypes import STRING
from ..kinds import KINDS
from ..log import check_chat, transcript_places
from ..operations import rewind_points
from ..store import atomic, live
from ..store.sqlite import sqlite3
from .columns import TURNS, id_array, query_cells, utc_times

TURN_COLUMNS = [
    "chat_id",
    "position",
    "event_id",
    "kind",
    "speaker",
    "text",
    "ts",
    "revision",
    "retired",
    "replaced_by",
    "replaced_how",
    "rewind_point",
]


def turns(conn: sqlite3.Connection, chat_id: int, *, include_retired: bool = True) -> pd.DataFrame:
    """The transcript of one chat, in reading order, retired turns included and flagged.

    ``position`` is the turn's place in the live transcript (1 to the chat's
    ``turn_count``). An edit or regeneration takes the place of the turn it
    replaced, and the retired turn shows that same position, with ``replaced_by``
    (the new turn's id) and ``replaced_how`` (``edit``, ``regenerate``, ``hide``
    or the replacing event's kind). A hidden turn, which nothing replaced, has no
    position. ``rewind_point`` is the ``after_event_id`` of "rewind to here":
    the turn and the events it caused are kept, the chat's next turn is not
    (``rpkit.rewind_point``); for a retired turn it is the moment the turn
    was still live.
    """
    with atomic(conn, write=False):
        chat_id = check_chat(conn, chat_id)
        return _transcript_frame(_records(conn, chat_id, include_retired))


def transcripts(conn: sqlite3.Connection, *, include_retired: bool = True) -> pd.DataFrame:
    """Every chat's transcript (``turns``), chat after chat by id, as one frame."""
    with atomic(conn, write=False):
        chats = [r[0] for r in conn.execute("SELECT id FROM chats ORDER BY id")]
        return _transcript_frame([r for c in chats for r in _records(conn, c, include_retired)])


def _records(conn: sqlite3.Connection, chat_id: int, include_retired: bool) -> list[tuple]:
    """One chat's transcript records, in reading order (``_transcript_frame`` takes them)."""
    rows = conn.execute(
        f"""
        SELECT e.id, e.ts, e.kind, e.payload, e.superseded_by, s.kind,
               json_extract(s.payload, '$.revision')
        FROM event_log e LEFT JOIN event_log s ON s.id = e.superseded_by
        WHERE e.chat_id = ? AND e.kind IN ({", ".join("?" * len(TURNS))})
        ORDER BY e.id
        """,
        (chat_id, *TURNS),
    ).fetchall()
    points = rewind_points(conn, chat_id)
    group, first_of, position = transcript_places((r[0], r[2], r[4]) for r in rows)
    records = []
    for event_id, ts, kind, payload, sup, sup_kind, sup_revision in rows:
        if not include_retired and sup is not None:
            continue
        p = orjson.loads(payload)
        if sup is None:
            how = None
        elif sup_kind in KINDS and KINDS[sup_kind].retires is not None:
            how = "hide"
        else:
            how = sup_revision or sup_kind
        records.append(
            (
                chat_id,
                position.get(group[event_id]),
                event_id,
                kind,
                KINDS[kind].speaker_in(p),
                p.get("text"),
                ts,
                p.get("revision"),
                sup is not None,
                sup,
                how,
                points.get(event_id),
                first_of[group[event_id]],
            )
        )
    records.sort(key=lambda r: (r[-1], r[2]))
    return records


def _transcript_frame(records: list[tuple]) -> pd.DataFrame:
    """Transcript records (in ``TURN_COLUMNS`` order, then a sort key) as a typed frame."""
    cols = list(zip(*records, strict=True)) if records else [()] * (len(TURN_COLUMNS) + 1)
    frame = pd.DataFrame(
        {
            "chat_id": id_array(cols[0]),
            "position": id_array(cols[1]),
            "event_id": id_array(cols[2]),
            "kind": pd.Categorical(cols[3], categories=list(TURNS)),
            "speaker": pd.array(cols[4], dtype=STRING),
            "text": pd.array(cols[5], dtype=STRING),
            "ts": utc_times(cols[6]),
            "revision": pd.array(cols[7], dtype=STRING),
            "retired": np.asarray(cols[8], dtype=bool),
            "replaced_by": id_array(cols[9]),
            "replaced_how": pd.array(cols[10], dtype=STRING),
            "rewind_point": id_array(cols[11]),
        }
    )
    return frame


def live_turn_positions(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the live turns (ascending) and each one's place in its chat's transcript."""
    cells = query_cells(
        conn,
        f"SELECT id, chat_id FROM event_log WHERE {live()} "
        f"AND kind IN ({', '.join('?' * len(TURNS))}) ORDER BY id",
        TURNS,
        2,
    )
    ids, chats = cells[:, 0].astype(np.int64), cells[:, 1].astype(np.int64)
    # Replacements take the place of the turn they replaced: the original's id.
    handed_on = dict(
        conn.execute(
            "SELECT s.id, e.id FROM event_log e JOIN event_log s ON s.id = e.superseded_by "
            f"WHERE s.kind = e.kind AND e.kind IN ({', '.join('?' * len(TURNS))}) "
            "ORDER BY e.id DESC",
            TURNS,
        )
    )
    place = ids.copy()
    if handed_on:
        replacing = np.flatnonzero(np.isin(ids, np.fromiter(handed_on, dtype=np.int64)))
        for i in replacing.tolist():
            original = int(ids[i])
            while original in handed_on:
                original = handed_on[original]
            place[i] = original
    # Position: 1 + the chat's live turns with an earlier place (ties: by id).
    order = np.lexsort((place, chats))
    first = np.ones(len(ids), dtype=bool)
    first[1:] = chats[order][1:] != chats[order][:-1]
    starts = np.flatnonzero(first)
    rank = np.arange(len(ids)) - np.repeat(starts, np.diff(np.append(starts, len(ids))))
    position = np.empty(len(ids), dtype=np.int64)
    position[order] = rank + 1
    return ids, position
