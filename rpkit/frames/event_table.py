"""The events frame: one row per event, its payload fields as typed columns.

Payloads are decoded with orjson a kind and a chunk at a time and their
fields read while the new dicts are still in the CPU cache; the columns are
assembled as arrays.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..dtypes import STRING
from ..errors import FrameError
from ..gcpause import paused_gc
from ..kinds import KINDS
from ..store import atomic, is_id
from .columns import check_chat, id_array, kind_categories, object_array, utc_times

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


def _typed(values: np.ndarray, typ: type | None) -> Any:
    if typ is float:
        return np.array(values, dtype=np.float64)  # None becomes NaN
    if typ is int:
        return pd.array(values, dtype="Int64")
    if typ is str:
        return pd.array(values, dtype=STRING)
    if typ is list:
        return values
    present = [v for v in values if v is not None]  # an extra field: infer
    if present and all(isinstance(v, str) for v in present):
        return pd.array(values, dtype=STRING)
    return values


def event_rows(
    conn: sqlite3.Connection, where: str, args: Sequence[Any], *, retired: bool
) -> pd.DataFrame:
    """The events matching ``where`` as a frame (see ``events``).

    The cursor's cells go straight into one object array (no list of row
    tuples). The kind comes as its index in ``KINDS`` (a small int: no string
    made per row). ``hidden`` is not read: the schema's CHECK makes it
    ``superseded_by IS NOT NULL``; and when ``retired`` is false (``where``
    leaves retired events out) ``superseded_by`` is not read either.
    """
    names = list(KINDS)
    whens = " ".join(f"WHEN ? THEN {i}" for i in range(len(names)))
    cols = f"id, ts, chat_id, CASE kind {whens} ELSE -1 END, cause_id, payload"
    if retired:
        cols += ", superseded_by"
    width = 7 if retired else 6
    with paused_gc():  # re-enabled once the cells are gone, so it finds little to scan
        cells = np.fromiter(
            chain.from_iterable(
                conn.execute(f"SELECT {cols} FROM event_log {where} ORDER BY id", [*names, *args])
            ),
            dtype=object,
        ).reshape(-1, width)
        codes = cells[:, 3].astype(np.int64)
        if (codes < 0).any():  # a kind the catalogue does not know (not added by rpkit)
            kinds = [
                r[0] for r in conn.execute(f"SELECT kind FROM event_log {where} ORDER BY id", args)
            ]
            unknown = sorted({k for k in kinds if k not in KINDS})
            names += unknown
            number = {k: i for i, k in enumerate(names)}
            codes = np.fromiter(map(number.__getitem__, kinds), dtype=np.int64, count=len(kinds))
        frame = _event_frame(
            ids=cells[:, 0],
            ts=cells[:, 1],
            chats=cells[:, 2],
            codes=codes,
            names=names,
            causes=cells[:, 4],
            payloads=cells[:, 5],
            sup=cells[:, 6] if retired else None,
        )
        del cells
    return frame


CHUNK = 8192  # payloads decoded at a time: their dicts are still in the CPU cache when read


def _split_payloads(
    kind: str,
    payloads: np.ndarray,
    at: np.ndarray,
    fields: dict[str, type],
    pieces: dict[str, list[tuple[np.ndarray, Sequence[Any]]]],
) -> set[str]:
    """Decode the JSON ``payloads`` of one kind (rows ``at``) into ``pieces``; return extra keys.

    Payloads are decoded a chunk at a time and their fields read at once, while
    the new dicts are still in the CPU cache; the required fields in one C pass
    (``itemgetter``). The catalogue's fields come first; once they account for
    every key of every payload of the chunk (the total of the payloads'
    lengths), nothing is left to look for: the remaining optional fields are
    absent and there are no extra keys. Only when that count falls short (an
    extra key, or a ``null`` value) are the keys listed.
    """
    extra: set[str] = set()
    spec = KINDS.get(kind)
    required = [f.name for f in spec.fields if f.required] if spec is not None else []
    rest = [name for name in fields if name not in required]
    take = itemgetter(*required) if required else None
    for start in range(0, len(payloads), CHUNK):
        dicts = list(map(orjson.loads, payloads[start : start + CHUNK]))
        where = at[start : start + CHUNK]
        total = sum(map(len, dicts))
        found = 0
        names = list(fields)
        if take is not None:
            try:  # the required fields in one C pass (a payload without one: KeyError)
                got = list(map(take, dicts))
            except KeyError:
                pass
            else:
                columns = zip(*got, strict=True) if len(required) > 1 else [got]
                for name, values in zip(required, columns, strict=True):
                    present = len(values) - values.count(None)
                    if present:
                        pieces.setdefault(name, []).append((where, values))
                        found += present
                names = rest
        for name in names:
            if found == total:
                break
            values = [d.get(name) for d in dicts]
            present = len(values) - values.count(None)
            if present:
                pieces.setdefault(name, []).append((where, values))
                found += present
        if found < total:
            more = set().union(*dicts) - set(fields)
            for name in more:
                pieces.setdefault(name, []).append((where, [d.get(name) for d in dicts]))
            extra |= more
    return extra


def _column(n: int, pieces: list[tuple[np.ndarray, Sequence[Any]]], typ: type | None) -> Any:
    """A payload column of ``n`` rows from (rows, values) pieces, typed as ``_typed`` does."""
    if typ is float:
        out = np.full(n, np.nan)
        for at, values in pieces:
            out[at] = np.array(values, dtype=np.float64)  # None becomes NaN
        return out
    if typ is int:
        data, mask = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        for at, values in pieces:
            try:
                arr = np.array(values)
            except (TypeError, ValueError):
                arr = None
            if arr is not None and arr.dtype.kind == "i":
                data[at], mask[at] = arr, False
            else:  # None or anything odd: pandas decides, as before
                part = pd.array(list(values), dtype="Int64")
                data[at] = part.to_numpy(dtype=np.int64, na_value=0)
                mask[at] = np.asarray(part.isna())
        return pd.arrays.IntegerArray(data, mask)
    out = np.full(n, None, dtype=object)
    for at, values in pieces:
        out[at] = object_array(values)
    if typ is str:
        try:
            return pd.arrays.StringArray(out, dtype=STRING)
        except ValueError:  # a value that is not a string: pandas converts it, as before
            return pd.array(out, dtype=STRING)
    return _typed(out, typ)


def _event_frame(
    *,
    ids: np.ndarray,
    ts: np.ndarray,
    chats: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    causes: np.ndarray,
    payloads: np.ndarray,
    sup: np.ndarray | None,
) -> pd.DataFrame:
    """Event columns as a frame; ``codes`` index ``names``, ``sup=None``: none retired."""
    n = len(ids)
    with paused_gc():
        # Each kind's rows, kinds in order of first appearance.
        counts = np.bincount(codes, minlength=len(names))
        members = {names[c]: np.flatnonzero(codes == c) for c in np.flatnonzero(counts)}
        uniques = sorted(members, key=lambda k: members[k][0])
        fields = _payload_fields(uniques)
        pieces: dict[str, list[tuple[np.ndarray, Sequence[Any]]]] = {}
        extra_of = {
            k: _split_payloads(k, payloads[members[k]], members[k], fields[k], pieces)
            for k in uniques
        }
        # Payload columns: the catalogue's fields of the kinds present, in catalogue
        # order, then any extra field (e.g. an importer's provenance).
        order: dict[str, type | None] = {}
        for kind in kind_categories(uniques):
            for name, typ in fields.get(kind, {}).items():
                order.setdefault(name, typ)
        for kind in uniques:
            for name in sorted(extra_of[kind]):
                order.setdefault(name, None)
        payload_cols = {
            RENAMED.get(name, name): _column(n, pieces.get(name, []), typ)
            for name, typ in order.items()
        }
        del pieces
        categories = kind_categories(uniques)
        where = np.array([categories.index(k) for k in names], dtype=np.int64)
        retired = (
            id_array(sup)
            if sup is not None
            else pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
        )
        frame = pd.DataFrame(
            {
                "id": id_array(ids.astype(np.int64)),
                "ts": utc_times(ts),
                "chat_id": id_array(chats),
                "kind": pd.Categorical.from_codes(where[codes], categories=categories),
                "cause_id": id_array(causes),
                "hidden": ~retired.isna(),
                "superseded_by": retired,
                **payload_cols,
            },
            copy=False,
        )
    return frame


def events(
    conn: sqlite3.Connection,
    *,
    include_hidden: bool = False,
    chat_id: int | None = None,
    kind: str | None = None,
    newest: int | None = None,
) -> pd.DataFrame:
    """One row per event, oldest first, with its payload fields as columns.

    Retired events (replaced by an edit, a regeneration or a hide) are left out
    unless ``include_hidden``; ``chat_id`` and ``kind`` keep one chat's or one
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
        if not include_hidden:
            where.append("superseded_by IS NULL")
        clause = "WHERE " + " AND ".join(where) if where else ""
        if newest is not None:
            if not is_id(newest) or newest < 0:
                raise FrameError(f"newest must be a count of events (0 or more), not {newest!r}")
            clause = f"WHERE id IN (SELECT id FROM event_log {clause} ORDER BY id DESC LIMIT ?)"
            args.append(int(newest))
        return event_rows(conn, clause, args, retired=include_hidden)


def _check_kind(conn: sqlite3.Connection, kind: object) -> str:
    """``kind`` if it is declared or in the log; refuse it by name otherwise."""
    if isinstance(kind, str) and (
        kind in KINDS
        or conn.execute("SELECT 1 FROM event_log WHERE kind = ? LIMIT 1", (kind,)).fetchone()
    ):
        return kind
    raise FrameError(f"no event has kind {kind!r}; kinds are: {', '.join(KINDS)}")
