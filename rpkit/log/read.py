"""Reading single events from the log: by id, as a live turn, a chat, and the next free chat id."""

from __future__ import annotations

import json

from ..errors import AlreadyRetiredError, ChatIdError, EventIdError, NotATurnError, UnknownChatError
from ..kinds import CHAT_CREATING, TURN_KINDS, Event
from ..store import check_event_id, is_id
from ..store.sqlite import sqlite3


def get_event(conn: sqlite3.Connection, event_id: object) -> tuple[Event, int | None]:
    """The event with ``event_id`` and its ``superseded_by``; raise if there is none."""
    event_id = check_event_id(conn, event_id)
    row = conn.execute(
        "SELECT id, ts, chat_id, kind, payload, cause_id, superseded_by FROM event_log WHERE id = ?",
        (event_id,),
    ).fetchone()
    if row is None:
        raise EventIdError(
            f"there is no event {event_id}: a rewind removed it; pick an id that frames.events(conn) lists"
        )
    return Event(*row[:4], json.loads(row[4]), row[5]), row[6]


def get_turn(conn: sqlite3.Connection, event_id: object, action: str) -> tuple[Event, int | None]:
    """The turn ``event_id`` (live or retired) and its ``superseded_by``."""
    ev, superseded_by = get_event(conn, event_id)
    if ev.kind not in TURN_KINDS:
        raise NotATurnError(
            f"cannot {action} event {event_id}: it is of kind {ev.kind!r}, not a user or assistant turn"
        )
    return ev, superseded_by


def live_turn(conn: sqlite3.Connection, event_id: object, action: str) -> Event:
    """The visible turn ``event_id``, or an error saying why it cannot be ``action``-ed."""
    ev, superseded_by = get_turn(conn, event_id, action)
    if superseded_by is not None:
        raise AlreadyRetiredError(
            f"cannot {action} turn {event_id}: it was already retired by event {superseded_by}; "
            f"{action} the turn that replaced it instead"
        )
    return ev


def next_chat_id(conn: sqlite3.Connection) -> int:
    """A chat id no event has used yet."""
    return conn.execute("SELECT COALESCE(MAX(chat_id), 0) + 1 FROM event_log").fetchone()[0]


def chat_created_at(
    conn: sqlite3.Connection, chat_id: object, *, other: str = ""
) -> tuple[int, int]:
    """``chat_id`` as an int and the id of the event that created it: the one chat check.

    Raises ``ChatIdError`` for a value that is not an int and
    ``UnknownChatError`` for an int no chat has; ``other`` names what else the
    caller takes (``"None for a global rewind"``).
    """
    instead = f", or {other}" if other else ""
    if not is_id(chat_id):
        raise ChatIdError(
            f"chat_id must be an int{' or None' if other else ''}, not "
            f"{type(chat_id).__name__} {chat_id!r}; pass a chat id from "
            f"frames.chats(conn)['chat_id']{instead}"
        )
    chat_id = int(chat_id)
    marks = ", ".join("?" * len(CHAT_CREATING))
    row = conn.execute(
        f"SELECT MIN(id) FROM event_log WHERE chat_id = ? AND kind IN ({marks})",
        (chat_id, *CHAT_CREATING),
    ).fetchone()
    if row[0] is None:
        known = [r[0] for r in conn.execute("SELECT id FROM chats ORDER BY id")]
        raise UnknownChatError(
            f"there is no chat {chat_id} in this history; pick one of {known} "
            f"(frames.chats(conn) lists them){instead}"
        )
    return chat_id, row[0]


def check_chat(conn: sqlite3.Connection, chat_id: object) -> int:
    """``chat_id`` as an int if the history has that chat; refuse it otherwise."""
    return chat_created_at(conn, chat_id)[0]
