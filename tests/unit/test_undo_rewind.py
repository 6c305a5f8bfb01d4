"""undo_rewind: what a rewind removed comes back exactly; what was written since stays."""

from __future__ import annotations

import shutil

import pytest

import rpkit

from ..helpers import file_state, log_rows, table_rows
from .test_chat_rewind import two_chats


def test_undo_of_a_chat_rewind_gives_back_the_log_and_tables(db_path, tmp_path):
    ids = two_chats(db_path)
    with rpkit.open_db(db_path) as conn:
        log_before, tables_before = log_rows(conn), table_rows(conn)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    assert rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=snap) is None
    with rpkit.open_db(db_path) as conn:
        assert log_rows(conn) == log_before
        assert table_rows(conn) == tables_before
        assert rpkit.verify(conn).ok


def test_undo_keeps_what_other_chats_and_the_world_wrote_since(db_path, tmp_path):
    ids = two_chats(db_path)
    with rpkit.open_db(db_path) as conn:
        log_before = log_rows(conn)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    with rpkit.open_db(db_path) as conn:
        b4 = rpkit.append(conn, "user_turn", {"text": "b4"}, chat_id=2)
        world = rpkit.append(conn, "bot_created", {"bot_id": "ren", "name": "Ren"})
        rpkit.edit_turn(conn, ids["b3"], "b3 edited")
        since = [r for r in log_rows(conn) if r[0] >= b4]
    rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=snap.name)
    with rpkit.open_db(db_path) as conn:
        rows = log_rows(conn)
        by_id = {r[0]: r for r in rows}
        for r in log_before:
            if r[0] == ids["b3"]:  # retired since, by the edit in chat 2
                assert by_id[r[0]][:6] == r[:6] and by_id[r[0]][6] == 1
            else:
                assert by_id[r[0]] == r
        assert [r for r in rows if r[0] >= b4] == since
        assert world in by_id
        assert rpkit.verify(conn).ok
        tables = table_rows(conn)
        rpkit.project(conn)
        assert table_rows(conn) == tables


def test_undo_of_a_global_rewind(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        log_before, tables_before = log_rows(conn), table_rows(conn)
    snap = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=150)
    rpkit.undo_rewind(db_path=demo_path, data_dir=tmp_path, snapshot=snap)
    with rpkit.open_db(demo_path) as conn:
        assert log_rows(conn) == log_before
        assert table_rows(conn) == tables_before
        assert rpkit.verify(conn).ok


def test_undo_after_the_rewound_chat_moved_on_is_refused_unchanged(db_path, tmp_path):
    ids = two_chats(db_path)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    with rpkit.open_db(db_path) as conn:
        rpkit.append(conn, "user_turn", {"text": "a new a2"}, chat_id=1)
    before = file_state(db_path)
    with pytest.raises(rpkit.HistoryMovedOnError, match="chat 1 has moved on") as info:
        rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=snap)
    assert "restore_snapshot" in str(info.value)
    assert file_state(db_path) == before


def test_undo_after_a_global_rewind_and_an_append_is_refused(demo_path, tmp_path):
    snap = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=150)
    with rpkit.open_db(demo_path) as conn:
        rpkit.append(conn, "you_set", {"name": "later"})
    before = file_state(demo_path)
    with pytest.raises(rpkit.HistoryMovedOnError, match="the history has moved on"):
        rpkit.undo_rewind(db_path=demo_path, data_dir=tmp_path, snapshot=snap)
    assert file_state(demo_path) == before


def test_undo_twice_is_refused_unchanged(db_path, tmp_path):
    ids = two_chats(db_path)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=snap)
    before = file_state(db_path)
    with pytest.raises(rpkit.HistoryMovedOnError, match="undone already"):
        rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=snap)
    assert file_state(db_path) == before


def test_undo_after_events_it_kept_were_removed_is_refused(db_path, tmp_path):
    ids = two_chats(db_path)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=3, chat_id=2)
    before = file_state(db_path)
    with pytest.raises(rpkit.HistoryMovedOnError, match="were removed since"):
        rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=snap)
    assert file_state(db_path) == before


def test_undo_of_a_snapshot_that_is_not_a_rewinds_is_refused(db_path, tmp_path):
    two_chats(db_path)
    with rpkit.open_db(db_path) as conn:
        manual = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    text = tmp_path / "notes.txt"
    text.write_text("not a snapshot")
    before = file_state(db_path)
    for bad, words in [(manual, "records no rewind"), (text, "not an SQLite file")]:
        with pytest.raises(rpkit.NotARewindSnapshotError, match=words) as info:
            rpkit.undo_rewind(db_path=db_path, data_dir=tmp_path, snapshot=bad)
        assert str(bad.name) in str(info.value)
    assert file_state(db_path) == before


def test_undo_with_another_historys_snapshot_is_refused(tmp_path):
    one, other = tmp_path / "one.db", tmp_path / "other.db"
    ids = two_chats(one)
    two_chats(other)
    snap = rpkit.execute_rewind(db_path=one, data_dir=tmp_path, after_event_id=ids["a1"], chat_id=1)
    before = file_state(other)
    with pytest.raises(rpkit.ForeignSnapshotError, match="another history"):
        rpkit.undo_rewind(db_path=other, data_dir=tmp_path, snapshot=snap)
    assert file_state(other) == before


def test_a_copy_of_the_history_is_the_same_history(db_path, tmp_path):
    ids = two_chats(db_path)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["a1"], chat_id=1
    )
    copy = tmp_path / "copy.db"
    shutil.copyfile(db_path, copy)
    rpkit.undo_rewind(db_path=copy, data_dir=tmp_path, snapshot=snap)
    with rpkit.open_db(copy) as conn:
        assert rpkit.verify(conn).ok
