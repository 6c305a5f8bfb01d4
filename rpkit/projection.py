"""Projecting the visible log into the state tables, by the cheapest correct path.

The projected state is a pure function of the visible log (DESIGN §4). Three
paths reach it and are held equal by the tests:

* a full rebuild folds every visible event in memory and writes each table in
  bulk (``project``);
* an append, a catch-up or an edit folds only the new events, through a
  write-back cache over the live tables;
* a rewind, an edit of an old turn or ``state_at`` first *rolls the projection
  back* to the first event whose visibility changes, using ``projection_undo``
  (what each projection write replaced), then folds forward from there.

``rpkit_meta`` records ``projected_at`` (the log position the tables show) and
``undo_floor`` (rolling back to an event id above it is possible). Undo
entries are kept for the newest ``max(UNDO_TAIL, UNDO_TAIL_FRACTION)`` events;
older ones are pruned as the log grows, so the undo log (and every snapshot)
stays proportional to the recent past. A rewind deeper than that rebuilds.

Speed (issue 5, see ``benchmarks/``): undo entries and rows are encoded with
orjson, keys and rows are read with precomputed getters, and the fold is one
tight loop; the cost of a rewind is the tail it undoes.
"""

from __future__ import annotations

import gc
import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from . import handlers as _builtin_handlers  # noqa: F401  (registers the built-in kinds)
from ._progress import progress_bar
from .registry import HANDLERS, Event
from .schema import PROJECTED
from .store import atomic, get_meta, head_id, set_meta

# A full rebuild keeps undo entries for this many newest events (at least), so a
# rewind of the recent past right after a rebuild or an import is cheap.
UNDO_TAIL = 50_000
UNDO_TAIL_FRACTION = 0.10
# Appends prune the undo log once the floor can move up by this many events.
UNDO_PRUNE_STEP = 4096

_SELECT_EVENTS = (
    "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log "
    "WHERE id >= ? AND id <= ? AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id"
)

try:  # orjson decodes payloads several times faster; the stdlib is the fallback
    import orjson

    _loads = orjson.loads
    _orjson_dumps = orjson.dumps
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]
    _loads = json.loads
    _orjson_dumps = None


def _make_key_getter(cols: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple]:
    if len(cols) == 1:
        (c,) = cols
        return lambda row: (row[c],)
    get = itemgetter(*cols)
    return lambda row: get(row)


def _make_row_getter(cols: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple]:
    if len(cols) == 1:
        (c,) = cols
        return lambda row: (row[c],)
    return itemgetter(*cols)


_COLS: dict[str, tuple[str, ...]] = {n: tuple(t.column_names) for n, t in PROJECTED.items()}
_KEY_OF: dict[str, Callable[[dict[str, Any]], tuple]] = {
    n: _make_key_getter(tuple(t.key)) for n, t in PROJECTED.items()
}
_VALUES_OF: dict[str, Callable[[dict[str, Any]], tuple]] = {
    n: _make_row_getter(_COLS[n]) for n in PROJECTED
}
# Positions of REAL columns: orjson would write a non-finite float as null.
_FLOAT_AT: dict[str, tuple[int, ...]] = {
    n: tuple(i for i, (_c, sqltype, _d) in enumerate(t.columns) if sqltype == "REAL")
    for n, t in PROJECTED.items()
}
_INSERT: dict[str, str] = {
    n: f"INSERT INTO {n} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
    for n, c in _COLS.items()
}
_SELECT_ONE: dict[str, str] = {
    n: f"SELECT {', '.join(_COLS[n])} FROM {n} WHERE " + " AND ".join(f"{c} = ?" for c in t.key)
    for n, t in PROJECTED.items()
}
_DELETE_ONE: dict[str, str] = {
    n: f"DELETE FROM {n} WHERE " + " AND ".join(f"{c} = ?" for c in t.key)
    for n, t in PROJECTED.items()
}


def _upsert_sql(name: str) -> str:
    t = PROJECTED[name]
    cols = _COLS[name]
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in t.key)
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"{_INSERT[name]} ON CONFLICT ({', '.join(t.key)}) {conflict}"


_UPSERT: dict[str, str] = {n: _upsert_sql(n) for n in PROJECTED}


def _dumps(values: tuple | list) -> str:
    """JSON text of a row or key, exact for every value SQLite can hold."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(values).decode()
        except TypeError:  # an int beyond 64 bits
            pass
    return json.dumps(list(values))


def _decode(text: str) -> Any:
    try:
        return _loads(text)
    except ValueError:  # NaN or Infinity, written by json.dumps
        return json.loads(text)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a fold makes millions of small objects.

    None of them form cycles; with the collector on, its repeated passes over the
    growing tables and undo list cost more than the fold itself.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _key(table: str, row: dict[str, Any]) -> tuple:
    return _KEY_OF[table](row)


class MemorySink:
    """Projected tables held in dicts; optionally records undo entries."""

    def __init__(self, record_from: int | None = None) -> None:
        self.tables: dict[str, dict[tuple, dict[str, Any]]] = {t: {} for t in PROJECTED}
        self.undo: list[tuple[int, str, tuple, dict[str, Any] | None]] = []
        self.record_from = record_from
        self.event_id = 0
        self.touched = False

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        return self.tables[table].get(key)

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = _KEY_OF[table](row)
        rows = self.tables[table]
        if self.record_from is not None and self.event_id > self.record_from:
            self.undo.append((self.event_id, table, key, rows.get(key)))
        rows[key] = row
        self.touched = True

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> MemorySink:
        """A copy of the live projected tables."""
        sink = cls()
        with _no_gc():
            for name, cols in _COLS.items():
                key_of = _KEY_OF[name]
                rows = conn.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall()
                dicts = [dict(zip(cols, values, strict=False)) for values in rows]
                sink.tables[name] = {key_of(row): row for row in dicts}
        return sink

    def roll_back(self, entries: Iterable[tuple[str, tuple, dict[str, Any] | None]]) -> None:
        """Apply the earliest undo entry of each row (undo entries in log order)."""
        for table, key, old in _earliest(entries):
            if old is None:
                self.tables[table].pop(key, None)
            else:
                self.tables[table][key] = old


class SqlSink(MemorySink):
    """A write-back cache over the live tables; ``flush`` writes rows and undo entries."""

    def __init__(self, conn: sqlite3.Connection, record: bool = True) -> None:
        super().__init__(record_from=0 if record else None)
        self.conn = conn
        self.dirty: dict[str, dict[tuple, None]] = {t: {} for t in PROJECTED}

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        cache = self.tables[table]
        if key in cache:
            return cache[key]
        values = self.conn.execute(_SELECT_ONE[table], key).fetchone()
        row = None if values is None else dict(zip(_COLS[table], values, strict=True))
        cache[key] = row
        return row

    def put(self, table: str, row: dict[str, Any]) -> None:
        key = _KEY_OF[table](row)
        self.get(table, key)  # load the old row so the undo entry is right
        super().put(table, row)
        self.dirty[table][key] = None

    def flush(self) -> None:
        for name, keys in self.dirty.items():
            if keys:
                rows = self.tables[name]
                _upsert(self.conn, name, [rows[k] for k in keys])
                keys.clear()
        _write_undo(self.conn, self.undo)
        self.undo.clear()
        if self.event_id and self.event_id % UNDO_PRUNE_STEP == 0:
            _prune_undo(self.conn, self.event_id)


def _earliest(entries: Iterable[tuple[str, tuple, Any]]) -> Iterator[tuple[str, tuple, Any]]:
    seen: dict[tuple[str, tuple], Any] = {}
    for table, key, old in entries:
        seen.setdefault((table, key), old)
    for (table, key), old in seen.items():
        yield table, key, old


def _upsert(conn: sqlite3.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    conn.executemany(_UPSERT[name], map(_VALUES_OF[name], rows))


def _row_json(table: str, row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    values = _VALUES_OF[table](row)
    for i in _FLOAT_AT[table]:
        v = values[i]
        if isinstance(v, float) and not math.isfinite(v):
            return json.dumps(list(values))
    return _dumps(values)


def _row_from_json(table: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return dict(zip(_COLS[table], _decode(text), strict=True))


def _write_undo(conn: sqlite3.Connection, undo: list) -> None:
    if undo:
        with _no_gc():
            _insert_undo(conn, undo)


def _insert_undo(conn: sqlite3.Connection, undo: list) -> None:
    if undo:
        conn.executemany(
            "INSERT INTO projection_undo(event_id, tbl, key, old) VALUES (?, ?, ?, ?)",
            [(e, t, _dumps(k), _row_json(t, old)) for e, t, k, old in undo],
        )


def undo_entries(conn: sqlite3.Connection, since: int) -> Iterator[tuple[str, tuple, Any]]:
    """The earliest undo entry of each row written by events ``>= since``, in log order.

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
        decoded = (table, tuple(_decode(key)))
        if decoded not in seen:  # the same key written as different JSON text
            seen.add(decoded)
            yield table, decoded[1], _row_from_json(table, old)


def undo_floor_for(head: int) -> int:
    """The undo floor that keeps the newest ``max(UNDO_TAIL, UNDO_TAIL_FRACTION)`` events."""
    return max(0, min(head - UNDO_TAIL, int(head * (1 - UNDO_TAIL_FRACTION))))


def _prune_undo(conn: sqlite3.Connection, head: int) -> None:
    """Drop undo entries older than the kept tail once the floor can move a step."""
    floor = undo_floor_for(head)
    if floor - get_meta(conn, "undo_floor") >= UNDO_PRUNE_STEP:
        conn.execute("DELETE FROM projection_undo WHERE event_id <= ?", (floor,))
        set_meta(conn, "undo_floor", floor)


def apply_event(sink: MemorySink, ev: Event) -> None:
    """Fold one event into ``sink`` through its registered handler."""
    sink.event_id = ev.id
    sink.touched = False
    fn = HANDLERS.get(ev.kind)
    if fn is not None:
        fn(sink, ev)
    elif ev.chat_id is not None:  # an extension kind without a handler
        _touch_chat(sink, ev)


def visible_events(
    conn: sqlite3.Connection, lo: int, hi: int, at: int | None = None
) -> Iterator[Event]:
    """Events with ``lo <= id <= hi`` that are visible at ``at`` (default ``hi``)."""
    at = hi if at is None else at
    for id_, ts, chat_id, kind, payload, cause_id in conn.execute(_SELECT_EVENTS, (lo, hi, at)):
        yield Event(id_, ts, chat_id, kind, _loads(payload), cause_id)


def fold(
    conn: sqlite3.Connection, sink: MemorySink, lo: int, hi: int, *, desc: str = "projecting"
) -> int:
    """Fold the events of ``[lo, hi]`` visible at ``hi`` into ``sink``; return their count."""
    n = 0
    first = lo
    fast = _fast_kinds() if type(sink) is MemorySink else {}
    with _no_gc(), progress_bar(total=max(0, hi - lo + 1), desc=desc) as bar:
        if lo == 1 and fast and not sink.undo and not any(sink.tables.values()):
            # From scratch in memory: the part that records no undo entries can
            # leave the turns to SQL (see _fold_prefix).
            prefix = hi if sink.record_from is None else min(hi, sink.record_from)
            done = _fold_prefix(conn, sink, prefix, hi, fast, bar) if prefix > 0 else None
            if done is not None:
                n, lo = done, prefix + 1
        cursor = conn.execute(_SELECT_EVENTS, (lo, hi, hi))
        while batch := cursor.fetchmany(4096):
            _fold_batch(sink, batch, fast)
            n += len(batch)
            if bar is not None:
                bar.update(batch[-1][0] - first + 1 - bar.n)
        if bar is not None:
            bar.update(bar.total - bar.n)
    return n


_LEFT_TO_SQL = ("user_turn", "assistant_turn", "turn_hidden", "edge_update")
_SELECT_THE_REST = (
    "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log WHERE id >= 1 AND id <= ? "
    "AND kind NOT IN ('user_turn', 'assistant_turn', 'turn_hidden', 'edge_update') "
    "AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id"
)
_SELECT_EDGE_UPDATES = (
    "SELECT id, payload FROM event_log WHERE id >= 1 AND id <= ? AND kind = 'edge_update' "
    "AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id"
)
_CHAT_TOUCHES = (
    "SELECT SUM(kind IN ('user_turn', 'assistant_turn')), MAX(id) FROM event_log "
    "WHERE chat_id = ? AND id > ? AND id <= ? "
    "AND kind IN ('user_turn', 'assistant_turn', 'turn_hidden', 'edge_update') "
    "AND (superseded_by IS NULL OR superseded_by > ?)"
)
_LAST_TURN = (
    "SELECT kind, payload FROM event_log WHERE chat_id = ? AND id > ? AND id <= ? "
    "AND kind IN ('user_turn', 'assistant_turn') "
    "AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id DESC LIMIT 1"
)


def _fold_prefix(
    conn: sqlite3.Connection,
    sink: MemorySink,
    prefix: int,
    at: int,
    fast: dict[str, int],
    bar: Any,
) -> int | None:
    """Fold events ``1..prefix`` visible at ``at`` into an empty ``sink``, most of it in SQL.

    Turns, hides and affinity updates are nine events in ten. Besides their own
    table (``edges``, summed pair by pair in log order from a narrow query), they
    only touch their chat's ``chat_state`` (turn count, speaker, newest event),
    and no built-in handler of another kind reads what they change: they commute
    with everything but ``chat_created``, which resets the row. So each chat's row
    gets, in one indexed query, the turns and touches after its ``chat_created``,
    and only the other kinds are folded event by event. Returns the number of
    visible events in ``1..prefix``, or None (sink left empty) when a kind in the
    log has a handler of its own, which might read what this skips.
    """
    if not all(k in fast for k in _LEFT_TO_SQL):
        return None

    def give_up() -> None:
        for rows in sink.tables.values():
            rows.clear()
        sink.undo.clear()

    cursor = conn.execute(_SELECT_THE_REST, (prefix, at))
    while batch := cursor.fetchmany(4096):
        if any(k not in fast and k in HANDLERS for k in {r[3] for r in batch}):
            give_up()
            return None
        _fold_batch(sink, batch, fast)
        if bar is not None:
            bar.update(min(prefix, batch[-1][0]) // 2 - bar.n)
    # What rpkit.handlers._edge_update does, minus the touch (below).
    edges = sink.tables["edges"]
    loads = _loads
    for id_, payload in conn.execute(_SELECT_EDGE_UPDATES, (prefix, at)):
        p = loads(payload)
        key = (p["src"], p["dst"])
        old = edges.get(key)
        affinity = (old["affinity"] if old else 0.0) + p["delta"]
        if old:
            old["affinity"] = float(affinity)
            old["updates"] += 1
            old["last_event_id"] = id_
        else:
            edges[key] = {
                "src": p["src"],
                "dst": p["dst"],
                "affinity": float(affinity),
                "updates": 1,
                "last_event_id": id_,
            }
    chats = sink.tables["chats"]
    for (chat,), row in sink.tables["chat_state"].items():
        created = chats.get((chat,))
        if created is None:  # not from chat_created: leave it to the plain fold
            give_up()
            return None
        since = created["created_event_id"]
        turns, newest = conn.execute(_CHAT_TOUCHES, (chat, since, prefix, at)).fetchone()
        if newest is None:
            continue
        row["last_event_id"] = max(row["last_event_id"], newest)
        if turns:
            row["turn_count"] += turns
            kind, payload = conn.execute(_LAST_TURN, (chat, since, prefix, at)).fetchone()
            row["last_speaker"] = "you" if kind == "user_turn" else _loads(payload)["bot_id"]
    sink.event_id = prefix
    # Counting the rows past the prefix is the shorter walk when the prefix is long.
    rows = conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0]
    rows -= conn.execute("SELECT COUNT(*) FROM event_log WHERE id > ?", (prefix,)).fetchone()[0]
    retired = conn.execute(
        "SELECT COUNT(*) FROM event_log WHERE superseded_by > 0 AND superseded_by <= ? AND id <= ?",
        (at, prefix),
    ).fetchone()[0]
    return rows - retired


# The built-in handlers, inlined for in-memory folds (full rebuilds, state_at,
# verify), where calling them through get/put is most of the cost. A kind whose
# registered handler is not the built-in one goes through its handler. The
# inlined code must do exactly what ``rpkit.handlers`` does, write for write;
# the property tests hold the two paths equal.
_YOU, _BOT, _CHAT, _USER, _BOTTURN, _EDGE, _MEMORY = range(7)
_CONTAINER, _SCENE_START, _SCENE_END, _ACTIVITY, _FAILED, _HIDDEN = range(7, 13)


def _fast_kinds() -> dict[str, int]:
    from . import handlers as h

    builtin = {
        "you_set": (h._you_set, _YOU),
        "bot_created": (h._bot_created, _BOT),
        "chat_created": (h._chat_created, _CHAT),
        "user_turn": (h._user_turn, _USER),
        "assistant_turn": (h._assistant_turn, _BOTTURN),
        "edge_update": (h._edge_update, _EDGE),
        "memory_added": (h._memory_added, _MEMORY),
        "container_created": (h._container_created, _CONTAINER),
        "scene_started": (h._scene_started, _SCENE_START),
        "scene_ended": (h._scene_ended, _SCENE_END),
        "activity_logged": (h._activity_logged, _ACTIVITY),
        "classifier_failed": (h._classifier_failed, _FAILED),
        "turn_hidden": (h._turn_hidden, _HIDDEN),
    }
    return {k: code for k, (fn, code) in builtin.items() if HANDLERS.get(k) is fn}


def _fold_batch(sink: MemorySink, batch: list[tuple], fast: dict[str, int]) -> None:
    """Fold raw event rows into ``sink``: inlined built-in handlers, or the registered ones."""
    t = sink.tables
    chat_state, edges, scenes = t["chat_state"], t["edges"], t["scenes"]
    undo = sink.undo
    record_from = sink.record_from
    recording = record_from is not None
    handlers = HANDLERS
    loads = _loads
    for id_, ts, chat_id, kind, payload, cause_id in batch:
        code = fast.get(kind)
        if code is None:
            sink.event_id = id_
            sink.touched = False
            fn = handlers.get(kind)
            ev = Event(id_, ts, chat_id, kind, loads(payload), cause_id)
            if fn is not None:
                fn(sink, ev)
            elif chat_id is not None:  # an extension kind without a handler
                _touch_chat(sink, ev)
            continue
        rec = recording and id_ > record_from
        p = loads(payload)
        touch = True  # handlers end with touch_chat(sink, ev, **changes)
        changes: dict[str, Any] | None = None
        if code == _EDGE:
            key = (p["src"], p["dst"])
            old = edges.get(key)
            affinity = (old["affinity"] if old else 0.0) + p["delta"]
            updates = (old["updates"] if old else 0) + 1
            if old and not rec:  # no undo entry refers to the old row: update it in place
                old["affinity"] = float(affinity)
                old["updates"] = updates
                old["last_event_id"] = id_
            else:
                if rec:
                    undo.append((id_, "edges", key, old))
                edges[key] = {
                    "src": p["src"],
                    "dst": p["dst"],
                    "affinity": float(affinity),
                    "updates": updates,
                    "last_event_id": id_,
                }
        elif code in (_USER, _BOTTURN):
            row = chat_state.get((chat_id,))
            count = row["turn_count"] if row is not None else 0
            speaker = "you" if code == _USER else p["bot_id"]
            changes = {"turn_count": count + 1, "last_speaker": speaker}
        elif code in (_MEMORY, _ACTIVITY, _FAILED):
            if code == _MEMORY:
                name = "memories"
                sal = p.get("salience")
                row = {
                    "id": id_,
                    "chat_id": chat_id,
                    "owner": p["owner"],
                    "text": p["text"],
                    "salience": None if sal is None else float(sal),
                }
            elif code == _ACTIVITY:
                name = "activity"
                row = {
                    "id": id_,
                    "chat_id": chat_id,
                    "container_id": p["container_id"],
                    "entity": p["entity"],
                    "action": p["action"],
                }
            else:
                name = "classifier_failures"
                row = {
                    "id": id_,
                    "turn_event_id": cause_id,
                    "stage": p["stage"],
                    "error": p["error"],
                }
            rows = t[name]
            key = (id_,)
            if rec:
                undo.append((id_, name, key, rows.get(key)))
            rows[key] = row
        elif code in (_SCENE_START, _SCENE_END):
            state = chat_state.get((chat_id,))
            if state is not None and state["current_scene_id"] is not None:
                skey = (state["current_scene_id"],)
                scene = scenes.get(skey)
                if scene is not None:
                    if rec:
                        undo.append((id_, "scenes", skey, scene))
                    scenes[skey] = {**scene, "ended_event_id": id_}
            if code == _SCENE_START:
                key = (id_,)
                if rec:
                    undo.append((id_, "scenes", key, scenes.get(key)))
                scenes[key] = {
                    "id": id_,
                    "chat_id": chat_id,
                    "container_id": p["container_id"],
                    "title": p.get("title"),
                    "started_event_id": id_,
                    "ended_event_id": None,
                }
                changes = {"current_scene_id": id_}
            else:
                changes = {"current_scene_id": None}
        elif code == _HIDDEN:
            pass
        else:  # the kinds that do not touch their chat
            touch = False
            if code == _CHAT:
                _put(
                    t,
                    undo,
                    rec,
                    id_,
                    "chats",
                    {
                        "id": chat_id,
                        "title": p["title"],
                        "created_event_id": id_,
                        "created_at": ts,
                    },
                )
                _put(
                    t,
                    undo,
                    rec,
                    id_,
                    "chat_state",
                    {
                        "chat_id": chat_id,
                        "turn_count": 0,
                        "last_event_id": id_,
                        "last_speaker": None,
                        "current_scene_id": None,
                    },
                )
            elif code == _YOU:
                old = t["you_entity"].get((1,))
                persona = p.get("persona")
                if persona is None and old is not None:
                    persona = old["persona"]
                _put(
                    t,
                    undo,
                    rec,
                    id_,
                    "you_entity",
                    {"id": 1, "name": p["name"], "persona": persona},
                )
            elif code == _BOT:
                _put(
                    t,
                    undo,
                    rec,
                    id_,
                    "bots",
                    {
                        "id": p["bot_id"],
                        "name": p["name"],
                        "persona": p.get("persona"),
                        "created_event_id": id_,
                    },
                )
            else:  # _CONTAINER
                _put(
                    t,
                    undo,
                    rec,
                    id_,
                    "containers",
                    {
                        "id": p["container_id"],
                        "name": p["name"],
                        "kind": p.get("kind"),
                        "parent_id": p.get("parent_id"),
                    },
                )
        if touch and chat_id is not None:
            key = (chat_id,)
            row = chat_state.get(key)
            if row is not None:
                if not rec:  # no undo entry refers to the old row: update it in place
                    row["last_event_id"] = id_
                    if changes is not None:
                        row.update(changes)
                else:
                    undo.append((id_, "chat_state", key, row))
                    if changes is None:
                        chat_state[key] = {**row, "last_event_id": id_}
                    else:
                        chat_state[key] = {**row, "last_event_id": id_, **changes}
    if batch:
        sink.event_id = batch[-1][0]
        sink.touched = True


def _put(
    tables: dict[str, dict[tuple, dict[str, Any]]],
    undo: list,
    rec: bool,
    event_id: int,
    name: str,
    row: dict[str, Any],
) -> None:
    key = _KEY_OF[name](row)
    rows = tables[name]
    if rec:
        undo.append((event_id, name, key, rows.get(key)))
    rows[key] = row


def _touch_chat(sink: MemorySink, ev: Event) -> None:
    from .handlers import touch_chat

    touch_chat(sink, ev)


def rollback_point(conn: sqlite3.Connection, target: int) -> int:
    """The first event id whose state differs between the projection and ``target``.

    Everything below it is projected identically at both points, so the tables
    can be rolled back to just before it and folded forward to ``target``.
    """
    current = get_meta(conn, "projected_at")
    lo, hi = min(current, target), max(current, target)
    row = conn.execute(
        "SELECT MIN(id) FROM event_log WHERE id <= ? AND superseded_by > ? AND superseded_by <= ?",
        (lo, lo, hi),
    ).fetchone()
    return min(lo + 1, row[0]) if row[0] is not None else lo + 1


def _write_all(conn: sqlite3.Connection, sink: MemorySink) -> None:
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for name in reversed(PROJECTED):
        conn.execute(f"DELETE FROM {name}")
    for name, rows in sink.tables.items():
        if rows:
            conn.executemany(_INSERT[name], map(_VALUES_OF[name], rows.values()))


def rebuild(conn: sqlite3.Connection, target: int) -> int:
    """Fold the whole log visible at ``target`` in memory and write it; return the count."""
    floor = undo_floor_for(target)
    sink = MemorySink(record_from=floor)
    n = fold(conn, sink, 1, target, desc="rebuilding projection")
    _write_all(conn, sink)
    conn.execute("DELETE FROM projection_undo")
    _write_undo(conn, sink.undo)
    set_meta(conn, "undo_floor", floor)
    set_meta(conn, "projected_at", target)
    return n


def reproject_from(conn: sqlite3.Connection, start: int, target: int) -> int:
    """Roll the tables back to just before ``start`` and fold forward to ``target``.

    Falls back to a full rebuild when the undo log does not reach back to ``start``.
    Returns the number of events folded.
    """
    if start <= get_meta(conn, "undo_floor"):
        return rebuild(conn, target)
    if start <= get_meta(conn, "projected_at"):  # else there is nothing to roll back
        conn.execute("PRAGMA defer_foreign_keys = ON")
        restored = list(_earliest(undo_entries(conn, start)))
        for name in reversed(PROJECTED):
            gone = [key for table, key, old in restored if table == name and old is None]
            if gone:
                conn.executemany(_DELETE_ONE[name], gone)
        for name in PROJECTED:
            back = [old for table, _key, old in restored if table == name and old is not None]
            if back:
                _upsert(conn, name, back)
        conn.execute("DELETE FROM projection_undo WHERE event_id >= ?", (start,))
    sink = SqlSink(conn)
    n = fold(conn, sink, start, target, desc="projecting")
    sink.flush()
    set_meta(conn, "projected_at", target)
    _prune_undo(conn, target)
    return n


def move_to(conn: sqlite3.Connection, target: int) -> int:
    """Bring the projection to ``target`` by the shortest path; return events folded."""
    return reproject_from(conn, rollback_point(conn, target), target)


def project(conn: sqlite3.Connection, *, upto: int | None = None) -> None:
    """Rebuild every projected table from the visible log, in one transaction.

    With ``upto`` the tables show the state at that event (by the visibility rule)
    and ``catch_up`` later brings them to the newest event.
    """
    from .events import check_event_id

    with atomic(conn):
        target = head_id(conn) if upto is None else check_event_id(conn, upto, what="upto")
        rebuild(conn, target)


def catch_up(conn: sqlite3.Connection) -> int:
    """Project events appended since the projection last ran (e.g. by another process).

    Returns the number of events folded (0 when the projection is current).
    """
    with atomic(conn):
        head = head_id(conn)
        if get_meta(conn, "projected_at") == head:
            return 0
        return move_to(conn, head)
