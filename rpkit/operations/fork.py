"""Fork from here: a new chat that reads as its parent reads now, up to one turn's place.

The fork's turns are new events (same kind, text, speaker and time) whose
payload names the turn they copy (``forked_from``). Forking at a retired turn
puts that original at its place: "what if this edit had not happened". What
the copied turns caused (affinity, memories) is not copied, since the world
already holds it, and ``classify`` skips the copies. The fork names its parent
in its ``chat_created`` payload and shares no ``cause_id`` with it, so a
rewind of the parent never touches the fork.
"""

from __future__ import annotations

import json

import orjson

from ..errors import ForkError
from ..kinds import CHAT_CREATED, CHAT_CREATING, COPIED_FROM, KINDS, TURN_KINDS
from ..log import append, get_turn, next_chat_id, payload_json, transcript_places
from ..projection import reproject_from, settle_projection
from ..store import atomic, head_id
from ..store.sqlite import sqlite3


def fork_rows(conn: sqlite3.Connection, chat_id: int, turn_id: int) -> list[tuple]:
    """The turns a fork at ``turn_id`` copies, in reading order: (id, ts, kind, payload).

    The live turns whose place comes before the turn's, then the turn itself.
    Places are worked out from ids, kinds and retirements alone; only the
    copied turns' payloads are read.
    """
    marks = ", ".join("?" * len(TURN_KINDS))
    rows = conn.execute(
        f"SELECT id, kind, superseded_by FROM event_log "
        f"WHERE chat_id = ? AND kind IN ({marks}) ORDER BY id",
        (chat_id, *sorted(TURN_KINDS)),
    ).fetchall()
    group, first_of, position = transcript_places(rows)
    place = first_of[group[turn_id]]
    wanted = [end for _, end in sorted((first_of[e], e) for e in position if first_of[e] < place)]
    wanted.append(turn_id)
    found = {
        r[0]: r
        for r in conn.execute(
            "SELECT id, ts, kind, payload FROM event_log "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
    }
    return [found[i] for i in wanted]


def _copy(kind: str, payload_text: str, original: int) -> str:
    """A turn's payload as its fork copy has it: no revision fields, naming the original.

    The original passed the checks when it was appended; dropping revision
    fields and adding an id keeps it valid.
    """
    payload = orjson.loads(payload_text)
    for f in KINDS[kind].revision:
        payload.pop(f.name, None)
    payload[COPIED_FROM] = original
    return payload_json(payload)


def fork_chat(
    conn: sqlite3.Connection,
    turn_event_id: int,
    *,
    title: str | None = None,
    ts: object = None,
) -> int:
    """Fork a new chat from a turn (live or retired); return the new chat's id.

    The new chat reads as the turn's chat reads now up to and including the
    turn's place, with the turn itself at that place. ``title`` defaults to the
    parent's title with the place it forked at; ``ts`` is the time of the new
    chat's ``chat_created`` (default: now); the copies keep their turns' times.
    """
    if title is not None and not isinstance(title, str):
        raise ForkError(
            f"title must be a string or None, not {type(title).__name__} {title!r}; "
            "e.g. fork_chat(conn, turn, title='What if')"
        )
    with atomic(conn, durable=True):
        settle_projection(conn)
        ev, _ = get_turn(conn, turn_event_id, "fork at")
        marks = ", ".join("?" * len(CHAT_CREATING))
        parent = json.loads(
            conn.execute(
                f"SELECT payload FROM event_log WHERE chat_id = ? AND kind IN ({marks}) "
                "ORDER BY id LIMIT 1",
                (ev.chat_id, *CHAT_CREATING),
            ).fetchone()[0]
        )
        copied = fork_rows(conn, ev.chat_id, ev.id)
        chat = next_chat_id(conn)
        created = append(
            conn,
            CHAT_CREATED,
            {
                "title": title
                if title is not None
                else f"{parent['title']} (fork at turn {len(copied)})",
                "bot_ids": parent["bot_ids"],
                "parent_chat_id": ev.chat_id,
                "forked_from_event_id": ev.id,
            },
            chat_id=chat,
            ts=ts,
        )
        conn.executemany(
            "INSERT INTO event_log(ts, chat_id, kind, payload) VALUES (?, ?, ?, ?)",
            [(ts, chat, kind, _copy(kind, payload, id_)) for id_, ts, kind, payload in copied],
        )
        reproject_from(conn, created + 1, head_id(conn))
    return chat
