"""Refolding only what a removal touched: the rows the removed events changed, and onward.

After a per-chat rewind deletes some events (and un-retires none), most rows
are as they were: only the rows the removed events wrote can differ, and then
the rows of later events that read or write those. ``refold_touched`` walks
the rollback log from the first removed event, keeping a set of *dirty* rows
(their new value differs from the one they had at that point before):

* a removed event: each row it wrote is dirty if its value before the event
  (the new one) differs from its value after it (before the removal);
* a kept event that writes a dirty row, or reads a table that holds one (its
  kind's ``reads``; a kind that declares none is taken to read everything) is
  folded again on the new values; each row it writes is then dirty or clean
  again by the same comparison;
* every other event is skipped: it reads and writes rows as before.

The dirty rows are written once at the end, and the folded events' rollback
entries replaced, so every other row, of every other chat, is untouched.
Values before and after each event come from the rollback log itself (each
entry holds the row as it was before its event), so nothing is read twice.
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

from ..errors import RpkitWarning
from ..kinds import KINDS, Event, touch_chat
from ..store import get_meta, live, set_meta
from ..store.schema import PROJECTED
from ..store.sqlite import sqlite3
from .codec import decode, dumps, row_from_json, row_json
from .rollback import prune_rollback, write_rollback
from .sink import upsert
from .tables import all_codes, table_code

Key = tuple[str, str]  # (table, the key as the rollback log writes it)


class _Overlay:
    """The sink one refolded event sees: dirty rows' new values over the old state."""

    def __init__(self, walk: _Walk, event_id: int) -> None:
        self.walk, self.event_id = walk, event_id
        self.written: dict[Key, dict[str, Any] | None] = {}
        self.entries: list[tuple[int, str, tuple, dict[str, Any] | None]] = []

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        k = (table, dumps(key))
        if k in self.written:
            return self.written[k]
        return self.walk.new_before(k, self.event_id)

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = self.walk.key_of[table](row)
        self.entries.append((self.event_id, table, key, self.get(table, key)))
        self.written[(table, dumps(key))] = row

    def patch(self, table: str, key: tuple, changes: dict[str, Any]) -> None:
        old = self.get(table, key)
        if old is not None:
            self.put(table, {**old, **changes})


class _Walk:
    """The rollback log from ``start`` on, indexed by event and by row."""

    def __init__(self, conn: sqlite3.Connection, start: int) -> None:
        self.conn = conn
        self.by_event: dict[int, list[Key]] = {}
        self.by_key: dict[Key, tuple[list[int], list[str | None]]] = {}
        for event_id, table, key, old in conn.execute(
            "SELECT event_id, tbl, key, old FROM projection_undo WHERE event_id >= ? "
            "ORDER BY event_id, seq",
            (start,),
        ):
            if ", " in key:  # written by json.dumps (an older rpkit, a huge int): as orjson does
                key = dumps(decode(key))
            k = (table, key)
            self.by_event.setdefault(event_id, []).append(k)
            ats, olds = self.by_key.setdefault(k, ([], []))
            ats.append(event_id)
            olds.append(old)
        self.dirty: dict[Key, dict[str, Any] | None] = {}
        self.now: dict[Key, str | None] = {}  # rows read from the tables, by key
        self.key_of = {name: code.key_of for name, code in all_codes().items()}

    def old_after(self, k: Key, event_id: int) -> str | None:
        """The row's value (JSON text) after ``event_id`` before the removal."""
        found = self.by_key.get(k)
        if found is not None:
            i = bisect_right(found[0], event_id)
            if i < len(found[0]):
                return found[1][i]
        if k not in self.now:
            table, key = k
            values = self.conn.execute(table_code(table).select_one, decode(key)).fetchone()
            self.now[k] = None if values is None else dumps(values)
        return self.now[k]

    def old_before(self, k: Key, event_id: int) -> str | None:
        return self.old_after(k, event_id - 1)

    def new_before(self, k: Key, event_id: int) -> dict[str, Any] | None:
        if k in self.dirty:
            return self.dirty[k]
        return row_from_json(k[0], self.old_before(k, event_id))

    def settle(self, k: Key, event_id: int, new: dict[str, Any] | None) -> None:
        """``k`` is ``new`` after ``event_id``: dirty unless that is what it was."""
        if row_json(k[0], new) == self.old_after(k, event_id):
            self.dirty.pop(k, None)
        else:
            self.dirty[k] = new


def _readers(dirty: Iterable[Key]) -> set[str]:
    return {t for t, _ in dirty}


def _reads_dirty(kind: str, dirty_tables: set[str], warned: set[str]) -> bool:
    spec = KINDS.get(kind)
    reads = spec.reads if spec is not None else ()
    if reads is None:
        if kind not in warned:
            warned.add(kind)
            warnings.warn(
                f"kind {kind!r} declares no reads, so a per-chat rewind refolds each {kind!r} "
                "event after it as if it read every table (correct, slower); declare "
                "register_kind(..., reads=(...)) to skip them",
                RpkitWarning,
                stacklevel=6,
            )
        return bool(dirty_tables)
    return bool(dirty_tables.intersection(reads))


def refold_touched(conn: sqlite3.Connection, removed: list[int], start: int, head: int) -> int:
    """Bring the tables to the log without ``removed`` (already deleted); return events folded.

    ``start`` is the first removed id; the rollback log must reach back to it,
    the tables must show the log as it was (``projected_at``, before the
    deletion) and no event may have come back by the removal (no un-retirement).
    """
    walk = _Walk(conn, start)
    gone = set(removed)
    undeclared = [n for n, k in KINDS.items() if k.reads is None or k.reads]
    readers: dict[int, tuple] = {}
    if undeclared:
        marks = ", ".join("?" * len(undeclared))
        for row in conn.execute(
            "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log "
            f"WHERE id >= ? AND {live()} AND kind IN ({marks})",
            (start, *undeclared),
        ):
            readers[row[0]] = row
    order = sorted(set(walk.by_event) | gone | set(readers))
    folded: list[int] = []
    entries: list[tuple[int, str, tuple, dict[str, Any] | None]] = []
    warned: set[str] = set()
    for event_id in order:
        wrote = walk.by_event.get(event_id, [])
        if event_id in gone:
            for k in wrote:
                walk.settle(k, event_id, walk.new_before(k, event_id))
            continue
        if not walk.dirty:
            continue
        row = readers.get(event_id)
        kind = row[3] if row is not None else None
        touches_dirty = any(k in walk.dirty for k in wrote)
        if not touches_dirty and (
            kind is None or not _reads_dirty(kind, _readers(walk.dirty), warned)
        ):
            continue
        if row is None:
            row = conn.execute(
                "SELECT id, ts, chat_id, kind, payload, cause_id, superseded_by FROM event_log "
                "WHERE id = ?",
                (event_id,),
            ).fetchone()
            if row is None or row[6] is not None:
                continue  # retired: no fold sees it
            row = row[:6]
        sink = _Overlay(walk, event_id)
        ev = Event(row[0], row[1], row[2], row[3], decode(row[4]), row[5])
        spec = KINDS.get(ev.kind)
        (spec.effect if spec is not None and spec.effect else touch_chat)(sink, ev)
        for k in dict.fromkeys([*wrote, *sink.written]):
            new = sink.written[k] if k in sink.written else walk.new_before(k, event_id)
            walk.settle(k, event_id, new)
        folded.append(event_id)
        entries.extend(sink.entries)
    _write(conn, walk.dirty, [*removed, *folded], entries)
    set_meta(conn, "projected_at", head)
    prune_rollback(conn, head)
    return len(folded)


def _write(
    conn: sqlite3.Connection,
    dirty: dict[Key, dict[str, Any] | None],
    replaced: list[int],
    entries: list[tuple[int, str, tuple, dict[str, Any] | None]],
) -> None:
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for name in reversed(PROJECTED):
        gone = [decode(k) for (table, k), row in dirty.items() if table == name and row is None]
        if gone:
            conn.executemany(table_code(name).delete_one, gone)
    for name in PROJECTED:
        rows = [row for (table, _), row in dirty.items() if table == name and row is not None]
        if rows:
            upsert(conn, name, rows)
    conn.execute(
        "DELETE FROM projection_undo WHERE event_id IN (SELECT value FROM json_each(?))",
        (dumps(replaced),),
    )
    write_rollback(conn, entries)


def can_refold_touched(conn: sqlite3.Connection, start: int, head_before: int) -> bool:
    """Whether the rollback log reaches ``start`` and the tables show the log at its head."""
    return start > get_meta(conn, "undo_floor") and get_meta(conn, "projected_at") == head_before
