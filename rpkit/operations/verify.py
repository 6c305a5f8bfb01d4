"""Verification: rebuild the projection event by event and compare it with the live tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..display import bold_paragraph, bullet_list, frame_table
from ..projection import MemorySink, fold
from ..store import PROJECTED, atomic, get_meta, head_id, log_count
from ..store.sqlite import describe, sqlite3
from .timetravel import current_state, diff_states, table_frame


@dataclass
class VerifyReport:
    """The outcome of ``verify``: ``ok`` and every difference found."""

    ok: bool
    projected_at: int
    head_event_id: int
    events_checked: int
    differences: pd.DataFrame = field(repr=False)
    problems: list[str] = field(default_factory=list)
    sqlite: str = field(default_factory=describe)
    """The SQLite that checked it, e.g. ``"SQLite 3.53.4 (from pysqlite3)"``."""

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
        rest = (
            f" (projection at event {self.projected_at}, {self.events_checked} visible events;"
            f" {self.sqlite})"
        )
        table = frame_table(self.differences.head(50)) if len(self.differences) else ""
        return bold_paragraph(f"verify: {head}", rest) + bullet_list(self.problems) + table


def verify(conn: sqlite3.Connection) -> VerifyReport:
    """Rebuild the projection into a scratch database and compare it with the live tables.

    The rebuild folds every event through its kind's effect, not the bulk
    summaries a rebuild uses, so it checks those too.
    """
    with atomic(conn, write=False):
        at = get_meta(conn, "projected_at")
        head = head_id(conn)
        sink = MemorySink()
        checked = fold(conn, sink, 1, at, desc="verifying", summaries=False)
        live = current_state(conn)
        counted = conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0]
        kept = log_count(conn)
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
    if kept != counted:
        problems.append(
            f"rpkit_meta counts {kept} events but the log holds {counted} (was it written "
            "without rpkit's triggers?): run project(conn) to count it again"
        )
    if len(differences):
        problems.append(
            f"{len(differences)} difference(s) between the live tables (new) and a rebuild "
            "(old): run project(conn) to rebuild"
        )
    return VerifyReport(not problems, at, head, checked, differences, problems)
