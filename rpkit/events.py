"""Appending to the event log: check, write, retire what is replaced, project.

Every append is atomic: a payload, reference or timestamp that does not fit is
refused before a row is written, and the projection moves in the same
transaction as the log.
"""

from __future__ import annotations

import json
import numbers
import sqlite3
from collections.abc import Iterable
from typing import Any

from .catalogue import TURN_KINDS, Kind, check_payload, normalize_ts
from .errors import (
    AlreadyRetiredError,
    EventIdError,
    NotATurnError,
    PayloadError,
    UnknownReferenceError,
)
from .projection import SqlSink, _loads, apply_event, move_to
from .registry import Event
from .store import atomic, get_meta, head_id, set_meta


def check_event_id(conn: sqlite3.Connection, value: object, *, what: str = "event id") -> int:
    """Return ``value`` if it is an int between 0 and the newest event id, else raise."""
    # numpy integers (ids read from a frame) are ints too; bools and floats are not.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise EventIdError(
            f"{what} must be an int, not {type(value).__name__} {value!r}; "
            "pass an event id such as those in events(conn)['id']"
        )
    value = int(value)
    head = head_id(conn)
    if value < 0:
        raise EventIdError(
            f"{what} {value} is negative; event ids start at 1 (0 means 'before all')"
        )
    if value > head:
        raise EventIdError(
            f"{what} {value} is past the newest event ({head}); pick an id from 0 to {head}"
        )
    return value


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


def live_turn(conn: sqlite3.Connection, event_id: object, action: str) -> Event:
    """The visible turn ``event_id``, or an error saying why it cannot be ``action``-ed."""
    ev, superseded_by = get_event(conn, event_id)
    if ev.kind not in TURN_KINDS:
        raise NotATurnError(
            f"cannot {action} event {event_id}: it is of kind {ev.kind!r}, not a user or assistant turn"
        )
    if superseded_by is not None:
        raise AlreadyRetiredError(
            f"cannot {action} turn {event_id}: it was already retired by event {superseded_by}; "
            f"{action} the turn that replaced it instead"
        )
    return ev


def next_chat_id(conn: sqlite3.Connection) -> int:
    """A chat id no event has used yet."""
    return conn.execute("SELECT COALESCE(MAX(chat_id), 0) + 1 FROM event_log").fetchone()[0]


def _plain_int(value: object) -> object:
    """A numpy integer (an id read from a frame) as a Python int; anything else as is."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _require(found: object, message: str) -> None:
    if not found:
        raise UnknownReferenceError(message)


def _check_references(
    conn: sqlite3.Connection,
    sink: SqlSink,
    spec: Kind,
    payload: dict[str, Any],
    chat_id: object,
    cause_id: object,
) -> None:
    kind = spec.name
    if chat_id is not None and (
        isinstance(chat_id, bool) or not isinstance(chat_id, numbers.Integral)
    ):
        raise PayloadError(
            f"chat_id must be an int or None, not {chat_id!r}", kind=kind, field="chat_id"
        )
    if kind == "chat_created":
        if chat_id is None or chat_id < 1:
            raise PayloadError(
                f"chat_created needs the new chat's id as chat_id= (got {chat_id!r}); "
                "next_chat_id(conn) gives a free one",
                kind=kind,
                field="chat_id",
            )
        used = conn.execute("SELECT 1 FROM event_log WHERE chat_id = ? LIMIT 1", (chat_id,))
        if used.fetchone():
            raise PayloadError(
                f"chat id {chat_id} is already used; next_chat_id(conn) gives a free one",
                kind=kind,
                field="chat_id",
            )
        for bot in payload["bot_ids"]:
            _require(
                isinstance(bot, str) and sink.get("bots", (bot,)),
                f"chat_created names bot {bot!r}, which does not exist; create it first "
                "with a bot_created event",
            )
    elif spec.chat == "required" and chat_id is None:
        raise PayloadError(
            f"a {kind} event belongs to a chat: pass chat_id=", kind=kind, field="chat_id"
        )
    elif spec.chat == "never" and chat_id is not None:
        raise PayloadError(
            f"a {kind} event is world-level: leave chat_id unset (got {chat_id})",
            kind=kind,
            field="chat_id",
        )
    elif chat_id is not None:
        _require(
            sink.get("chats", (chat_id,)),
            f"chat {chat_id} does not exist; create it with a chat_created event first",
        )

    if cause_id is not None:
        if isinstance(cause_id, bool) or not isinstance(cause_id, numbers.Integral):
            raise PayloadError(
                f"cause_id must be an int event id, not {cause_id!r}", kind=kind, field="cause_id"
            )
        row = conn.execute("SELECT superseded_by FROM event_log WHERE id = ?", (cause_id,))
        row = row.fetchone()
        _require(row, f"cause_id {cause_id} is not an event of this history")
        if row[0] is not None:
            raise AlreadyRetiredError(
                f"cause_id {cause_id} was retired by event {row[0]}; derive from the live turn"
            )

    p = payload
    if kind == "bot_created":
        if p["bot_id"] == "you" or sink.get("bots", (p["bot_id"],)):
            raise PayloadError(
                f"bot id {p['bot_id']!r} is taken; choose another", kind=kind, field="bot_id"
            )
    elif kind == "assistant_turn":
        _require(
            sink.get("bots", (p["bot_id"],)),
            f"assistant_turn names bot {p['bot_id']!r}, which does not exist",
        )
    elif kind == "container_created":
        if sink.get("containers", (p["container_id"],)):
            raise PayloadError(
                f"container id {p['container_id']} is taken; choose another",
                kind=kind,
                field="container_id",
            )
        if p.get("parent_id") is not None:
            _require(
                sink.get("containers", (p["parent_id"],)),
                f"parent container {p['parent_id']} does not exist; create it first",
            )
    elif kind in {"scene_started", "activity_logged"}:
        _require(
            sink.get("containers", (p["container_id"],)),
            f"container {p['container_id']} does not exist; create it with container_created first",
        )
    elif kind == "edge_update":
        if p["src"] == p["dst"]:
            raise PayloadError(
                f"edge_update from {p['src']!r} to itself; src and dst must differ",
                kind=kind,
                field="dst",
            )
    elif kind == "turn_hidden":
        target = live_turn(conn, p["target"], "hide")
        if target.chat_id != chat_id:
            raise PayloadError(
                f"turn {p['target']} belongs to chat {target.chat_id}, not {chat_id}",
                kind=kind,
                field="target",
            )


def _insert(
    conn: sqlite3.Connection,
    kind: str,
    payload: str,
    chat_id: int | None,
    cause_id: int | None,
    ts: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO event_log(ts, chat_id, kind, payload, cause_id) VALUES (?, ?, ?, ?, ?)",
        (ts, chat_id, kind, payload, cause_id),
    )
    return cur.lastrowid


def retire(conn: sqlite3.Connection, event_id: int, by: int) -> int:
    """Retire ``event_id`` and every live event derived from it; return how many."""
    cur = conn.execute(
        """
        WITH RECURSIVE derived(id) AS (
          SELECT ? UNION SELECT e.id FROM event_log e JOIN derived d ON e.cause_id = d.id
        )
        UPDATE event_log SET hidden = 1, superseded_by = ?
        WHERE id IN derived AND superseded_by IS NULL AND id < ?
        """,
        (event_id, by, by),
    )
    return cur.rowcount


def append_replacing(
    conn: sqlite3.Connection,
    kind: str,
    payload: dict[str, Any],
    *,
    replaces: Iterable[int] = (),
    chat_id: int | None = None,
    cause_id: int | None = None,
    ts: object = None,
) -> int:
    """Append an event that retires the live turns ``replaces`` (and what they caused).

    This is how edits, regenerations, hides and imported alternatives (swipes,
    branches) enter the log.
    """
    spec = check_payload(kind, payload)
    stamp = normalize_ts(ts)
    replaces = list(replaces)
    with atomic(conn):
        if get_meta(conn, "projected_at") != head_id(conn):
            move_to(conn, head_id(conn))  # another process appended without projecting
        sink = SqlSink(conn)
        chat_id, cause_id = _plain_int(chat_id), _plain_int(cause_id)
        _check_references(conn, sink, spec, payload, chat_id, cause_id)
        replaces = [live_turn(conn, old, "replace").id for old in replaces]
        text = json.dumps(payload, ensure_ascii=False)
        new_id = _insert(conn, kind, text, chat_id, cause_id, stamp)
        if kind == "turn_hidden":
            replaces.append(payload["target"])
        if not replaces:
            # A plain append changes nothing before it: fold just this event.
            apply_event(sink, Event(new_id, stamp, chat_id, kind, _loads(text), cause_id))
            sink.flush()
            set_meta(conn, "projected_at", new_id)
            return new_id
        for old in replaces:
            retire(conn, old, new_id)
        move_to(conn, new_id)
    return new_id


def append(
    conn: sqlite3.Connection,
    kind: str,
    payload: dict[str, Any],
    *,
    chat_id: int | None = None,
    cause_id: int | None = None,
    ts: object = None,
) -> int:
    """Check ``payload`` against ``kind``, write the event, project it; return its id.

    >>> bot = append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})  # doctest: +SKIP
    """
    return append_replacing(conn, kind, payload, chat_id=chat_id, cause_id=cause_id, ts=ts)
