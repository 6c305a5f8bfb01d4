"""Edits, regenerations and hides: a new event that retires the old turn.

The old turn and everything derived from it stay in the log, retired
(``hidden = 1, superseded_by = <new id>``), so a rewind to before the edit
brings them back.
"""

from __future__ import annotations

from ..errors import NotATurnError, PayloadError
from ..kinds import COPIED_FROM, KINDS
from ..store.sqlite import sqlite3
from .append import append_replacing
from .read import live_turn


def _revise(conn: sqlite3.Connection, event_id: int, text: str, how: str, ts: object) -> int:
    old = live_turn(conn, event_id, how)
    if not isinstance(text, str):
        raise PayloadError(
            f"the new text of turn {event_id} must be a string, not {type(text).__name__}",
            kind=old.kind,
            field="text",
        )
    # A revised copy of a forked turn is no longer a copy: it is classified anew.
    revised = {"text", COPIED_FROM, *(f.name for f in KINDS[old.kind].revision)}
    payload = {k: v for k, v in old.payload.items() if k not in revised}
    payload.update(text=text, revision=how, replaces=old.id)
    return append_replacing(conn, old.kind, payload, replaces=[old.id], chat_id=old.chat_id, ts=ts)


def edit_turn(conn: sqlite3.Connection, event_id: int, text: str, *, ts: object = None) -> int:
    """Replace a turn's text; the edit takes the old turn's place in the transcript."""
    return _revise(conn, event_id, text, "edit", ts)


def regenerate_turn(
    conn: sqlite3.Connection, event_id: int, text: str, *, ts: object = None
) -> int:
    """Replace a bot's reply with a regenerated one (assistant turns only)."""
    old = live_turn(conn, event_id, "regenerate")
    if KINDS[old.kind].speaker is None:  # only a bot's turn is regenerated
        raise NotATurnError(
            f"cannot regenerate event {event_id}: it is of kind {old.kind!r}; only assistant turns "
            "are regenerated (use edit_turn for your own turns)"
        )
    return _revise(conn, event_id, text, "regenerate", ts)


def hide_turn(conn: sqlite3.Connection, event_id: int, *, ts: object = None) -> int:
    """Retire a turn without a replacement; returns the ``turn_hidden`` event id."""
    old = live_turn(conn, event_id, "hide")
    return append_replacing(conn, "turn_hidden", {"target": old.id}, chat_id=old.chat_id, ts=ts)
