"""The rollback log from a point on, read where a walk over it needs it.

A per-chat rewind's walk (``touched.py``) asks, for a row, what it was before
and after an event, before the removal. The rollback log answers: each entry
holds a row as it was before its event. ``Chains`` reads each event's entries
whole and, for the rows that can change, their *chain* (every entry of the row
from the point on), filtered in SQL, so the walk never reads the entries of
rows that stay as they were. It also holds the walk's *dirty* rows (their new
value, which differs from the old one at that point), since whether a row
turns dirty or clean is a comparison with its chain.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from typing import Any

from ..store.sqlite import sqlite3
from .codec import decode, dumps, row_from_json, row_json
from .tables import all_codes, table_code

Key = tuple[str, str]  # (table, the key as the rollback log writes it)
IDS = "(SELECT value FROM json_each(?))"
_ENTRIES = "SELECT event_id, tbl, key, old, seq FROM projection_undo"


class Chains:
    """The rollback log from ``start`` on, read where the walk needs it.

    Each event's entries are read whole (``by_event``, ``olds``); a row's chain
    (every entry of it from ``start``, ``by_key``) is read when the row can turn
    dirty: at first for the rows the removed events wrote, later for any other
    row a refold changes. The walk visits the events of the chains it has read,
    and ``added`` tells it which ones a new chain brought in.
    """

    def __init__(self, conn: sqlite3.Connection, start: int, removed: list[int]) -> None:
        self.conn, self.start = conn, start
        self.by_event: dict[int, list[Key]] = {}
        self.olds: dict[int, list[str | None]] = {}  # beside by_event: what each entry replaced
        self.by_key: dict[Key, tuple[list[int], list[str | None]]] = {}
        self.chains: dict[Key, list[tuple[int, int, str | None]]] = {}  # (event, seq, old)
        self.complete: set[Key] = set()  # rows whose chain is read whole
        self.legacy: set[int] = set()
        self.added: list[int] = []  # events the latest reads brought in
        self.dirty: dict[Key, dict[str, Any] | None] = {}
        self.turned: list[Key] = []  # rows that turned dirty since the walk last looked
        self.now: dict[Key, str | None] = {}  # rows read from the tables, by key
        self.codes = all_codes()
        self.read_events(removed)
        self.read_chains({k for i in removed for k in self.by_event.get(i, ())})

    def read_events(self, events: list[int]) -> None:
        """Read every entry of ``events`` not read yet."""
        want = [i for i in events if i not in self.by_event]
        if want:
            self._read(f"{_ENTRIES} WHERE event_id IN {IDS} ORDER BY event_id, seq", want)

    def read_chains(self, keys: set[Key]) -> None:
        """Read the chains of ``keys``: every entry, from ``start``, of each event writing one."""
        keys = keys - self.complete
        if not keys:
            return
        texts = []
        for table, key in keys:
            texts.append([table, key])
            legacy = json.dumps(decode(key))  # as an older rpkit wrote it
            if legacy != key:
                texts.append([table, legacy])
        self._read(
            f"{_ENTRIES} WHERE event_id IN (SELECT event_id FROM projection_undo "
            "WHERE event_id >= ? AND (tbl, key) IN (SELECT json_extract(value, '$[0]'), "
            "json_extract(value, '$[1]') FROM json_each(?))) ORDER BY event_id, seq",
            None,
            (self.start, json.dumps(texts)),
        )
        self.complete |= keys

    def _read(self, sql: str, events: list[int] | None, args: tuple = ()) -> None:
        rows = self.conn.execute(sql, (json.dumps(events),) if events is not None else args)
        touched: set[Key] = set()
        by_event, olds, chains = self.by_event, self.olds, self.chains
        skip = set(by_event)
        added = []
        for event_id, table, key, old, seq in rows:
            if event_id in skip:
                continue
            if ", " in key:  # written by json.dumps (an older rpkit, a huge int): as orjson does
                key = dumps(decode(key))
                self.legacy.add(event_id)  # its entries are replaced, not updated by key
            k = (table, key)
            if event_id in by_event:
                by_event[event_id].append(k)
                olds[event_id].append(old)
            else:
                by_event[event_id], olds[event_id] = [k], [old]
                added.append(event_id)
            chains.setdefault(k, []).append((event_id, seq, old))
            touched.add(k)
        for k in touched:
            chain = chains[k]
            chain.sort()
            self.by_key[k] = ([c[0] for c in chain], [c[2] for c in chain])
        self.added = added

    def old_after(self, k: Key, event_id: int) -> str | None:
        """The row's value (JSON text) after ``event_id`` before the removal."""
        if k not in self.complete:
            self.read_chains({k})
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
        """The row's value before ``event_id``: the event's own first entry of it, if any."""
        keys = self.by_event.get(event_id)
        if keys is not None and k in keys:
            return self.olds[event_id][keys.index(k)]
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
            if k not in self.dirty:
                self.turned.append(k)
            self.dirty[k] = new
