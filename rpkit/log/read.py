"""Reading single events from the log: by id, as a live turn, and the next free chat id."""

from __future__ import annotations

import json
import sqlite3

from ..errors import AlreadyRetiredError, EventIdError, NotATurnError
from ..kinds import TURN_KINDS, Event
from ..store import check_event_id


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
