"""The events frame: one row per event, its payload fields as typed columns.

Rows are read a piece at a time; each piece's ids become numbers, its
timestamps are parsed and its payloads decoded (``payloads``) before the next
piece is read, so the texts of only one piece are alive at once and the peak
stays near the frame's own size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, islice
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FrameError
from ..gcpause import paused_gc
from ..kinds import KINDS
from ..log import check_chat
from ..store import atomic, is_id, live
from ..store.sqlite import sqlite3
from .columns import id_array, kind_categories, object_array, utc_times
from .payloads import CHUNK as CHUNK  # the payloads decoded at a time
from .payloads import PayloadColumns, kinds_of

EVENT_COLUMNS = ["id", "ts", "chat_id", "kind", "cause_id", "hidden", "superseded_by"]
# Payload keys that clash with an event column get a clearer name.
RENAMED = {"kind": "container_kind", "id": "payload_id", "ts": "payload_ts"}


def _payload_fields(kinds: Iterable[str]) -> dict[str, dict[str, type]]:
    """For each kind present, its payload fields and their types (catalogue order)."""
    out = {}
    for kind in kinds:
        spec = KINDS.get(kind)
        out[kind] = spec.field_types() if spec is not None else {}
    return out


FETCH = 65536  # rows read at a time: each piece is typed and decoded before the next


def event_rows(
    conn: sqlite3.Connection, where: str, args: Sequence[Any], *, retired: bool
) -> pd.DataFrame:
    """The events matching ``where`` as a frame (see ``events``).

    Rows are read ``FETCH`` at a time, their cells straight into an object
    array (no list of row tuples); each piece's ids become numbers, its
    timestamps are parsed and its payloads decoded before the next is read, so
    no text outlives its piece. The kind comes as its index in ``KINDS`` (a
    small int: no string made per row). ``hidden`` is not read: the schema's
    CHECK makes it ``superseded_by IS NOT NULL``; and when ``retired`` is false
    (``where`` leaves retired events out) ``superseded_by`` is not read either.
    """
    names = list(KINDS)
    whens = " ".join(f"WHEN ? THEN {i}" for i in range(len(names)))
    cols = f"id, ts, chat_id, CASE kind {whens} ELSE -1 END, cause_id, payload"
    if retired:
        cols += ", superseded_by"
    width = 7 if retired else 6
    # id, kind code, then chat_id, cause_id, superseded_by (ids or None, as floats)
    numbers: list[list[np.ndarray]] = [[] for _ in range(width - 2)]
    times: list[pd.DatetimeIndex] = []
    unknown: list[tuple[int, np.ndarray, np.ndarray]] = []  # a piece's rows of other kinds
    payloads = PayloadColumns()
    with paused_gc():  # re-enabled once the cells are gone, so it finds little to scan
        cursor = conn.execute(f"SELECT {cols} FROM event_log {where} ORDER BY id", [*names, *args])
        while len(cells := np.fromiter(chain.from_iterable(islice(cursor, FETCH)), object)):
            cells = cells.reshape(-1, width)
            codes = cells[:, 3].astype(np.int64)
            numbers[0].append(cells[:, 0].astype(np.int64))
            numbers[1].append(codes)
            for part, i in zip(numbers[2:], (2, 4, 6), strict=False):
                part.append(np.array(cells[:, i], dtype=np.float64))  # None becomes NaN
            times.append(utc_times(cells[:, 1]))
            rows = kinds_of(np.where(codes < 0, len(names), codes), [*names, ""])
            if "" in rows:  # a kind not catalogued: decoded once the kinds' names are known
                at = rows.pop("")
                unknown.append((len(times) - 1, at, cells[at, 5]))
            payloads.add(rows, cells[:, 5])
            del cells
        ids, codes, chats, causes, *sup = (
            np.concatenate(part) if part else np.empty(0, np.int64 if i < 2 else np.float64)
            for i, part in enumerate(numbers)
        )
        del numbers
        if unknown:  # kinds the catalogue does not know (not added by rpkit)
            kinds = [
                r[0] for r in conn.execute(f"SELECT kind FROM event_log {where} ORDER BY id", args)
            ]
            names += sorted({k for k in kinds if k not in KINDS})
            number = {k: i for i, k in enumerate(names)}
            codes = np.fromiter(map(number.__getitem__, kinds), dtype=np.int64, count=len(kinds))
            payloads.add_unknown(unknown, codes, names)
        if len({t.dtype for t in times}) > 1:  # pieces parsed to different units: parse all
            texts = conn.execute(f"SELECT ts FROM event_log {where} ORDER BY id", args)
            ts = utc_times(object_array([r[0] for r in texts]))
        else:
            ts = times[0].append(times[1:]) if times else utc_times(np.empty(0, object))
        del times
        frame = _event_frame(
            ids=ids,
            ts=ts,
            chats=chats,
            codes=codes,
            names=names,
            causes=causes,
            payloads=payloads,
            sup=sup[0] if retired else None,
        )
    return frame


def _event_frame(
    *,
    ids: np.ndarray,
    ts: pd.DatetimeIndex,
    chats: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    causes: np.ndarray,
    payloads: PayloadColumns,
    sup: np.ndarray | None,
) -> pd.DataFrame:
    """Event columns as a frame; ``codes`` index ``names``, ``sup=None``: none retired."""
    n = len(ids)
    uniques = sorted(payloads.first, key=payloads.first.__getitem__)  # first appearance
    fields = _payload_fields(uniques)
    categories = kind_categories(uniques)
    # Payload columns: the catalogue's fields of the kinds present, in catalogue
    # order, then any extra field (e.g. an importer's provenance).
    order: dict[str, type | None] = {}
    for kind in categories:
        for name, typ in fields.get(kind, {}).items():
            order.setdefault(name, typ)
    for kind in uniques:
        for name in sorted(payloads.extra[kind]):
            order.setdefault(name, None)
    payload_cols = {
        RENAMED.get(name, name): payloads.column(name, typ) for name, typ in order.items()
    }
    where = np.array([categories.index(k) for k in names], dtype=np.int64)
    retired = (
        id_array(sup)
        if sup is not None
        else pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
    )
    return pd.DataFrame(
        {
            "id": id_array(ids),
            "ts": ts,
            "chat_id": id_array(chats),
            "kind": pd.Categorical.from_codes(where[codes], categories=categories),
            "cause_id": id_array(causes),
            "hidden": ~retired.isna(),
            "superseded_by": retired,
            **payload_cols,
        },
        copy=False,
    )


def events(
    conn: sqlite3.Connection,
    *,
    include_retired: bool = False,
    chat_id: int | None = None,
    kind: str | None = None,
    newest: int | None = None,
) -> pd.DataFrame:
    """One row per event, oldest first, with its payload fields as columns.

    Retired events (replaced by an edit, a regeneration or a hide) are left out
    unless ``include_retired``; ``chat_id`` and ``kind`` keep one chat's or one
    kind's events, and ``newest`` only the newest N of them. A payload field is
    a column when a kind present has it (``NA`` in the other rows); a
    container's ``kind`` field is ``container_kind``.
    """
    where, args = [], []
    with atomic(conn, write=False):
        if chat_id is not None:
            where.append("chat_id = ?")
            args.append(check_chat(conn, chat_id))
        if kind is not None:
            where.append("kind = ?")
            args.append(_check_kind(conn, kind))
        if not include_retired:
            where.append(live())
        clause = "WHERE " + " AND ".join(where) if where else ""
        if newest is not None:
            if not is_id(newest) or newest < 0:
                raise FrameError(f"newest must be a count of events (0 or more), not {newest!r}")
            clause = f"WHERE id IN (SELECT id FROM event_log {clause} ORDER BY id DESC LIMIT ?)"
            args.append(int(newest))
        return event_rows(conn, clause, args, retired=include_retired)


def _check_kind(conn: sqlite3.Connection, kind: object) -> str:
    """``kind`` if it is declared or in the log; refuse it by name otherwise."""
    if isinstance(kind, str) and (
        kind in KINDS
        or conn.execute("SELECT 1 FROM event_log WHERE kind = ? LIMIT 1", (kind,)).fetchone()
    ):
        return kind
    raise FrameError(f"no event has kind {kind!r}; kinds are: {', '.join(KINDS)}")
