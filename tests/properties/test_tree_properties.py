"""Chats as a tree (DESIGN §11) over random multi-chat histories (hypothesis).

The histories of ``test_properties`` (two chats sharing a world; derived
events in the world and in either chat; edits, regenerations and hides), with
forks. For each: a per-chat rewind removes exactly the chat's tail and what it
caused, keeps every other row as it was (un-retired where a removed event had
retired it) and equals a rebuild of the remaining log; ``undo_rewind`` after
appends in other chats and the world gives back the exact log; a fork reads as
its parent up to the turn's place; ``verify`` is clean throughout.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit import frames

from ..helpers import log_rows, table_rows
from .test_properties import build, op

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CREATED = {1: 5, 2: 6}  # build() creates chat 1 at event 5 and chat 2 at event 6


def removed_set(rows: list[tuple], chat: int, n: int) -> set[int]:
    """The chat's events after ``n`` and, transitively, every event caused by one of them."""
    removed: set[int] = set()
    for r in rows:
        if (r[2] == chat and r[0] > n) or r[5] in removed:
            removed.add(r[0])
    return removed


def rebuilt(conn) -> dict:
    tables = table_rows(conn)
    rpkit.project(conn)
    assert table_rows(conn) == tables, "the fast path differs from a rebuild"
    return tables


def fork_some(conn, data) -> None:
    """Fork a few random turns (live or retired) and go on in the forks."""
    turns = [r[0] for r in conn.execute("SELECT id FROM event_log WHERE kind LIKE '%_turn'")]
    for _ in range(data.draw(st.integers(0, 2), label="forks") if turns else 0):
        fork = rpkit.fork_chat(conn, data.draw(st.sampled_from(turns), label="fork at"))
        rpkit.append(conn, "user_turn", {"text": "in the fork"}, chat_id=fork)


@SETTINGS
@given(ops=st.lists(op, min_size=0, max_size=35), data=st.data())
def test_chat_rewind_equals_a_rebuild_and_keeps_every_other_row(ops, data):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "h.db"
        with rpkit.open_db(db) as conn:
            build(conn, ops)
            fork_some(conn, data)
            chats = [r[0] for r in conn.execute("SELECT id FROM chats")]
            chat = data.draw(st.sampled_from(chats), label="chat")
            created = conn.execute(
                "SELECT created_event_id FROM chats WHERE id = ?", (chat,)
            ).fetchone()[0]
            before = log_rows(conn)
            n = data.draw(st.integers(created, before[-1][0]), label="after_event_id")
            preview = rpkit.compute_rewind_preview(conn, n, chat_id=chat)
        gone = removed_set(before, chat, n)
        snap = rpkit.execute_rewind(db_path=db, data_dir=tmp, after_event_id=n, chat_id=chat)
        with rpkit.open_db(db) as conn:
            after = log_rows(conn)
            assert after == [
                (*r[:6], 0, None) if r[7] in gone else r for r in before if r[0] not in gone
            ]
            assert preview["total_events"] == len(gone)
            assert rpkit.verify(conn).ok
            rebuilt(conn)
            # appends in the other chats and the world, then undo
            others = [c for c in chats if c != chat]
            for other in others:
                rpkit.append(conn, "user_turn", {"text": "meanwhile"}, chat_id=other)
            rpkit.append(conn, "you_set", {"name": "meanwhile"})
            since = [r for r in log_rows(conn) if r[0] > before[-1][0]]
        rpkit.undo_rewind(db_path=db, data_dir=tmp, snapshot=snap)
        with rpkit.open_db(db) as conn:
            assert log_rows(conn) == before + since
            assert rpkit.verify(conn).ok
            rebuilt(conn)


@SETTINGS
@given(ops=st.lists(op, min_size=0, max_size=35), data=st.data())
def test_undo_right_after_a_chat_rewind_gives_back_log_and_tables(ops, data):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "h.db"
        with rpkit.open_db(db) as conn:
            build(conn, ops)
            chat = data.draw(st.sampled_from([1, 2]), label="chat")
            before, tables_before = log_rows(conn), table_rows(conn)
            n = data.draw(st.integers(CREATED[chat], before[-1][0]), label="after_event_id")
        snap = rpkit.execute_rewind(db_path=db, data_dir=tmp, after_event_id=n, chat_id=chat)
        rpkit.undo_rewind(db_path=db, data_dir=tmp, snapshot=snap)
        with rpkit.open_db(db) as conn:
            assert log_rows(conn) == before
            assert table_rows(conn) == tables_before
            assert rpkit.verify(conn).ok


def reading(frame) -> list[tuple]:
    return [tuple(r) for r in frame[["kind", "speaker", "text", "ts"]].astype(object).values]


@SETTINGS
@given(ops=st.lists(op, min_size=1, max_size=35), data=st.data())
def test_a_fork_reads_as_its_parent_cut_at_the_turn(ops, data):
    with tempfile.TemporaryDirectory() as tmp, rpkit.open_db(Path(tmp) / "h.db") as conn:
        build(conn, ops)
        fork_some(conn, data)
        turns = [r[0] for r in conn.execute("SELECT id FROM event_log WHERE kind LIKE '%_turn'")]
        if not turns:
            return
        turn = data.draw(st.sampled_from(turns), label="turn")
        parent = conn.execute("SELECT chat_id FROM event_log WHERE id = ?", (turn,)).fetchone()[0]
        full = frames.turns(conn, parent)  # reading order, retired turns at their places
        at = full.index[full["event_id"] == turn][0]
        cut = full.loc[: at - 1]
        expected = reading(cut[~cut["retired"]]) + reading(full.loc[[at]])
        tables = table_rows(conn)
        fork = rpkit.fork_chat(conn, turn)
        assert reading(frames.turns(conn, fork, include_retired=False)) == expected
        # the world is not touched: only the new chat's rows are new
        now = table_rows(conn)
        assert now["edges"] == tables["edges"] and now["memories"] == tables["memories"]
        assert rpkit.verify(conn).ok
