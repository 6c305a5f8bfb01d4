"""The rollback log: what each projection write replaced, for the newest events.

A rewind, an edit of an old turn or ``state_at`` rolls the tables back to
just before the first event whose visibility changes, then folds forward.
Entries are kept for the newest ``max(ROLLBACK_TAIL, ROLLBACK_TAIL_FRACTION)`` events;
older ones are pruned as the log grows, so the rollback log (and every snapshot)
stays proportional to the recent past, and a deeper rewind rebuilds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..gcpause import paused_gc
from ..store import get_meta, retired_between, set_meta
from ..store.sqlite import sqlite3
from .codec import decode, dumps, row_from_json, row_json
from .tables import all_codes

# A full rebuild keeps rollback entries for this many newest events (at least), so a
# rewind of the recent past right after a rebuild or an import is cheap.
ROLLBACK_TAIL = 50_000
ROLLBACK_TAIL_FRACTION = 0.10
# Appends prune the rollback log once the floor can move up by this many events.
ROLLBACK_PRUNE_STEP = 4096

RollbackEntry = tuple[int, str, tuple, dict[str, Any] | None]


def write_rollback(conn: sqlite3.Connection, entries: list[RollbackEntry]) -> None:
    """Store rollback entries (event id, table, key, the row it replaced or None)."""
    if entries:
        codes = all_codes()
        with paused_gc():
            conn.executemany(
                "INSERT INTO projection_undo(event_id, tbl, key, old) VALUES (?, ?, ?, ?)",
                [(e, t, dumps(k), row_json(codes[t], old)) for e, t, k, old in entries],
            )


def earliest(entries: Iterable[tuple[str, tuple, Any]]) -> Iterator[tuple[str, tuple, Any]]:
    """The first entry of each (table, key), in order of first appearance."""
    seen: dict[tuple[str, tuple], Any] = {}
    for table, key, old in entries:
        seen.setdefault((table, key), old)
    for (table, key), old in seen.items():
        yield table, key, old


def rollback_entries(conn: sqlite3.Connection, since: int) -> Iterator[tuple[str, tuple, Any]]:
    """The earliest rollback entry of each row written by events ``>= since``, in log order.

    Rolling back to just before ``since`` needs, per row, only what the first
    write at or after ``since`` replaced; later entries are skipped before they
    are decoded, so a rewind reads the tail it undoes, not every write in it.
    """
    first: dict[tuple[str, str], str | None] = {}
    for table, key, old in conn.execute(
        # (event_id, seq) is the order the entries were written in, and the index's
        # order: ORDER BY seq alone made SQLite scan the whole table.
        "SELECT tbl, key, old FROM projection_undo WHERE event_id >= ? ORDER BY event_id, seq",
        (since,),
    ):
        if (table, key) not in first:
            first[(table, key)] = old
    seen: set[tuple[str, tuple]] = set()
    for (table, key), old in first.items():
        decoded = (table, tuple(decode(key)))
        if decoded not in seen:  # the same key written as different JSON text
            seen.add(decoded)
            yield table, decoded[1], row_from_json(table, old)


def rollback_floor_for(head: int) -> int:
    """The rollback floor that keeps the newest ``max(ROLLBACK_TAIL, ROLLBACK_TAIL_FRACTION)`` events."""
    return max(0, min(head - ROLLBACK_TAIL, int(head * (1 - ROLLBACK_TAIL_FRACTION))))


def prune_if_due(conn: sqlite3.Connection, event_id: int) -> None:
    """After an append: prune the rollback log every ``ROLLBACK_PRUNE_STEP`` events."""
    if event_id and event_id % ROLLBACK_PRUNE_STEP == 0:
        prune_rollback(conn, event_id)


def prune_rollback(conn: sqlite3.Connection, head: int) -> None:
    """Drop rollback entries older than the kept tail once the floor can move a step."""
    floor = rollback_floor_for(head)
    if floor - get_meta(conn, "undo_floor") >= ROLLBACK_PRUNE_STEP:
        conn.execute("DELETE FROM projection_undo WHERE event_id <= ?", (floor,))
        set_meta(conn, "undo_floor", floor)


def rollback_point(conn: sqlite3.Connection, target: int) -> int:
    """The first event id whose state differs between the projection and ``target``.

    Everything below it is projected identically at both points, so the tables
    can be rolled back to just before it and folded forward to ``target``.
    """
    current = get_meta(conn, "projected_at")
    lo, hi = min(current, target), max(current, target)
    row = conn.execute(
        f"SELECT MIN(id) FROM event_log WHERE id <= ? AND {retired_between()}",
        (lo, lo, hi),
    ).fetchone()
    return min(lo + 1, row[0]) if row[0] is not None else lo + 1
