"""A history at a glance: how many events, how far projected, and its chats."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..display import frame_table, key_value_table
from ..dtypes import STRING
from ..store import atomic, get_meta, head_id
from ..store.sqlite import sqlite3
from .columns import id_array


@dataclass
class HistorySummary:
    """``summary(conn)``: event counts, the projection's position, one row per chat."""

    events: int
    retired: int
    head_event_id: int
    projected_at: int
    chats: pd.DataFrame = field(repr=False)

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("events", f"{self.events} ({self.retired} retired)"),
            ("newest event id", str(self.head_event_id)),
            ("projected at", str(self.projected_at)),
            ("chats", str(len(self.chats))),
        ]

    def __repr__(self) -> str:
        return "HistorySummary(" + ", ".join(f"{k}: {v}" for k, v in self._rows()) + ")"

    def _repr_html_(self) -> str:
        return key_value_table("history", self._rows()) + frame_table(self.chats)


def summary(conn: sqlite3.Connection) -> HistorySummary:
    """How many events (and retired ones), the newest id, the projection, and each chat."""
    with atomic(conn, write=False):
        total, retired = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(hidden), 0) FROM event_log"
        ).fetchone()
        rows = conn.execute(
            "SELECT c.id, c.title, s.turn_count FROM chats c JOIN chat_state s "
            "ON s.chat_id = c.id ORDER BY c.id"
        ).fetchall()
        head, at = head_id(conn), get_meta(conn, "projected_at")
    chats = pd.DataFrame(
        {
            "chat_id": id_array([r[0] for r in rows]),
            "title": pd.array([r[1] for r in rows], dtype=STRING),
            "turns": id_array([r[2] for r in rows]),
        }
    )
    return HistorySummary(total, retired, head, at, chats)
