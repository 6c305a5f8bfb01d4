"""Chats as a tree: lineage, fork points, and two chats compared from where they part."""

from __future__ import annotations

import orjson
import pandas as pd

from ..kinds import COPIED_FROM, EDGE_UPDATE
from ..log import check_chat, transcript_places
from ..store import atomic, retired
from ..store.sqlite import sqlite3
from .affinity import pair_label
from .columns import TURNS, id_array, string_array, utc_times
from .transcript import turns

CHAT_COLUMNS = [
    "chat_id",
    "title",
    "parent_chat_id",
    "forked_from_event_id",
    "fork_position",
    "root_chat_id",
    "depth",
    "forks",
    "turns",
    "retired_turns",
    "created_event_id",
    "created_at",
    "last_event_id",
]


def _turn_rows(conn: sqlite3.Connection, chat_id: int) -> list[tuple]:
    marks = ", ".join("?" * len(TURNS))
    return conn.execute(
        f"SELECT id, kind, superseded_by FROM event_log WHERE chat_id = ? AND kind IN ({marks}) "
        "ORDER BY id",
        (chat_id, *TURNS),
    ).fetchall()


def fork_position(rows: list[tuple], turn_id: int) -> int | None:
    """The place a fork at ``turn_id`` took in the transcript ``rows`` now (None: gone)."""
    group, first_of, position = transcript_places(rows)
    if turn_id not in group:
        return None
    place = first_of[group[turn_id]]
    return 1 + sum(1 for end in position if first_of[end] < place)


def chats(conn: sqlite3.Connection) -> pd.DataFrame:
    """One row per chat with its lineage, turn counts and fork point, in id order.

    ``parent_chat_id`` and ``forked_from_event_id`` are NA for a root chat;
    ``fork_position`` is the place in the parent's transcript (as it reads now)
    the fork started at; ``root_chat_id`` and ``depth`` place the chat in its
    tree; ``forks`` counts its direct forks; ``turns`` its live turns and
    ``retired_turns`` the alternatives that edits, regenerations and hides retired.
    """
    with atomic(conn, write=False):
        rows = conn.execute(
            "SELECT c.id, c.title, c.parent_chat_id, c.forked_from_event_id, c.created_event_id, "
            "c.created_at, s.turn_count, s.last_event_id "
            "FROM chats c JOIN chat_state s ON s.chat_id = c.id ORDER BY c.id"
        ).fetchall()
        marks = ", ".join("?" * len(TURNS))
        retired_counts = dict(
            conn.execute(
                f"SELECT chat_id, COUNT(*) FROM event_log WHERE kind IN ({marks}) "
                f"AND {retired()} GROUP BY chat_id",
                TURNS,
            )
        )
        parents = {r[2] for r in rows if r[2] is not None}
        places = {p: _turn_rows(conn, p) for p in parents}
    parent_of = {r[0]: r[2] for r in rows}

    def root_and_depth(chat: int) -> tuple[int, int]:
        depth = 0
        while parent_of.get(chat) is not None:
            chat, depth = parent_of[chat], depth + 1
        return chat, depth

    tree = [root_and_depth(r[0]) for r in rows]
    forks = pd.Series([r[2] for r in rows]).value_counts()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    return pd.DataFrame(
        {
            "chat_id": id_array(cols[0]),
            "title": string_array(cols[1]),
            "parent_chat_id": id_array(cols[2]),
            "forked_from_event_id": id_array(cols[3]),
            "fork_position": id_array(
                [None if r[2] is None else fork_position(places[r[2]], r[3]) for r in rows]
            ),
            "root_chat_id": id_array([t[0] for t in tree]),
            "depth": id_array([t[1] for t in tree]),
            "forks": id_array([int(forks.get(r[0], 0)) for r in rows]),
            "turns": id_array(cols[6]),
            "retired_turns": id_array([retired_counts.get(r[0], 0) for r in rows]),
            "created_event_id": id_array(cols[4]),
            "created_at": utc_times(cols[5]),
            "last_event_id": id_array(cols[7]),
        },
        columns=CHAT_COLUMNS,
    )


def tree_order(tree: pd.DataFrame) -> list[int]:
    """The chat ids of ``chats(conn)`` depth first: each chat before its forks (by place)."""
    children: dict[int | None, list[tuple[int, int]]] = {}
    for r in tree.itertuples():
        parent = None if pd.isna(r.parent_chat_id) else int(r.parent_chat_id)
        place = 0 if pd.isna(r.fork_position) else int(r.fork_position)
        children.setdefault(parent, []).append((place, int(r.chat_id)))
    order: list[int] = []
    stack = sorted(children.get(None, []), reverse=True)
    while stack:
        _, chat = stack.pop()
        order.append(chat)
        stack.extend(sorted(children.get(chat, []), reverse=True))
    return order


def compare_transcripts(conn: sqlite3.Connection, a: int, b: int) -> pd.DataFrame:
    """Two chats' live transcripts side by side, from the first place where they differ.

    For a fork and its parent (or two forks of one chat) that is their fork
    point. Columns: ``position``, then ``speaker`` and ``text`` of each chat
    (suffixes ``_a`` and ``_b``; NA where one chat has no turn at that place).
    """
    a, b = check_chat(conn, a), check_chat(conn, b)
    with atomic(conn, write=False):
        ta = turns(conn, a, include_retired=False)[["position", "kind", "speaker", "text"]]
        tb = turns(conn, b, include_retired=False)[["position", "kind", "speaker", "text"]]
    merged = ta.merge(tb, on="position", how="outer", suffixes=("_a", "_b"))
    merged = merged.sort_values("position", kind="stable").reset_index(drop=True)
    same = (
        (merged["kind_a"].astype(object) == merged["kind_b"].astype(object))
        & (merged["speaker_a"] == merged["speaker_b"]).fillna(False)
        & (merged["text_a"] == merged["text_b"]).fillna(False)
    ).to_numpy(dtype=bool)
    first = int(same.argmin()) if not same.all() else len(same)
    out = merged.iloc[first:][["position", "speaker_a", "text_a", "speaker_b", "text_b"]]
    out = out.reset_index(drop=True)
    out.attrs.update(chats=(a, b), shared_turns=first)
    return out


def _source(conn: sqlite3.Connection, event_id: int, payload: dict) -> int:
    """The turn a copy stands for: follow ``forked_from`` to the first original."""
    while COPIED_FROM in payload:
        event_id = payload[COPIED_FROM]
        row = conn.execute("SELECT payload FROM event_log WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            break
        payload = orjson.loads(row[0])
    return event_id


def compare_affinity(conn: sqlite3.Connection, chat_ids: list[int]) -> pd.DataFrame:
    """Affinity along each chat compared: what each chat's transcript alone caused, turn by turn.

    For every live turn of each chat (a fork's copies stand for their
    originals), the ``edge_update`` events the turn caused, with each pair's
    running affinity along that chat. Columns: ``chat_id``, ``position``,
    ``turn_event_id``, ``event_id``, ``src``, ``dst``, ``pair``, ``delta``,
    ``affinity``.
    """
    chat_ids = [check_chat(conn, c) for c in chat_ids]
    records = []
    with atomic(conn, write=False):
        for chat in chat_ids:
            running: dict[tuple[str, str], float] = {}
            t = turns(conn, chat, include_retired=False)
            for position, turn_id in zip(t["position"], t["event_id"], strict=True):
                payload = orjson.loads(
                    conn.execute(
                        "SELECT payload FROM event_log WHERE id = ?", (int(turn_id),)
                    ).fetchone()[0]
                )
                source = _source(conn, int(turn_id), payload)
                for event_id, p in conn.execute(
                    "SELECT id, payload FROM event_log WHERE cause_id = ? AND kind = ? ORDER BY id",
                    (source, EDGE_UPDATE),
                ):
                    e = orjson.loads(p)
                    key = (e["src"], e["dst"])
                    running[key] = running.get(key, 0.0) + float(e["delta"])
                    records.append(
                        (
                            chat,
                            int(position),
                            int(turn_id),
                            event_id,
                            *key,
                            e["delta"],
                            running[key],
                        )
                    )
    cols = list(zip(*records, strict=True)) if records else [()] * 8
    return pd.DataFrame(
        {
            "chat_id": id_array(cols[0]),
            "position": id_array(cols[1]),
            "turn_event_id": id_array(cols[2]),
            "event_id": id_array(cols[3]),
            "src": string_array(cols[4]),
            "dst": string_array(cols[5]),
            "pair": string_array([pair_label(s, d) for s, d in zip(cols[4], cols[5], strict=True)]),
            "delta": pd.array(cols[6], dtype="float64"),
            "affinity": pd.array(cols[7], dtype="float64"),
        }
    )
