"""Appending to the event log: check, write, retire what is replaced, project.

Every append is atomic: a payload, reference or timestamp that does not fit is
refused before a row is written, and the projection moves in the same
transaction as the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..errors import AlreadyRetiredError, NotATurnError, PayloadError
from ..kinds import TURN_KINDS, Event
from ..projection import SqlSink, apply_event, move_to, settle_projection
from ..store import atomic, live, plain_id, set_meta
from ..store.sqlite import sqlite3
from .read import live_turn
from .validate import check_payload, check_references, normalize_ts, payload_json


def retire(conn: sqlite3.Connection, event_id: int, by: int) -> int:
    """Retire ``event_id`` and every live event derived from it; return how many."""
    cur = conn.execute(
        f"""
        WITH RECURSIVE derived(id) AS (
          SELECT ? UNION SELECT e.id FROM event_log e JOIN derived d ON e.cause_id = d.id
        )
        UPDATE event_log SET hidden = 1, superseded_by = ?
        WHERE id IN derived AND {live()} AND id < ?
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
    retries, sibling replies) enter the log.
    """
    spec = check_payload(kind, payload)
    stamp = normalize_ts(ts)
    replaces = list(replaces)
    with atomic(conn):
        settle_projection(conn)
        sink = SqlSink(conn)
        chat_id, cause_id = plain_id(chat_id), plain_id(cause_id)
        check_references(conn, sink, spec, payload, chat_id, cause_id)
        replaces = [live_turn(conn, old, "replace").id for old in replaces]
        if spec.retires is not None:
            replaces.append(plain_id(payload[spec.retires]))
        if not replaces:
            # A plain append changes nothing before it: fold just this event.
            new_id = _write(conn, sink, kind, payload, chat_id, cause_id, stamp, fold=True)
            sink.flush()
            set_meta(conn, "projected_at", new_id)
            return new_id
        new_id = _write(conn, sink, kind, payload, chat_id, cause_id, stamp, fold=False)
        for old in replaces:
            retire(conn, old, new_id)
        move_to(conn, new_id)
    return new_id


def _write(
    conn: sqlite3.Connection,
    sink: SqlSink,
    kind: str,
    payload: dict[str, Any],
    chat_id: int | None,
    cause_id: int | None,
    stamp: str,
    *,
    fold: bool,
) -> int:
    """Insert one checked event; with ``fold``, fold it into ``sink`` as the newest event."""
    text = payload_json(payload)
    new_id = conn.execute(
        "INSERT INTO event_log(ts, chat_id, kind, payload, cause_id) VALUES (?, ?, ?, ?, ?)",
        (stamp, chat_id, kind, text, cause_id),
    ).lastrowid
    if fold:
        apply_event(sink, Event(new_id, stamp, chat_id, kind, orjson.loads(text), cause_id))
    return new_id


def append_many(
    conn: sqlite3.Connection,
    events: Iterable[tuple],
) -> list[int]:
    """Append ``(kind, payload, chat_id, cause_id, ts)`` events in order; return their ids.

    The log and tables end as after one ``append`` each, in one transaction, but
    the changed rows and rollback entries are written once (for classifiers and
    importers). An event may carry a sixth element, ``replaces``: the positions
    in ``events`` of earlier turns it retires, as ``append_replacing`` would (an
    importer's alternatives, each followed by the turn that replaced it). A turn
    retired within the batch is written but never folded: the tables show what
    the log shows at its end. Events that retire others already in the log go
    through ``append_replacing``.
    """
    batch = list(events)
    retired_by = _retired_in_batch(batch)
    ids: list[int] = []
    with atomic(conn):
        settle_projection(conn)
        sink = SqlSink(conn)
        for pos, (kind, payload, chat_id, cause_id, ts, *_replaces) in enumerate(batch):
            spec = check_payload(kind, payload)
            if spec.retires is not None:
                raise PayloadError(
                    f"append_many takes events that retire nothing; a {kind!r} retires the "
                    f"event its {spec.retires!r} names: append it with append()",
                    kind=kind,
                    field=spec.retires,
                )
            stamp = normalize_ts(ts)
            chat_id, cause_id = plain_id(chat_id), plain_id(cause_id)
            check_references(conn, sink, spec, payload, chat_id, cause_id)
            fold = pos not in retired_by
            ids.append(_write(conn, sink, kind, payload, chat_id, cause_id, stamp, fold=fold))
        for pos, by in retired_by.items():
            retire(conn, ids[pos], ids[by])
        if ids:
            sink.flush()
            set_meta(conn, "projected_at", ids[-1])
    return ids


def _retired_in_batch(batch: list[tuple]) -> dict[int, int]:
    """Position of each event the batch retires -> position of the event retiring it."""
    retired_by: dict[int, int] = {}
    for pos, event in enumerate(batch):
        for old in event[5] if len(event) > 5 else ():
            if not (isinstance(old, int) and not isinstance(old, bool) and 0 <= old < pos):
                raise PayloadError(
                    f"event {pos} of the batch replaces {old!r}: replaces lists the positions "
                    f"of earlier events of the same batch (0 to {pos - 1})",
                    kind=event[0],
                    field="replaces",
                )
            if batch[old][0] not in TURN_KINDS:
                raise NotATurnError(
                    f"event {pos} of the batch cannot replace event {old} of it: that one is of "
                    f"kind {batch[old][0]!r}, not a user or assistant turn"
                )
            if old in retired_by:
                raise AlreadyRetiredError(
                    f"event {pos} of the batch cannot replace event {old} of it: event "
                    f"{retired_by[old]} of the batch already does; replace that one instead"
                )
            retired_by[old] = pos
    return retired_by


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
