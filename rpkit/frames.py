"""A history as pandas frames: events, transcripts, affinity timelines, rewind previews.

Every frame is long form and typed: datetimes in UTC, categories for kinds,
nullable ``Int64`` for ids, pandas strings for text. Frames are built straight
from the SQLite cursor (payloads decoded with orjson, columns assembled as
arrays), never row by row through pandas, so a million events stay quick.
Nothing here writes to the database.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .catalogue import KINDS, TURN_KINDS
from .errors import FrameError
from .events import check_event_id
from .rewind import compute_rewind_preview
from .store import atomic
from .timetravel import current_state, diff_states, state_at

EVENT_COLUMNS = ["id", "ts", "chat_id", "kind", "cause_id", "hidden", "superseded_by"]
# Payload keys that clash with an event column get a clearer name.
RENAMED = {"kind": "container_kind", "id": "payload_id", "ts": "payload_ts"}
# Fields that edits and regenerations add to a turn's payload (rpkit.edits).
REVISION_FIELDS = {"revision": str, "replaces": int}
_TURNS = tuple(sorted(TURN_KINDS))
ARROW = " → "


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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


def _kind_column(codes: np.ndarray, uniques: list[str]) -> pd.Categorical:
    categories = _kind_categories(uniques)
    where = np.array([categories.index(u) for u in uniques], dtype=np.int64)
    return pd.Categorical.from_codes(
        where[codes] if len(uniques) else np.array([], dtype=np.int64), categories=categories
    )


def _rows_of(items: list[Any], idx: np.ndarray) -> tuple:
    """``items`` at positions ``idx``, as a tuple (C speed)."""
    if len(idx) == 0:
        return ()
    if len(idx) == 1:
        return (items[int(idx[0])],)
    return itemgetter(*idx.tolist())(items)


def _event_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (id, ts, chat_id, kind, cause_id, hidden, superseded_by, payload) as a frame."""
    n = len(rows)
    with _no_gc():
        cols = list(zip(*rows, strict=True)) if rows else [()] * 8
        ids, ts, chats, kinds, causes, hidden, sup, payloads = cols
        codes, uniques = pd.factorize(pd.Index(kinds, dtype=object))
        uniques = list(uniques)
        fields = _payload_fields(uniques)
        decoded = list(map(orjson.loads, payloads))
        # Each kind's payloads, and every key they use (set.union runs in C).
        members = {k: np.flatnonzero(codes == i) for i, k in enumerate(uniques)}
        payloads_of = {k: _rows_of(decoded, members[k]) for k in uniques}
        keys_of = {k: set().union(*payloads_of[k]) for k in uniques}
        # Payload columns: the catalogue's fields of the kinds present, in catalogue
        # order, then any extra field (e.g. an importer's provenance).
        order: dict[str, type | None] = {}
        for kind in _kind_categories(uniques):
            for name, typ in fields.get(kind, {}).items():
                order.setdefault(name, typ)
        for kind in uniques:
            for name in sorted(keys_of[kind] - set(fields[kind])):
                order.setdefault(name, None)
        payload_cols = {}
        for name, typ in order.items():
            column = np.full(n, None, dtype=object)
            for kind in uniques:
                if name in fields[kind] or name in keys_of[kind]:
                    values = payloads_of[kind]
                    # fromiter keeps list values (bot_ids) as single cells
                    column[members[kind]] = np.fromiter(
                        (d.get(name) for d in values), dtype=object, count=len(values)
                    )
            payload_cols[RENAMED.get(name, name)] = _typed(column, typ)
    frame = pd.DataFrame(
        {
            "id": _ids(ids),
            "ts": _utc(ts),
            "chat_id": _ids(chats),
            "kind": _kind_column(codes, uniques),
            "cause_id": _ids(causes),
            "hidden": np.asarray(hidden, dtype=bool),
            "superseded_by": _ids(sup),
            **payload_cols,
        }
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
        sql = (
            "SELECT id, ts, chat_id, kind, cause_id, hidden, superseded_by, payload FROM event_log"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        with _no_gc():
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return _event_frame(rows)


# -- transcripts ----------------------------------------------------------------------


def _rewind_points(conn: sqlite3.Connection, chat_id: int) -> dict[int, int]:
    """For every turn of the chat, ``rewind_point``: the turn and all it caused."""
    return dict(
        conn.execute(
            f"""
            WITH RECURSIVE derived(root, id) AS (
              SELECT id, id FROM event_log
              WHERE chat_id = ? AND kind IN ({", ".join("?" * len(_TURNS))})
              UNION
              SELECT d.root, e.id FROM event_log e JOIN derived d ON e.cause_id = d.id
            )
            SELECT root, MAX(id) FROM derived GROUP BY root
            """,
            (chat_id, *_TURNS),
        )
    )


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
    the turn and every event it caused are kept (``rpkit.rewind_point``); for a
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
        points = _rewind_points(conn, chat_id)
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


def _live_positions(conn: sqlite3.Connection) -> pd.Series:
    """Transcript position (within its chat) of every live turn, indexed by event id."""
    live = conn.execute(
        f"SELECT id, chat_id FROM event_log WHERE superseded_by IS NULL "
        f"AND kind IN ({', '.join('?' * len(_TURNS))}) ORDER BY id",
        _TURNS,
    ).fetchall()
    if not live:
        return pd.Series([], dtype="Int64")
    ids, chats = (np.asarray(c, dtype=np.int64) for c in zip(*live, strict=True))
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
        for i, turn in enumerate(ids):
            original = int(turn)
            while original in handed_on:
                original = handed_on[original]
            place[i] = original
    frame = pd.DataFrame({"chat": chats, "place": place}, index=ids)
    return frame.groupby("chat")["place"].rank(method="first").astype("Int64")


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
    with atomic(conn, write=False), _no_gc():
        rows = conn.execute(
            "SELECT id, ts, chat_id, cause_id, payload FROM event_log "
            "WHERE kind = 'edge_update' AND superseded_by IS NULL ORDER BY id"
        ).fetchall()
        turn_ids = np.fromiter(
            (
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM event_log WHERE superseded_by IS NULL "
                    f"AND kind IN ({', '.join('?' * len(_TURNS))}) ORDER BY id",
                    _TURNS,
                )
            ),
            dtype=np.int64,
        )
        positions = _live_positions(conn)
    with _no_gc():
        if rows:
            ids, ts, chats, causes, payloads = zip(*rows, strict=True)
        else:
            ids, ts, chats, causes, payloads = (), (), (), (), ()
        decoded = list(map(orjson.loads, payloads))
        src = [d["src"] for d in decoded]
        dst = [d["dst"] for d in decoded]
        delta = np.fromiter((d["delta"] for d in decoded), dtype=np.float64, count=len(rows))
    event_ids = np.asarray(ids, dtype=np.int64)
    labels = (
        pd.Index(src, dtype=object) + ARROW + pd.Index(dst, dtype=object)
        if rows
        else (pd.Index([], dtype=object))
    )
    codes, uniques = pd.factorize(labels)
    order = sorted(range(len(uniques)), key=lambda i: uniques[i])
    categories = [uniques[i] for i in order]
    running = _running_sums(delta, codes)
    counts = pd.Series(codes).groupby(codes).cumcount().to_numpy() + 1 if rows else event_ids
    cause = _ids(causes)
    frame = pd.DataFrame(
        {
            "event_id": _ids(event_ids),
            "ts": _utc(ts),
            "chat_id": _ids(chats),
            "turn": _ids(np.searchsorted(turn_ids, event_ids, side="right")),
            "cause_id": cause,
            "position": pd.array(
                positions.reindex(pd.Index(cause, dtype="Int64")).to_numpy(), dtype="Int64"
            )
            if rows
            else _ids([]),
            "src": pd.array(src, dtype="string"),
            "dst": pd.array(dst, dtype="string"),
            "pair": pd.Categorical(labels, categories=categories),
            "delta": delta,
            "affinity": running.astype(np.float64),
            "updates": _ids(counts),
        }
    )
    if pairs is not None:
        keep = _parse_pairs(pairs, categories)
        frame = frame[frame["pair"].isin(keep)].reset_index(drop=True)
        frame["pair"] = frame["pair"].cat.set_categories([c for c in categories if c in keep])
    return frame


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
        removed = _event_frame(
            conn.execute(
                "SELECT id, ts, chat_id, kind, cause_id, hidden, superseded_by, payload "
                "FROM event_log WHERE id > ? ORDER BY id",
                (n,),
            ).fetchall()
        )
        restored_rows = conn.execute(
            "SELECT id, ts, chat_id, kind, cause_id, hidden, superseded_by, payload "
            "FROM event_log WHERE id <= ? AND superseded_by > ? ORDER BY id",
            (n, n),
        ).fetchall()
    restored = _event_frame(restored_rows)
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
