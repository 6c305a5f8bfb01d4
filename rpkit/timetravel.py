"""Time travel, diffs and verification: the projected state as DataFrames.

``state_at`` answers "what did every table look like at event N" without
touching the database; ``diff_states`` says what changes between two such
states; ``verify`` rebuilds the projection in a scratch database and compares.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .events import check_event_id
from .projection import MemorySink, fold, rollback_point, undo_entries
from .schema import PROJECTED
from .store import atomic, get_meta, head_id

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
            frame[col] = frame[col].astype(dtype)
    return frame.sort_values(list(table.key), kind="stable").reset_index(drop=True)


def sink_frames(sink: MemorySink) -> dict[str, pd.DataFrame]:
    return {name: table_frame(name, list(rows.values())) for name, rows in sink.tables.items()}


def current_state(conn: sqlite3.Connection) -> dict[str, pd.DataFrame]:
    """The live projected tables, in the same shape as ``state_at``."""
    return sink_frames(MemorySink.load(conn))


def state_sink(conn: sqlite3.Connection, event_id: int) -> MemorySink:
    """The projected tables at ``event_id``, in memory (the database is only read)."""
    start = rollback_point(conn, event_id)
    if start > get_meta(conn, "undo_floor"):
        sink = MemorySink.load(conn)
        sink.roll_back(undo_entries(conn, start))
    else:
        sink, start = MemorySink(), 1
    fold(conn, sink, start, event_id, desc="time travel")
    return sink


def state_at(conn: sqlite3.Connection, event_id: int) -> dict[str, pd.DataFrame]:
    """Every projected table as it was at ``event_id`` (0: before the first event)."""
    n = check_event_id(conn, event_id)
    with atomic(conn, write=False):
        return sink_frames(state_sink(conn, n))


def _plain(value: Any) -> Any:
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
        rec = {k: _plain(v) for k, v in rec.items()}
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
        frame[col] = frame[col].astype("string")
    for i, col in ((4, "old"), (5, "new")):  # values as they are: 40 stays 40, not 40.0
        frame[col] = pd.Series([r[i] for r in records], index=frame.index, dtype=object)
    return frame


@dataclass
class VerifyReport:
    """The outcome of ``verify``: ``ok`` and every difference found."""

    ok: bool
    projected_at: int
    head_event_id: int
    events_checked: int
    differences: pd.DataFrame = field(repr=False)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return (
                f"VerifyReport(ok: projection at event {self.projected_at} matches a rebuild of "
                f"{self.events_checked} visible events)"
            )
        lines = [f"VerifyReport(NOT ok: {len(self.differences)} difference(s))", *self.problems]
        if len(self.differences):
            lines.append(self.differences.head(20).to_string())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "ok" if self.ok else "NOT ok"
        body = "".join(f"<li>{p}</li>" for p in self.problems)
        table = self.differences.head(50).to_html(index=False) if len(self.differences) else ""
        return (
            f"<p><b>verify: {head}</b> (projection at event {self.projected_at}, "
            f"{self.events_checked} visible events)</p><ul>{body}</ul>{table}"
        )


def verify(conn: sqlite3.Connection) -> VerifyReport:
    """Rebuild the projection into a scratch database and compare it with the live tables."""
    with atomic(conn, write=False):
        at = get_meta(conn, "projected_at")
        head = head_id(conn)
        sink = MemorySink()
        checked = fold(conn, sink, 1, at, desc="verifying")
        live = current_state(conn)
    scratch = sqlite3.connect(":memory:")
    try:
        for table in PROJECTED.values():
            scratch.execute(table.ddl)
            cols = table.column_names
            scratch.executemany(
                f"INSERT INTO {table.name} VALUES ({', '.join('?' * len(cols))})",
                [tuple(r[c] for c in cols) for r in sink.tables[table.name].values()],
            )
        rebuilt = {
            name: table_frame(name, scratch.execute(f"SELECT * FROM {name}").fetchall())
            for name in PROJECTED
        }
    finally:
        scratch.close()
    differences = diff_states(rebuilt, live)
    problems = []
    if at != head:
        problems.append(
            f"the projection shows event {at} but the log goes to {head}: run catch_up(conn)"
        )
    if len(differences):
        problems.append(
            f"{len(differences)} difference(s) between the live tables (new) and a rebuild "
            "(old): run project(conn) to rebuild"
        )
    return VerifyReport(not problems, at, head, checked, differences, problems)
