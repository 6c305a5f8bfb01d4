"""Time travel and diffs: the projected state as DataFrames, at any event.

``state_at`` answers "what did every table look like at event N" without
touching the database; ``diff_states`` says what changes between two such
states.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..dtypes import STRING, pandas_dtype
from ..projection import MemorySink, fold, rollback_entries, rollback_point
from ..store import PROJECTED, atomic, check_event_id, get_meta
from ..store.sqlite import sqlite3

DIFF_COLUMNS = ["table", "key", "change", "column", "old", "new"]


def table_frame(name: str, rows: list[dict[str, Any]] | list[tuple]) -> pd.DataFrame:
    """Rows of projected table ``name`` as a typed frame, sorted by key."""
    table = PROJECTED[name]
    cols = table.column_names
    frame = pd.DataFrame.from_records(rows, columns=cols) if rows else pd.DataFrame(columns=cols)
    for col, _sql, dtype in table.columns:
        if dtype == "datetime":
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        else:
            frame[col] = frame[col].astype(pandas_dtype(dtype))
    return frame.sort_values(list(table.key), kind="stable").reset_index(drop=True)


def sink_frames(sink: MemorySink) -> dict[str, pd.DataFrame]:
    """Every table of ``sink`` as a typed frame."""
    return {name: table_frame(name, list(rows.values())) for name, rows in sink.tables.items()}


def current_state(conn: sqlite3.Connection) -> dict[str, pd.DataFrame]:
    """The live projected tables, in the same shape as ``state_at``."""
    return sink_frames(MemorySink.load(conn))


def state_sink(conn: sqlite3.Connection, event_id: int) -> MemorySink:
    """The projected tables at ``event_id``, in memory (the database is only read)."""
    start = rollback_point(conn, event_id)
    if start > get_meta(conn, "undo_floor"):
        sink = MemorySink.load(conn)
        sink.roll_back(rollback_entries(conn, start))
    else:
        sink, start = MemorySink(), 1
    fold(conn, sink, start, event_id, desc="time travel")
    return sink


def state_at(conn: sqlite3.Connection, event_id: int) -> dict[str, pd.DataFrame]:
    """Every projected table as it was at ``event_id`` (0: before the first event)."""
    n = check_event_id(conn, event_id)
    with atomic(conn, write=False):
        return sink_frames(state_sink(conn, n))


def plain_value(value: Any) -> Any:
    """A frame cell as a plain Python value (None for NA, ISO text for a timestamp)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _rows(name: str, frame: pd.DataFrame) -> dict[tuple, dict[str, Any]]:
    key = PROJECTED[name].key
    out = {}
    for rec in frame.to_dict("records"):
        rec = {k: plain_value(v) for k, v in rec.items()}
        out[tuple(rec[k] for k in key)] = rec
    return out


def diff_states(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows added, removed and changed per table, in long form.

    Columns: ``table``, ``key`` (the row's primary key as a tuple), ``change``
    (``added``, ``removed`` or ``changed``), ``column`` (for changes), ``old`` and
    ``new`` (a column's values, or the whole row as a dict when added or removed).
    """
    records = []
    for name in PROJECTED:
        old_rows = _rows(name, before.get(name, table_frame(name, [])))
        new_rows = _rows(name, after.get(name, table_frame(name, [])))
        for key in sorted(old_rows.keys() | new_rows.keys()):  # primary keys: never None
            old, new = old_rows.get(key), new_rows.get(key)
            if old is None:
                records.append((name, key, "added", None, None, new))
            elif new is None:
                records.append((name, key, "removed", None, old, None))
            else:
                for col in PROJECTED[name].column_names:
                    if old[col] != new[col]:
                        records.append((name, key, "changed", col, old[col], new[col]))
    frame = pd.DataFrame.from_records(records, columns=DIFF_COLUMNS)
    for col in ("table", "change", "column"):
        frame[col] = frame[col].astype(STRING)
    for i, col in ((4, "old"), (5, "new")):  # values as they are: 40 stays 40, not 40.0
        frame[col] = pd.Series([r[i] for r in records], index=frame.index, dtype=object)
    return frame
