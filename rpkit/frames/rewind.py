"""Rewind previews and diffs as frames: what a rewind removes, brings back and changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..display import bold_paragraph, counted, frame_table
from ..dtypes import STRING
from ..kinds import TURN_KINDS
from ..operations import (
    compute_rewind_preview,
    current_state,
    diff_states,
    removed_ids,
    state_after_chat_rewind,
    state_at,
)
from ..store import atomic, check_event_id, retired, retired_after
from ..store.sqlite import sqlite3
from .affinity import pair_label
from .columns import id_array, kind_categories
from .event_table import event_rows


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
    chat_id: int | None = None

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
        scope = "" if self.chat_id is None else f" of chat {self.chat_id}"
        text = (
            f"Rewind{scope} to after event {p['after_event_id']} "
            f"(newest is {p['head_event_id']}): "
            f"removes {counted(p['total_events'], 'event')} ({p['hidden_events']} already retired)"
        )
        if chats:
            text += f" [{chats}]"
        text += f"; brings back {counted(len(self.restored), 'retired event')}."
        return text

    def __repr__(self) -> str:
        return f"RewindPreview({self.summary()})"

    def _repr_html_(self) -> str:
        parts = [
            bold_paragraph(self.summary()),
            frame_table(self.by_kind),
            frame_table(self.by_chat),
        ]
        if len(self.restored):
            parts.append(frame_table(self.restored))
        return "".join(parts)


def _removed_and_restored(
    conn: sqlite3.Connection, n: int, chat_id: int | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if chat_id is None:
        removed = event_rows(conn, "WHERE id > ?", (n,), retired=True)
        restored = event_rows(  # by the superseded_by index, not a scan of ids up to n
            conn,
            f"INDEXED BY event_log_superseded_by WHERE id <= ? AND {retired_after()}",
            (n, n),
            retired=True,
        )
        return removed, restored
    ids = json.dumps(removed_ids(conn, n, chat_id))
    within = "IN (SELECT value FROM json_each(?))"
    removed = event_rows(conn, f"WHERE id {within}", (ids,), retired=True)
    restored = event_rows(
        conn,
        f"WHERE {retired()} AND superseded_by {within} AND id NOT {within}",
        (ids, ids),
        retired=True,
    )
    return removed, restored


def rewind_preview(
    conn: sqlite3.Connection, after_event_id: int, *, chat_id: int | None = None
) -> RewindPreview:
    """What rewinding to ``after_event_id`` removes and brings back, as frames.

    With ``chat_id`` the rewind of that chat alone (its later events and what
    they caused). The numbers are those of ``compute_rewind_preview`` (kept in
    ``.preview``, which ``execute_rewind(expected_preview=...)`` checks against).
    """
    with atomic(conn, write=False):
        preview = compute_rewind_preview(conn, after_event_id, chat_id=chat_id)
        n = preview["after_event_id"]
        titles = _chat_titles(conn)
        removed, restored = _removed_and_restored(conn, n, preview.get("chat_id"))
    retired = removed.groupby("kind", observed=True)["hidden"].sum()
    kinds = list(preview["by_kind"])
    by_kind = pd.DataFrame(
        {
            "kind": pd.Categorical(kinds, categories=kind_categories(kinds)),
            "events": id_array(list(preview["by_kind"].values())),
            "retired": id_array([int(retired.get(k, 0)) for k in kinds]),
        }
    )
    chats = list(preview["by_chat"])
    is_turn = removed["kind"].isin(list(TURN_KINDS)) & ~removed["hidden"]
    turns_gone = removed[is_turn].groupby("chat_id").size()
    by_chat = pd.DataFrame(
        {
            "chat_id": id_array(chats),
            "title": pd.array([titles.get(c) for c in chats], dtype=STRING),
            "events": id_array(list(preview["by_chat"].values())),
            "turns": id_array([int(turns_gone.get(c, 0)) if c is not None else 0 for c in chats]),
        }
    )
    keep = [
        c
        for c in ("id", "ts", "chat_id", "kind", "superseded_by", "text", "src", "dst", "delta")
        if c in restored.columns
    ]
    return RewindPreview(
        n, preview, by_kind, by_chat, restored[keep], removed, preview.get("chat_id")
    )


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
            f"RewindDiff(after event {self.after_event_id}: "
            f"{counted(int(c['removed'].sum()), 'row')} removed, "
            f"{int(c['added'].sum())} added back, {int(c['changed'].sum())} changed "
            f"in {counted(len(c), 'table')})"
        )

    def _repr_html_(self) -> str:
        return (
            bold_paragraph(repr(self)[11:-1])
            + frame_table(self.counts, index=True)
            + frame_table(self.affinity)
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
            "src": merged["src"].astype(STRING),
            "dst": merged["dst"].astype(STRING),
            "pair": pd.array(
                [pair_label(s, d) for s, d in zip(merged["src"], merged["dst"], strict=True)],
                dtype=STRING,
            ),
            "now": now_v,
            "after": after_v,
            "change": after_v.fillna(0.0) - now_v.fillna(0.0),
        }
    )


def rewind_diff(
    conn: sqlite3.Connection, after_event_id: int, *, chat_id: int | None = None
) -> RewindDiff:
    """What ``execute_rewind(after_event_id, chat_id=...)`` would change in every table.

    Read-only: the live tables and the state the rewind leaves (``state_at`` for
    a global rewind, ``state_after_chat_rewind`` for one chat) are compared in
    one read transaction.
    """
    n = check_event_id(conn, after_event_id, what="after_event_id")
    with atomic(conn, write=False):
        now = current_state(conn)
        then = state_at(conn, n) if chat_id is None else state_after_chat_rewind(conn, n, chat_id)
    return RewindDiff(n, diff_states(now, then), _affinity_change(now["edges"], then["edges"]))
