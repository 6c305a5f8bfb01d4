"""The affinity timeline: one row per visible edge_update, with the pair's running sum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..errors import FrameError
from ..gcpause import paused_gc
from ..kinds import EDGE_UPDATE
from ..store import atomic, live
from ..store.sqlite import sqlite3
from .columns import id_array, object_array, query_cells, string_array, utc_times
from .transcript import live_turn_positions

ARROW = " → "


def pair_label(src: str, dst: str) -> str:
    """How a pair is written in frames and legends: ``"mira → you"``."""
    return f"{src}{ARROW}{dst}"


def parse_pairs(pairs: object, known: Sequence[str]) -> list[str]:
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


AT_TURN = "at_turn"  # the edge_update payload field naming the turn the update sits at

AFFINITY_COLUMNS = [
    "event_id",
    "ts",
    "chat_id",
    "turn",
    "place_id",
    "cause_id",
    "position",
    "src",
    "dst",
    "pair",
    "delta",
    "affinity",
    "updates",
]


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


def _pair_codes(src: list[Any], dst: list[Any]) -> tuple[np.ndarray, list[str]]:
    """Each update's pair as a code into the sorted pair labels (``"src → dst"``)."""
    s_codes, s_uniq = pd.factorize(object_array(src))
    d_codes, d_uniq = pd.factorize(object_array(dst))
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
    visible turns the whole history had at the update's place: a shared x axis
    for all chats); ``place_id``, the event the update sits at on the event axis
    (the turn a derived update names in ``at_turn``, the turn ``classify``
    derived it from: after an import it appends every update at the end of the
    log, yet each charts at its own turn; else the update itself); ``cause_id`` and ``position`` (the turn the update was derived from and
    its place in its chat's transcript); ``src``, ``dst``, ``pair``
    (``"src → dst"``), ``delta``; ``affinity``, the pair's running sum, and
    ``updates``, its running count. The last row of each pair equals that pair's
    row in ``edges``. ``pairs`` keeps only some pairs: ``[("mira", "you")]`` or
    ``["mira → you"]``.
    """
    with paused_gc():  # re-enabled once the cells are gone, so it finds little to scan
        with atomic(conn, write=False):
            cells = query_cells(
                conn,
                "SELECT id, ts, chat_id, cause_id, payload FROM event_log "
                f"WHERE kind = ? AND {live()} ORDER BY id",
                (EDGE_UPDATE,),
                5,
            )
            turn_ids, turn_position = live_turn_positions(conn)
        decoded = list(map(orjson.loads, cells[:, 4]))
        src = [d["src"] for d in decoded]
        dst = [d["dst"] for d in decoded]
        delta = np.array([d["delta"] for d in decoded], dtype=np.float64)
        # A derived update names the turn it sits at (``classify`` writes ``at_turn``:
        # after an import it appends every update after every turn, yet each belongs
        # at its own turn); any other update sits where it is in the log.
        at = [d.get(AT_TURN) for d in decoded]
        del decoded
        event_ids = cells[:, 0].astype(np.int64)
        codes, categories = _pair_codes(src, dst)
        running = _running_sums(delta, codes)
        cause = id_array(cells[:, 3])
        position = _positions_of(cause, turn_ids, turn_position)
        place = np.array(
            [
                a if isinstance(a, int) and 0 < a < e else e
                for a, e in zip(at, event_ids.tolist(), strict=True)
            ],
            dtype=np.int64,
        )
        frame = pd.DataFrame(
            {
                "event_id": id_array(event_ids),
                "ts": utc_times(cells[:, 1]),
                "chat_id": id_array(cells[:, 2]),
                "turn": id_array(np.searchsorted(turn_ids, place, side="right")),
                "place_id": id_array(place),
                "cause_id": cause,
                "position": position,
                "src": string_array(src),
                "dst": string_array(dst),
                "pair": pd.Categorical.from_codes(codes, categories=categories),
                "delta": delta,
                "affinity": running,
                "updates": id_array(_running_counts(codes)),
            },
            copy=False,
        )
        del cells
    if pairs is not None:
        keep = parse_pairs(pairs, categories)
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
