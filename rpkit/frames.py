"""A history as pandas frames: events, transcripts, affinity timelines, rewind previews.

Every frame is long form and typed: datetimes in UTC, categories for kinds,
nullable ``Int64`` for ids, pandas strings for text. Frames are built straight
from the SQLite cursor (cells read into numpy object arrays, payloads decoded
with orjson a kind and a chunk at a time, columns assembled as arrays), never
row by row through pandas, so a million events stay quick.
Nothing here writes to the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .catalogue import KINDS, TURN_KINDS
from .errors import FrameError
from .events import check_event_id
from .projection import _no_gc
from .rewind import compute_rewind_preview, rewind_points
from .store import atomic
from .timetravel import current_state, diff_states, state_at

EVENT_COLUMNS = ["id", "ts", "chat_id", "kind", "cause_id", "hidden", "superseded_by"]
# Payload keys that clash with an event column get a clearer name.
RENAMED = {"kind": "container_kind", "id": "payload_id", "ts": "payload_ts"}
# Fields that edits and regenerations add to a turn's payload (rpkit.edits).
REVISION_FIELDS = {"revision": str, "replaces": int}
_TURNS = tuple(sorted(TURN_KINDS))
ARROW = " → "


def _check_chat(conn: sqlite3.Connection, chat_id: object) -> int:
    if isinstance(chat_id, bool) or not isinstance(chat_id, int | np.integer):
        raise FrameError(
            f"chat_id must be an int, not {type(chat_id).__name__} {chat_id!r}; "
            "the chats are listed by current_state(conn)['chats']"
        )
    chat_id = int(chat_id)
    if conn.execute("SELECT 1 FROM event_log WHERE chat_id = ? LIMIT 1", (chat_id,)).fetchone():
        return chat_id
    known = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT chat_id FROM event_log WHERE chat_id IS NOT NULL ORDER BY chat_id"
        )
    ]
    raise FrameError(f"there is no chat {chat_id} in this history; pick one of {known}")


def _kind_categories(present: Iterable[str]) -> list[str]:
    return [*KINDS, *sorted(set(present) - set(KINDS))]


def _ids(values: Sequence[Any]) -> pd.arrays.IntegerArray:
    """Ids (None allowed) as nullable Int64, without a per-item pandas conversion."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return pd.arrays.IntegerArray(values.astype(np.int64), np.zeros(len(values), bool))
    floats = np.array(values, dtype=np.float64)  # None becomes NaN; ids stay exact < 2**53
    mask = np.isnan(floats)
    return pd.arrays.IntegerArray(np.where(mask, 0, floats).astype(np.int64), mask)


def _utc(values: Sequence[str]) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Index(values, dtype=object), utc=True, format="ISO8601")


def _payload_fields(kinds: Iterable[str]) -> dict[str, dict[str, type]]:
    """For each kind present, its payload fields and their types (catalogue order)."""
    out = {}
    for kind in kinds:
        spec = KINDS.get(kind)
        fields = {f.name: f.type for f in spec.fields} if spec is not None else {}
        if kind in TURN_KINDS:
            fields.update(REVISION_FIELDS)
        out[kind] = fields
    return out


def _typed(values: np.ndarray, typ: type | None) -> Any:
    if typ is float:
        return np.array(values, dtype=np.float64)  # None becomes NaN
    if typ is int:
        return pd.array(values, dtype="Int64")
    if typ is str:
        return pd.array(values, dtype="string")
    if typ is list:
        return values
    present = [v for v in values if v is not None]  # an extra field: infer
    if present and all(isinstance(v, str) for v in present):
        return pd.array(values, dtype="string")
    return values


def _objects(values: Sequence[Any]) -> np.ndarray:
    """``values`` as a 1-d object array (lists stay single cells)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _event_rows(
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
    with _no_gc():  # re-enabled once the cells are gone, so it finds little to scan
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


_CHUNK = 8192  # payloads decoded at a time: their dicts are still in the CPU cache when read


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
    for start in range(0, len(payloads), _CHUNK):
        dicts = list(map(orjson.loads, payloads[start : start + _CHUNK]))
        where = at[start : start + _CHUNK]
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
        out[at] = _objects(values)
    if typ is str:
        try:
            return pd.arrays.StringArray(out)
        except ValueError:  # a value that is not a string: pandas converts it, as before
            return pd.array(out, dtype="string")
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
    with _no_gc():
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
        for kind in _kind_categories(uniques):
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
        categories = _kind_categories(uniques)
        where = np.array([categories.index(k) for k in names], dtype=np.int64)
        retired = (
            _ids(sup)
            if sup is not None
            else pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
        )
        frame = pd.DataFrame(
            {
                "id": _ids(ids.astype(np.int64)),
                "ts": _utc(ts),
                "chat_id": _ids(chats),
                "kind": pd.Categorical.from_codes(where[codes], categories=categories),
                "cause_id": _ids(causes),
                "hidden": ~retired.isna(),
                "superseded_by": retired,
                **payload_cols,
            },
            copy=False,
        )
    return frame


def events(
    conn: sqlite3.Connection, *, include_hidden: bool = False, chat_id: int | None = None
) -> pd.DataFrame:
    """One row per event, oldest first, with its payload fields as columns.

    Retired events (replaced by an edit, a regeneration or a hide) are left out
    unless ``include_hidden``. A payload field is a column when a kind present has
    it (``NA`` in the other rows); a container's ``kind`` field is
    ``container_kind``.
    """
    where, args = [], []
    with atomic(conn, write=False):
        if chat_id is not None:
            where.append("chat_id = ?")
            args.append(_check_chat(conn, chat_id))
        if not include_hidden:
            where.append("superseded_by IS NULL")
        return _event_rows(
            conn, "WHERE " + " AND ".join(where) if where else "", args, retired=include_hidden
        )


# -- transcripts ----------------------------------------------------------------------


TURN_COLUMNS = [
    "chat_id",
    "position",
    "event_id",
    "kind",
    "speaker",
    "text",
    "ts",
    "revision",
    "retired",
    "replaced_by",
    "replaced_how",
    "rewind_point",
]


def turns(conn: sqlite3.Connection, chat_id: int, *, include_retired: bool = True) -> pd.DataFrame:
    """The transcript of one chat, in reading order, retired turns included and flagged.

    ``position`` is the turn's place in the live transcript (1 to the chat's
    ``turn_count``). An edit or regeneration takes the place of the turn it
    replaced, and the retired turn shows that same position, with ``replaced_by``
    (the new turn's id) and ``replaced_how`` (``edit``, ``regenerate``, ``hide``
    or the replacing event's kind). A hidden turn, which nothing replaced, has no
    position. ``rewind_point`` is the ``after_event_id`` of "rewind to here":
    the turn and the events it caused are kept, the chat's next turn is not
    (``rpkit.rewind_point``); for a
    retired turn it is the moment the turn was still live.
    """
    with atomic(conn, write=False):
        chat_id = _check_chat(conn, chat_id)
        rows = conn.execute(
            f"""
            SELECT e.id, e.ts, e.kind, e.payload, e.superseded_by, s.kind,
                   json_extract(s.payload, '$.revision')
            FROM event_log e LEFT JOIN event_log s ON s.id = e.superseded_by
            WHERE e.chat_id = ? AND e.kind IN ({", ".join("?" * len(_TURNS))})
            ORDER BY e.id
            """,
            (chat_id, *_TURNS),
        ).fetchall()
        points = rewind_points(conn, chat_id)
    kind_of = {r[0]: r[2] for r in rows}
    # A turn replaced by a turn of the same kind hands its place on; chains of
    # edits end at one final turn, and the turns of a chain share one place.
    successor = {r[0]: r[4] for r in rows if r[4] is not None and kind_of.get(r[4]) == r[2]}

    def final(turn: int) -> int:
        while turn in successor:
            turn = successor[turn]
        return turn

    group = {r[0]: final(r[0]) for r in rows}
    first_of: dict[int, int] = {}
    for turn, end in group.items():  # ids ascend, so the first seen is the original
        first_of.setdefault(end, turn)
    live = {r[0] for r in rows if r[4] is None}
    live_ends = sorted((first_of[end], end) for end in first_of if end in live)
    position = {end: i for i, (_, end) in enumerate(live_ends, start=1)}
    records = []
    for event_id, ts, kind, payload, sup, sup_kind, sup_revision in rows:
        if not include_retired and sup is not None:
            continue
        p = orjson.loads(payload)
        if sup is None:
            how = None
        elif sup_kind == "turn_hidden":
            how = "hide"
        else:
            how = sup_revision or sup_kind
        records.append(
            (
                chat_id,
                position.get(group[event_id]),
                event_id,
                kind,
                "you" if kind == "user_turn" else p.get("bot_id"),
                p.get("text"),
                ts,
                p.get("revision"),
                sup is not None,
                sup,
                how,
                points.get(event_id),
                first_of[group[event_id]],
            )
        )
    records.sort(key=lambda r: (r[-1], r[2]))
    cols = list(zip(*records, strict=True)) if records else [()] * (len(TURN_COLUMNS) + 1)
    frame = pd.DataFrame(
        {
            "chat_id": _ids(cols[0]),
            "position": _ids(cols[1]),
            "event_id": _ids(cols[2]),
            "kind": pd.Categorical(cols[3], categories=list(_TURNS)),
            "speaker": pd.array(cols[4], dtype="string"),
            "text": pd.array(cols[5], dtype="string"),
            "ts": _utc(cols[6]),
            "revision": pd.array(cols[7], dtype="string"),
            "retired": np.asarray(cols[8], dtype=bool),
            "replaced_by": _ids(cols[9]),
            "replaced_how": pd.array(cols[10], dtype="string"),
            "rewind_point": _ids(cols[11]),
        }
    )
    return frame


# -- affinity -------------------------------------------------------------------------


def pair_label(src: str, dst: str) -> str:
    """How a pair is written in frames and legends: ``"mira → you"``."""
    return f"{src}{ARROW}{dst}"


def _parse_pairs(pairs: object, known: Sequence[str]) -> list[str]:
    if isinstance(pairs, str | tuple):
        pairs = [pairs]
    try:
        items = list(pairs)  # type: ignore[arg-type]
    except TypeError:
        raise FrameError(
            f"pairs must be a list of (src, dst) tuples or 'src → dst' labels, not {pairs!r}"
        ) from None
    labels = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            parts = [str(x) for x in item]
        elif isinstance(item, str) and (ARROW.strip() in item or "->" in item):
            parts = item.replace("->", ARROW.strip()).split(ARROW.strip(), 1)
        else:
            raise FrameError(f"pair {item!r} is neither a (src, dst) tuple nor a 'src → dst' label")
        label = pair_label(parts[0].strip(), parts[1].strip())
        if label not in known:
            raise FrameError(
                f"pair {label!r} has no affinity updates in this history; choose from {list(known)}"
            )
        labels.append(label)
    return labels


AFFINITY_COLUMNS = [
    "event_id",
    "ts",
    "chat_id",
    "turn",
    "cause_id",
    "position",
    "src",
    "dst",
    "pair",
    "delta",
    "affinity",
    "updates",
]


def _column_cells(
    conn: sqlite3.Connection, sql: str, args: Sequence[Any], width: int
) -> np.ndarray:
    """A query's cells as an (rows, width) object array, with no list of row tuples."""
    cells = np.fromiter(chain.from_iterable(conn.execute(sql, args)), dtype=object)
    return cells.reshape(-1, width)


def _live_turns(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the live turns (ascending) and each one's place in its chat's transcript."""
    cells = _column_cells(
        conn,
        f"SELECT id, chat_id FROM event_log WHERE superseded_by IS NULL "
        f"AND kind IN ({', '.join('?' * len(_TURNS))}) ORDER BY id",
        _TURNS,
        2,
    )
    ids, chats = cells[:, 0].astype(np.int64), cells[:, 1].astype(np.int64)
    # Replacements take the place of the turn they replaced: the original's id.
    handed_on = dict(
        conn.execute(
            "SELECT s.id, e.id FROM event_log e JOIN event_log s ON s.id = e.superseded_by "
            "WHERE s.kind = e.kind AND e.kind IN (?, ?) ORDER BY e.id DESC",
            _TURNS,
        )
    )
    place = ids.copy()
    if handed_on:
        replacing = np.flatnonzero(np.isin(ids, np.fromiter(handed_on, dtype=np.int64)))
        for i in replacing.tolist():
            original = int(ids[i])
            while original in handed_on:
                original = handed_on[original]
            place[i] = original
    # Position: 1 + the chat's live turns with an earlier place (ties: by id).
    order = np.lexsort((place, chats))
    first = np.ones(len(ids), dtype=bool)
    first[1:] = chats[order][1:] != chats[order][:-1]
    starts = np.flatnonzero(first)
    rank = np.arange(len(ids)) - np.repeat(starts, np.diff(np.append(starts, len(ids))))
    position = np.empty(len(ids), dtype=np.int64)
    position[order] = rank + 1
    return ids, position


def _positions_of(
    cause: pd.arrays.IntegerArray, turn_ids: np.ndarray, turn_position: np.ndarray
) -> pd.arrays.IntegerArray:
    """The transcript position of each cause, NA where the cause is not a live turn."""
    ids = cause.to_numpy(dtype=np.int64, na_value=0)
    if not len(turn_ids):
        return pd.arrays.IntegerArray(np.zeros(len(ids), np.int64), np.ones(len(ids), bool))
    at = np.minimum(np.searchsorted(turn_ids, ids), len(turn_ids) - 1)
    found = ~np.asarray(cause.isna()) & (turn_ids[at] == ids)
    return pd.arrays.IntegerArray(np.where(found, turn_position[at], 0), ~found)


def _strings(values: Any) -> pd.arrays.StringArray:
    """Strings (None allowed) as a pandas string array; pandas converts anything else."""
    arr = values if isinstance(values, np.ndarray) else _objects(values)
    try:
        return pd.arrays.StringArray(arr)
    except ValueError:
        return pd.array(arr, dtype="string")


def _pair_codes(src: list[Any], dst: list[Any]) -> tuple[np.ndarray, list[str]]:
    """Each update's pair as a code into the sorted pair labels (``"src → dst"``)."""
    s_codes, s_uniq = pd.factorize(_objects(src))
    d_codes, d_uniq = pd.factorize(_objects(dst))
    if (s_codes < 0).any() or (d_codes < 0).any():  # a missing name: label each row
        labels = pd.Index(src, dtype=object) + ARROW + pd.Index(dst, dtype=object)
        codes, uniques = pd.factorize(labels)
        categories = sorted(uniques)
        where = np.array([categories.index(u) for u in uniques], dtype=np.int64)
        out = np.full(len(codes), -1, dtype=np.int64)  # no label: NA, as pandas has it
        out[codes >= 0] = where[codes[codes >= 0]]
        return out, categories
    keys, inverse = np.unique(s_codes * len(d_uniq) + d_codes, return_inverse=True)
    labels = [pair_label(s_uniq[k // len(d_uniq)], d_uniq[k % len(d_uniq)]) for k in keys]
    categories = sorted(set(labels))  # two pairs can share a label if a name holds " → "
    number = {label: i for i, label in enumerate(categories)}
    where = np.array([number[label] for label in labels], dtype=np.int64)
    return where[inverse.reshape(-1)], categories


def affinity(conn: sqlite3.Connection, *, pairs: object = None) -> pd.DataFrame:
    """The affinity timeline: one row per visible ``edge_update``, oldest first.

    Columns: the update's ``event_id``, ``ts`` and ``chat_id``; ``turn`` (how many
    visible turns the whole history had at that event: a shared x axis for all
    chats); ``cause_id`` and ``position`` (the turn the update was derived from and
    its place in its chat's transcript); ``src``, ``dst``, ``pair``
    (``"src → dst"``), ``delta``; ``affinity``, the pair's running sum, and
    ``updates``, its running count. The last row of each pair equals that pair's
    row in ``edges``. ``pairs`` keeps only some pairs: ``[("mira", "you")]`` or
    ``["mira → you"]``.
    """
    with _no_gc():  # re-enabled once the cells are gone, so it finds little to scan
        with atomic(conn, write=False):
            cells = _column_cells(
                conn,
                "SELECT id, ts, chat_id, cause_id, payload FROM event_log "
                "WHERE kind = 'edge_update' AND superseded_by IS NULL ORDER BY id",
                (),
                5,
            )
            turn_ids, turn_position = _live_turns(conn)
        decoded = list(map(orjson.loads, cells[:, 4]))
        src = [d["src"] for d in decoded]
        dst = [d["dst"] for d in decoded]
        delta = np.array([d["delta"] for d in decoded], dtype=np.float64)
        del decoded
        event_ids = cells[:, 0].astype(np.int64)
        codes, categories = _pair_codes(src, dst)
        running = _running_sums(delta, codes)
        cause = _ids(cells[:, 3])
        position = _positions_of(cause, turn_ids, turn_position)
        frame = pd.DataFrame(
            {
                "event_id": _ids(event_ids),
                "ts": _utc(cells[:, 1]),
                "chat_id": _ids(cells[:, 2]),
                "turn": _ids(np.searchsorted(turn_ids, event_ids, side="right")),
                "cause_id": cause,
                "position": position,
                "src": _strings(src),
                "dst": _strings(dst),
                "pair": pd.Categorical.from_codes(codes, categories=categories),
                "delta": delta,
                "affinity": running,
                "updates": _ids(_running_counts(codes)),
            },
            copy=False,
        )
        del cells
    if pairs is not None:
        keep = _parse_pairs(pairs, categories)
        frame = frame[frame["pair"].isin(keep)].reset_index(drop=True)
        frame["pair"] = frame["pair"].cat.set_categories([c for c in categories if c in keep])
    return frame


def _running_counts(codes: np.ndarray) -> np.ndarray:
    """Per-group running counts (1, 2, ...) in order."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    first = np.ones(len(codes), dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    starts = np.flatnonzero(first)
    counts = np.empty(len(codes), dtype=np.int64)
    counts[order] = (
        np.arange(len(codes)) - np.repeat(starts, np.diff(np.append(starts, len(codes)))) + 1
    )
    return counts


def _running_sums(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-group running sums, added one by one in order, exactly as the projection adds.

    (pandas' groupby cumsum compensates rounding, so its last value can differ from
    ``edges.affinity`` in the last bit.)
    """
    out = np.empty_like(values)
    if len(values) == 0:
        return out
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for part in np.split(order, bounds):
        out[part] = np.cumsum(values[part])
    return out


def final_affinity(timeline: pd.DataFrame) -> pd.DataFrame:
    """The last row of each pair of an affinity timeline: what ``edges`` holds now."""
    last = timeline.groupby("pair", observed=True, sort=True).tail(1)
    return (
        last[["src", "dst", "pair", "affinity", "updates", "event_id"]]
        .sort_values(["src", "dst"], kind="stable")
        .reset_index(drop=True)
    )


# -- rewind previews and diffs --------------------------------------------------------


def _chat_titles(conn: sqlite3.Connection) -> dict[int, str]:
    return dict(conn.execute("SELECT id, title FROM chats"))


@dataclass
class RewindPreview:
    """``compute_rewind_preview`` as frames, with the dict kept for ``execute_rewind``.

    ``by_kind``: events removed per kind (``retired``: of those, already retired);
    ``by_chat``: events and turns removed per chat (NA: world-level events);
    ``restored``: retired events the rewind brings back; ``removed``: the events
    that go, as an ``events`` frame.
    """

    after_event_id: int
    preview: dict[str, Any] = field(repr=False)
    by_kind: pd.DataFrame = field(repr=False)
    by_chat: pd.DataFrame = field(repr=False)
    restored: pd.DataFrame = field(repr=False)
    removed: pd.DataFrame = field(repr=False)

    @property
    def total_events(self) -> int:
        return int(self.preview["total_events"])

    def summary(self) -> str:
        """One paragraph saying what the rewind removes and brings back."""
        p = self.preview
        chats = ", ".join(
            f"{'world' if pd.isna(r.chat_id) else f'chat {r.chat_id}'}: {r.events}"
            for r in self.by_chat.itertuples()
        )
        text = (
            f"Rewind to after event {p['after_event_id']} (newest is {p['head_event_id']}): "
            f"removes {p['total_events']} events ({p['hidden_events']} already retired)"
        )
        if chats:
            text += f" [{chats}]"
        text += f"; brings back {len(self.restored)} retired events."
        return text

    def __repr__(self) -> str:
        return f"RewindPreview({self.summary()})"

    def _repr_html_(self) -> str:
        parts = [
            f"<p><b>{self.summary()}</b></p>",
            self.by_kind.to_html(index=False),
            self.by_chat.to_html(index=False),
        ]
        if len(self.restored):
            parts.append(self.restored.to_html(index=False))
        return "".join(parts)


def rewind_preview(conn: sqlite3.Connection, after_event_id: int) -> RewindPreview:
    """What rewinding to ``after_event_id`` removes and brings back, as frames.

    The numbers are those of ``compute_rewind_preview`` (kept in ``.preview``,
    which ``execute_rewind(expected_preview=...)`` checks against).
    """
    with atomic(conn, write=False):
        preview = compute_rewind_preview(conn, after_event_id)
        n = preview["after_event_id"]
        titles = _chat_titles(conn)
        removed = _event_rows(conn, "WHERE id > ?", (n,), retired=True)
        restored = _event_rows(  # by the superseded_by index, not a scan of ids up to n
            conn,
            "INDEXED BY event_log_superseded_by WHERE id <= ? AND superseded_by > ?",
            (n, n),
            retired=True,
        )
    retired = removed.groupby("kind", observed=True)["hidden"].sum()
    kinds = list(preview["by_kind"])
    by_kind = pd.DataFrame(
        {
            "kind": pd.Categorical(kinds, categories=_kind_categories(kinds)),
            "events": _ids(list(preview["by_kind"].values())),
            "retired": _ids([int(retired.get(k, 0)) for k in kinds]),
        }
    )
    chats = list(preview["by_chat"])
    is_turn = removed["kind"].isin(list(TURN_KINDS)) & ~removed["hidden"]
    turns_gone = removed[is_turn].groupby("chat_id").size()
    by_chat = pd.DataFrame(
        {
            "chat_id": _ids(chats),
            "title": pd.array([titles.get(c) for c in chats], dtype="string"),
            "events": _ids(list(preview["by_chat"].values())),
            "turns": _ids([int(turns_gone.get(c, 0)) if c is not None else 0 for c in chats]),
        }
    )
    keep = [
        c
        for c in ("id", "ts", "chat_id", "kind", "superseded_by", "text", "src", "dst", "delta")
        if c in restored.columns
    ]
    return RewindPreview(n, preview, by_kind, by_chat, restored[keep], removed)


@dataclass
class RewindDiff:
    """What a rewind changes in the projected tables, computed without touching them.

    ``changes``: the long diff (``diff_states`` of now and ``state_at(n)``: rows
    ``removed``, ``added`` back and ``changed`` per column); ``affinity``: per
    pair, the affinity ``now`` and ``after`` the rewind (NA where the pair has no
    edge), and the change.
    """

    after_event_id: int
    changes: pd.DataFrame = field(repr=False)
    affinity: pd.DataFrame = field(repr=False)

    @property
    def counts(self) -> pd.DataFrame:
        """Rows removed, added back and changed per table (changed: rows, not cells)."""
        rows = self.changes.drop_duplicates(["table", "key", "change"])
        table = rows.groupby(["table", "change"]).size().unstack("change", fill_value=0)
        for col in ("removed", "added", "changed"):
            if col not in table.columns:
                table[col] = 0
        return table[["removed", "added", "changed"]].astype("int64")

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"RewindDiff(after event {self.after_event_id}: {int(c['removed'].sum())} rows "
            f"removed, {int(c['added'].sum())} added back, {int(c['changed'].sum())} changed "
            f"in {len(c)} tables)"
        )

    def _repr_html_(self) -> str:
        return (
            f"<p><b>{repr(self)[11:-1]}</b></p>{self.counts.to_html()}"
            f"{self.affinity.to_html(index=False)}"
        )


def _affinity_change(now: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    cols = ["src", "dst", "affinity"]
    merged = now[cols].merge(
        after[cols], on=["src", "dst"], how="outer", suffixes=("_now", "_after")
    )
    merged = merged.sort_values(["src", "dst"], kind="stable").reset_index(drop=True)
    now_v = merged["affinity_now"].astype("Float64")
    after_v = merged["affinity_after"].astype("Float64")
    return pd.DataFrame(
        {
            "src": merged["src"].astype("string"),
            "dst": merged["dst"].astype("string"),
            "pair": pd.array(
                [pair_label(s, d) for s, d in zip(merged["src"], merged["dst"], strict=True)],
                dtype="string",
            ),
            "now": now_v,
            "after": after_v,
            "change": after_v.fillna(0.0) - now_v.fillna(0.0),
        }
    )


def rewind_diff(conn: sqlite3.Connection, after_event_id: int) -> RewindDiff:
    """What ``execute_rewind(after_event_id)`` would change in every projected table.

    Read-only: the live tables and ``state_at(after_event_id)`` are compared in
    one read transaction.
    """
    n = check_event_id(conn, after_event_id, what="after_event_id")
    with atomic(conn, write=False):
        now = current_state(conn)
        then = state_at(conn, n)
    return RewindDiff(n, diff_states(now, then), _affinity_change(now["edges"], then["edges"]))
