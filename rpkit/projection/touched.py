"""Refolding only what a removal touched: the rows the removed events changed, and onward.

After a per-chat rewind deletes some events (and un-retires none), most rows
are as they were: only the rows the removed events wrote can differ, and then
the rows of later events that read or write those. ``plan_touched`` walks
the rollback log from the first removed event (before anything is deleted, so
the rewind's record can hold what it changes), keeping a set of *dirty* rows
(their new value differs from the one they had at that point before):

* a removed event: each row it wrote is dirty if its value before the event
  (the new one) differs from its value after it (before the removal);
* a kept event that writes a dirty row, or reads a table that holds one (its
  kind's ``reads``; a kind that declares none is taken to read everything; a
  kind that ``reads_own_chat``, only once a row of its chat has turned dirty)
  is folded again on the new values; each row it writes is then dirty or clean
  again by the same comparison, when it was dirty before, when the event's
  rows changed, or when the effect read a dirty row of a table its kind
  reads; any other row it writes comes from that row and the event alone, so
  it is as it was;
* every other event is skipped: it reads and writes rows as before.

``apply_touched`` writes the dirty rows once, after the deletion, and replaces
the folded events' rollback entries, so every other row, of every other chat,
is untouched. The event rows the walk folds are read in batches ahead of it.
Values before and after each event come from the rollback log itself, read
where the walk needs it (``chains.py``), so nothing is read twice.
"""

from __future__ import annotations

import heapq
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import RpkitWarning
from ..kinds import KINDS, Event, touch_chat
from ..store import PROJECTED, get_meta, head_id, live, set_meta
from ..store.sqlite import sqlite3
from .chains import IDS, Chains, Key
from .codec import decode, dumps, row_from_json, row_json
from .putback import PutBack, StoredEntry, update_entries, write_rows
from .rollback import prune_rollback

_ROWS = "SELECT id, ts, chat_id, kind, payload, cause_id, superseded_by FROM event_log"
_READERS = "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log"
_FETCH = 1024  # event rows read at a time, ahead of the walk


@dataclass
class Refold:
    """What a removal does to the projection, worked out before anything is deleted.

    ``rows``: the new value of each row that changes (None: gone); ``before``:
    its value now (JSON text, None: absent), which is what putting the removed
    events back restores. Rollback entries: a refolded event that writes the
    same rows as before keeps its entries, and those whose value changes are
    updated in place (``updates``, as they are: ``originals``); the entries of
    the removed events, and of a refolded event that writes other rows now,
    are replaced (``replaced`` the events, ``old_entries`` their entries as
    they are, ``entries`` the new ones).
    """

    rows: dict[Key, dict[str, Any] | None]
    before: dict[Key, str | None]
    replaced: list[int]
    old_entries: list[StoredEntry]
    entries: list[StoredEntry]
    updates: list[StoredEntry]
    originals: list[StoredEntry]
    folded: list[int] = field(default_factory=list)

    def putback(self) -> PutBack:
        """What putting the removed events back restores (for the rewind's record)."""
        rows = [(t, k, text) for (t, k), text in self.before.items()]
        return PutBack(rows, self.old_entries, self.replaced, self.originals)


class _Overlay:
    """The sink one refolded event sees: dirty rows' new values over the old state.

    ``read_dirty`` collects the tables of the dirty rows the effect read.
    """

    def __init__(self, walk: Chains, event_id: int) -> None:
        self.walk, self.event_id = walk, event_id
        self.written: dict[Key, dict[str, Any] | None] = {}
        self.entries: list[StoredEntry] = []
        self.read_dirty: set[str] = set()
        self.clean: dict[Key, str | None] = {}  # clean rows as they were before the event

    def _clean(self, k: Key) -> str | None:
        if k not in self.clean:
            self.clean[k] = self.walk.old_before(k, self.event_id)
        return self.clean[k]

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        k = (table, dumps(key))
        if k in self.written:
            return self.written[k]
        if k in self.walk.dirty:
            self.read_dirty.add(table)
            return self.walk.dirty[k]
        text = self._clean(k)
        return (
            None
            if text is None
            else dict(zip(self.walk.codes[table].cols, decode(text), strict=True))
        )

    def put(self, table: str, row: dict[str, Any]) -> None:
        code = self.walk.codes[table]
        k = (table, dumps(code.key_of(row)))
        if k in self.written:
            old = row_json(code, self.written[k])
        elif k in self.walk.dirty:
            old = row_json(code, self.walk.dirty[k])
        else:  # a clean row: its value before this event, as the log holds it
            old = self._clean(k)
        self.entries.append((self.event_id, table, k[1], old))
        self.written[k] = row

    def patch(self, table: str, key: tuple, changes: dict[str, Any]) -> None:
        old = self.get(table, key)
        if old is not None:
            self.put(table, {**old, **changes})


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


class _Rows:
    """The kept events the walk may refold, read from the log in batches ahead of it."""

    def __init__(self, conn: sqlite3.Connection, readers: dict[int, tuple]) -> None:
        self.conn, self.rows = conn, dict(readers)
        self.wanted: list[int] = []

    def want(self, events: Iterable[int]) -> None:
        """Events likely folded later: read with the next one asked for."""
        self.wanted.extend(i for i in events if i not in self.rows)

    def get(self, event_id: int) -> tuple | None:
        """The row of ``event_id`` (None: retired)."""
        if event_id not in self.rows:
            want = [event_id, *(i for i in self.wanted if i not in self.rows)]
            self.wanted = []
            for at in range(0, len(want), _FETCH):
                for row in self.conn.execute(
                    f"{_ROWS} WHERE id IN {IDS}", (json.dumps(want[at : at + _FETCH]),)
                ):
                    self.rows[row[0]] = row[:6] if row[6] is None else None
            self.rows.setdefault(event_id, None)
        return self.rows[event_id]


def _readers() -> tuple[list[str], list[str]]:
    """The kinds whose effects read other rows: anywhere, and only in their own chat.

    A kind that ``reads_own_chat`` counts as reading anywhere when a table it
    reads has no ``chat_id`` column to tell whose a row is.
    """
    anywhere, own_chat = [], []
    for name, kind in KINDS.items():
        if kind.reads == ():
            continue
        own = kind.reads is not None and kind.reads_own_chat
        own = own and all(
            t in PROJECTED and "chat_id" in PROJECTED[t].column_names for t in kind.reads
        )
        (own_chat if own else anywhere).append(name)
    return anywhere, own_chat


def plan_touched(conn: sqlite3.Connection, removed: list[int], start: int) -> Refold:
    """What deleting ``removed`` does to the tables, worked out before it is deleted.

    ``start`` is the first removed id; the rollback log must reach back to it,
    the tables must show the log at its head (``can_refold_touched``) and no
    event may come back by the removal (no un-retirement). Reads only.

    A refolded event's effect is run on the new values. Each row it writes is
    compared with what it was after the event (and so turns dirty or clean)
    when it was dirty before, when the event writes it now and did not before
    (or the other way round), or when the effect read a dirty row of a table
    its kind ``reads`` (any table, for a kind that declares none). Any other row
    it writes comes from that row as it was and the event alone, as before, so
    it is as it was.
    """
    plan = _Plan(conn, removed, start)
    queue = sorted({*plan.walk.by_event, *plan.gone, *plan.readers})
    seen: set[int] = set()
    while queue:
        event_id = heapq.heappop(queue)
        if event_id in seen:
            continue
        seen.add(event_id)
        for i in plan.visit(event_id):  # the events of chains read just now, still ahead
            heapq.heappush(queue, i)
    return plan.refold(head_id(conn))


class _Plan:
    """The walk's state: what it has read, and what the refold changes so far."""

    def __init__(self, conn: sqlite3.Connection, removed: list[int], start: int) -> None:
        self.walk = Chains(conn, start, removed)
        self.gone = set(removed)
        self.conn = conn
        self.readers: dict[int, tuple] = {}  # kept events of kinds that read other rows
        anywhere, self.own_chat = _readers()
        self.own_tables = {t for n in self.own_chat for t in KINDS[n].reads or ()}
        self.watched: set[int] = set()  # chats whose own-chat readers are in ``readers``
        if anywhere:
            marks = ", ".join("?" * len(anywhere))
            for row in conn.execute(
                f"{_READERS} WHERE id >= ? AND {live()} AND kind IN ({marks})",
                (start, *anywhere),
            ):
                if row[0] not in self.gone:
                    self.readers[row[0]] = row
            self.walk.read_events(list(self.readers))
        self.rows = _Rows(conn, self.readers)
        self.rows.want(i for i in self.walk.by_event if i not in self.gone)
        self.warned: set[str] = set()
        self.folded: list[int] = []
        self.reshaped: list[int] = []  # refolded events whose rollback entries are replaced
        self.entries: list[StoredEntry] = []
        self.updates: list[StoredEntry] = []
        self.originals: list[StoredEntry] = []

    def visit(self, event_id: int) -> list[int]:
        """Settle or refold ``event_id``; return the later events that chains read now add."""
        walk = self.walk
        walk.added, walk.turned = [], []
        if event_id in self.gone:
            for k in walk.by_event.get(event_id, ()):
                walk.settle(k, event_id, walk.new_before(k, event_id))
        elif walk.dirty:
            self._refold(event_id)
        ahead = [i for i in walk.added if i > event_id]
        self.rows.want(i for i in ahead if i not in self.gone)
        return ahead + self._watch(event_id)

    def _watch(self, event_id: int) -> list[int]:
        """The own-chat readers after ``event_id`` of each chat whose row turned dirty now.

        Before a row of a chat turns dirty, no event of a kind that
        ``reads_own_chat`` in that chat reads a changed row, so only the later
        ones need to be visited.
        """
        chats = set()
        for k in self.walk.turned:
            if k[0] in self.own_tables:
                new = self.walk.dirty.get(k)
                old = row_from_json(k[0], self.walk.old_after(k, event_id))
                chats |= {r.get("chat_id") for r in (new, old) if r is not None}
        chats -= {None, *self.watched}
        found = []
        marks = ", ".join("?" * len(self.own_chat))
        for chat in sorted(chats):
            self.watched.add(chat)
            for row in self.conn.execute(
                f"{_READERS} WHERE chat_id = ? AND id > ? AND {live()} AND kind IN ({marks})",
                (chat, event_id, *self.own_chat),
            ):
                if row[0] not in self.gone:
                    self.readers[row[0]] = self.rows.rows[row[0]] = row
                    found.append(row[0])
        if found:
            self.walk.read_events(found)
        return found

    def _refold(self, event_id: int) -> None:
        """Fold kept ``event_id`` again if it writes a dirty row or reads a table holding one."""
        walk, dirty = self.walk, self.walk.dirty
        wrote = walk.by_event.get(event_id, ())
        kind = self.readers[event_id][3] if event_id in self.readers else None
        if dirty.keys().isdisjoint(wrote) and (
            kind is None or not _reads_dirty(kind, {t for t, _ in dirty}, self.warned)
        ):
            return
        row = self.rows.get(event_id)
        if row is None:
            return  # retired: no fold sees it
        sink = _Overlay(walk, event_id)
        ev = Event(row[0], row[1], row[2], row[3], decode(row[4]), row[5])
        spec = KINDS.get(ev.kind)
        (spec.effect if spec is not None and spec.effect else touch_chat)(sink, ev)
        reads = spec.reads if spec is not None else None
        every = bool(sink.read_dirty) if reads is None else not sink.read_dirty.isdisjoint(reads)
        written = sink.written
        for k in dict.fromkeys([*wrote, *written]):
            if every or k in dirty or k not in written or k not in wrote:
                walk.settle(
                    k, event_id, written[k] if k in written else walk.new_before(k, event_id)
                )
        self.folded.append(event_id)
        if _same_rows(walk, event_id, sink.entries):
            for entry, old in zip(sink.entries, walk.olds[event_id], strict=True):
                if entry[3] != old:
                    self.updates.append(entry)
                    self.originals.append((*entry[:3], old))
        else:
            self.reshaped.append(event_id)
            self.entries.extend(sink.entries)

    def refold(self, head: int) -> Refold:
        walk = self.walk
        replaced = sorted([*self.gone, *self.reshaped])
        return Refold(
            rows=dict(walk.dirty),
            before={k: walk.old_after(k, head) for k in walk.dirty},
            replaced=replaced,
            old_entries=[
                (i, k[0], k[1], old)
                for i in replaced
                for k, old in zip(walk.by_event.get(i, ()), walk.olds.get(i, ()), strict=True)
            ],
            entries=self.entries,
            updates=self.updates,
            originals=self.originals,
            folded=self.folded,
        )


def _same_rows(walk: Chains, event_id: int, entries: list[StoredEntry]) -> bool:
    """Whether the refold wrote the rows the fold had, in order, each once (update in place)."""
    before = walk.by_event.get(event_id, [])
    return (
        event_id not in walk.legacy
        and len(entries) == len(before) == len(set(before))
        and all(e[1] == k[0] and e[2] == k[1] for e, k in zip(entries, before, strict=True))
    )


def apply_touched(conn: sqlite3.Connection, refold: Refold) -> int:
    """Write what ``plan_touched`` worked out, once the removed events are deleted.

    Only the rows that change are written and only the refolded events'
    rollback entries replaced; returns how many events were refolded.
    """
    write_rows(conn, refold.rows)
    replace_entries(conn, refold.replaced, refold.entries)
    update_entries(conn, refold.updates)
    head = head_id(conn)
    set_meta(conn, "projected_at", head)
    prune_rollback(conn, head)
    return len(refold.folded)


def replace_entries(
    conn: sqlite3.Connection, events: list[int], entries: list[StoredEntry]
) -> None:
    """Replace the rollback entries of ``events`` by ``entries`` (in the order given)."""
    conn.execute(
        "DELETE FROM projection_undo WHERE event_id IN (SELECT value FROM json_each(?))",
        (json.dumps(events),),
    )
    conn.executemany(
        "INSERT INTO projection_undo(event_id, tbl, key, old) VALUES (?, ?, ?, ?)", entries
    )


def can_refold_touched(conn: sqlite3.Connection, start: int, head_before: int) -> bool:
    """Whether the rollback log reaches ``start`` and the tables show the log at its head."""
    return start > get_meta(conn, "undo_floor") and get_meta(conn, "projected_at") == head_before
