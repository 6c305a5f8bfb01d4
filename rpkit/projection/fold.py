"""Folding visible events into a sink, each through its kind's effect.

A fold from scratch in memory (a rebuild, ``state_at`` below the rollback tail)
folds the part of the log it keeps no rollback entries for in bulk: the kinds a
``Summary`` stands for are summed by it, the others folded event by event.
``fold(..., summaries=False)`` folds every event through its effect; that is
how ``verify`` checks the bulk path.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import RpkitWarning
from ..gcpause import paused_gc
from ..kinds import KINDS, Event, Summary, touch_chat
from ..kinds.declaration import Effect
from ..progress import progress_bar
from ..store import retired_between, visible_at
from ..store.sqlite import sqlite3
from .sink import MemorySink

_COLUMNS = "id, ts, chat_id, kind, payload, cause_id"
SELECT_EVENTS = f"SELECT {_COLUMNS} FROM event_log WHERE id >= ? AND {visible_at()} ORDER BY id"
_BATCH = 4096


def effects() -> dict[str, Effect]:
    """Each declared kind's effect (a kind without one only touches its chat)."""
    return {name: kind.effect or touch_chat for name, kind in KINDS.items()}


def apply_event(sink: MemorySink, ev: Event) -> None:
    """Fold one event into ``sink`` through its kind's effect."""
    sink.event_id = ev.id
    kind = KINDS.get(ev.kind)
    (kind.effect if kind is not None and kind.effect else touch_chat)(sink, ev)


def apply_rows(sink: MemorySink, rows: Sequence[tuple], effect_of: dict[str, Effect]) -> None:
    """Fold raw ``event_log`` rows (the columns of ``SELECT_EVENTS``) into ``sink``."""
    loads, make, get = orjson.loads, tuple.__new__, effect_of.get
    for id_, ts, chat_id, kind, payload, cause_id in rows:
        sink.event_id = id_
        get(kind, touch_chat)(sink, make(Event, (id_, ts, chat_id, kind, loads(payload), cause_id)))


def fold(
    conn: sqlite3.Connection,
    sink: MemorySink,
    lo: int,
    hi: int,
    *,
    desc: str = "projecting",
    summaries: bool = True,
) -> int:
    """Fold the events of ``[lo, hi]`` visible at ``hi`` into ``sink``; return their count."""
    n, first = 0, lo
    effect_of = effects()
    with paused_gc(), progress_bar(total=max(0, hi - lo + 1), desc=desc) as bar:
        if summaries and lo == 1 and type(sink) is MemorySink and sink.is_empty():
            prefix = hi if sink.record_from is None else min(hi, sink.record_from)
            done = fold_prefix(conn, sink, prefix, hi, effect_of, bar) if prefix > 0 else None
            if done is not None:
                n, lo = done, prefix + 1
        cursor = conn.execute(SELECT_EVENTS, (lo, hi, hi))
        while batch := cursor.fetchmany(_BATCH):
            apply_rows(sink, batch, effect_of)
            n += len(batch)
            if bar is not None:
                bar.update(batch[-1][0] - first + 1 - bar.n)
        if bar is not None:
            bar.update(bar.total - bar.n)
    return n


def _warn(message: str) -> None:
    warnings.warn(message, RpkitWarning, stacklevel=5)


def usable_summaries() -> list[Summary]:
    """The summaries every kind they stand for still declares (none replaced)."""
    found = {id(k.summary): k.summary for k in KINDS.values() if k.summary is not None}
    usable = []
    for summary in found.values():
        dropped = [n for n in summary.kinds if n not in KINDS or KINDS[n].summary is not summary]
        if dropped:
            _warn(
                f"the effect of {dropped[0]!r} was replaced, so rebuilds fold "
                f"{', '.join(summary.kinds)} events one by one instead of summing them"
            )
        else:
            usable.append(summary)
    return usable


def fold_prefix(
    conn: sqlite3.Connection,
    sink: MemorySink,
    prefix: int,
    at: int,
    effect_of: dict[str, Effect],
    bar: Any,
) -> int | None:
    """Fold events ``1..prefix`` visible at ``at`` into an empty ``sink``, summed where it can.

    Returns the number of visible events in ``1..prefix``, or None (sink left
    empty) when a kind in that part of the log does not commute with the summaries.
    """
    summaries = usable_summaries()
    if not summaries:
        return None
    summed = sorted({k for s in summaries for k in s.kinds})
    rest = (
        f"SELECT {_COLUMNS} FROM event_log WHERE id >= 1 AND {visible_at()} "
        f"AND kind NOT IN ({', '.join('?' * len(summed))}) ORDER BY id"
    )
    cursor = conn.execute(rest, (prefix, at, *summed))
    while batch := cursor.fetchmany(_BATCH):
        odd = sorted({r[3] for r in batch if r[3] in KINDS and not KINDS[r[3]].commutes})
        if odd:
            _warn(
                f"rebuilds fold every event one by one while the log holds {odd[0]!r} events: "
                "their effect may read what the bulk summaries write; declare it with "
                "commutes=True if it reads no turn counts, speakers or edges"
            )
            sink.clear()
            return None
        apply_rows(sink, batch, effect_of)
        if bar is not None:
            bar.update(min(prefix, batch[-1][0]) // 2 - bar.n)
    for summary in summaries:
        if not summary.apply(conn, sink.tables, prefix, at):
            sink.clear()
            return None
    sink.event_id = prefix
    # Counting the rows past the prefix is the shorter walk when the prefix is long.
    rows = conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0]
    rows -= conn.execute("SELECT COUNT(*) FROM event_log WHERE id > ?", (prefix,)).fetchone()[0]
    retired = conn.execute(
        f"SELECT COUNT(*) FROM event_log WHERE {retired_between()} AND id <= ?",
        (0, at, prefix),
    ).fetchone()[0]
    return rows - retired
