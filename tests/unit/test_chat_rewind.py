"""Per-chat rewind: one chat cut back, every other chat and the world kept with their ids."""

from __future__ import annotations

import pytest

import rpkit
from rpkit import frames
from rpkit.store.sqlite import sqlite3

from ..helpers import file_state, frame_rows, log_rows, table_rows


def two_chats(path) -> dict[str, int]:
    """Chats 1 and 2 sharing a world; a chat-1 turn causes events in chat 2 and the world."""
    ids: dict[str, int] = {}
    with rpkit.open_db(path) as conn:
        rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})
        rpkit.append(conn, "chat_created", {"title": "one", "bot_ids": ["mira"]}, chat_id=1)
        rpkit.append(conn, "chat_created", {"title": "two", "bot_ids": ["mira"]}, chat_id=2)
        ids["a1"] = rpkit.append(conn, "user_turn", {"text": "a1"}, chat_id=1)
        ids["b1"] = rpkit.append(conn, "user_turn", {"text": "b1"}, chat_id=2)
        edge = {"src": "you", "dst": "mira", "delta": 1.5}
        ids["e_a1"] = rpkit.append(conn, "edge_update", edge, chat_id=1, cause_id=ids["a1"])
        ids["a2"] = rpkit.append(conn, "user_turn", {"text": "a2"}, chat_id=1)
        ids["b2"] = rpkit.append(
            conn, "assistant_turn", {"bot_id": "mira", "text": "b2"}, chat_id=2
        )
        ids["e_a2_in_2"] = rpkit.append(
            conn, "edge_update", {**edge, "delta": 2.0}, chat_id=2, cause_id=ids["a2"]
        )
        ids["m_a2"] = rpkit.append(
            conn, "memory_added", {"owner": "mira", "text": "a2!"}, cause_id=ids["a2"]
        )
        ids["m_of_m"] = rpkit.append(
            conn, "memory_added", {"owner": "you", "text": "of m"}, cause_id=ids["m_a2"]
        )
        ids["edit_a1"] = rpkit.edit_turn(conn, ids["a1"], "a1 edited")
        ids["b3"] = rpkit.append(conn, "user_turn", {"text": "b3"}, chat_id=2)
    return ids


def test_chat_rewind_removes_the_chat_tail_and_what_it_caused(db_path, tmp_path):
    ids = two_chats(db_path)
    with rpkit.open_db(db_path) as conn:
        before = log_rows(conn)
        preview = rpkit.compute_rewind_preview(conn, ids["e_a1"], chat_id=1)
    removed = {ids["a2"], ids["e_a2_in_2"], ids["m_a2"], ids["m_of_m"], ids["edit_a1"]}
    assert preview["total_events"] == 5
    assert preview["by_chat"] == {None: 2, 1: 2, 2: 1}
    assert preview["by_kind"] == {"edge_update": 1, "memory_added": 2, "user_turn": 2}
    assert preview["chat_id"] == 1
    assert [r["id"] for r in preview["restored_events"]] == [ids["a1"], ids["e_a1"]]
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    assert snap.exists()
    with rpkit.open_db(db_path) as conn:
        after = log_rows(conn)
        expected = [
            (*r[:6], 0, None) if r[7] in removed else r for r in before if r[0] not in removed
        ]
        assert after == expected
        assert rpkit.verify(conn).ok
        tables = table_rows(conn)
        rpkit.project(conn)
        assert table_rows(conn) == tables
        assert tables["edges"] == [("you", "mira", 1.5, 1, ids["e_a1"])]
        assert [r[:2] for r in tables["chat_state"]] == [(1, 1), (2, 3)]
        # ids are never reused
        assert rpkit.append(conn, "you_set", {"name": "x"}) == before[-1][0] + 1


def test_other_chats_rows_are_byte_identical(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        before = log_rows(conn)
        point = rpkit.rewind_point(
            conn,
            conn.execute(
                "SELECT id FROM event_log WHERE chat_id = 2 AND kind = 'user_turn' "
                "ORDER BY id LIMIT 1 OFFSET 10"
            ).fetchone()[0],
        )
        preview = rpkit.compute_rewind_preview(conn, point, chat_id=2)
    assert set(preview["by_chat"]) == {2}
    rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=point, chat_id=2)
    with rpkit.open_db(demo_path) as conn:
        after = log_rows(conn)
        assert [r for r in after if r[2] != 2] == [r for r in before if r[2] != 2]
        assert [r for r in after if r[2] == 2] == [r for r in before if r[2] == 2 and r[0] <= point]
        assert len(before) - len(after) == preview["total_events"]
        assert rpkit.verify(conn).ok


def test_chat_rewind_equals_a_rebuild_of_the_remaining_log(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        point = conn.execute("SELECT MIN(id) + 40 FROM event_log WHERE chat_id = 3").fetchone()[0]
    rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=point, chat_id=3)
    with rpkit.open_db(demo_path) as conn:
        fast = table_rows(conn)
        rpkit.project(conn)
        assert table_rows(conn) == fast
        assert rpkit.verify(conn).ok


def test_snapshot_records_what_the_rewind_removed(db_path, tmp_path):
    ids = two_chats(db_path)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=tmp_path, after_event_id=ids["e_a1"], chat_id=1
    )
    c = sqlite3.connect(snap)
    meta = dict(c.execute("SELECT key, value FROM rpkit_meta WHERE key LIKE 'snapshot_rewind%'"))
    c.close()
    assert meta["snapshot_rewind_chat_id"] == "1"
    assert meta["snapshot_rewind_after_event_id"] == str(ids["e_a1"])


def test_point_before_the_chat_was_created_is_refused_unchanged(db_path, tmp_path):
    two_chats(db_path)
    before = file_state(db_path)
    with pytest.raises(rpkit.RewindPointError, match="before chat 2 was created"):
        rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=2, chat_id=2)
    with rpkit.open_db(db_path) as conn, pytest.raises(rpkit.RewindPointError, match="event 3"):
        rpkit.compute_rewind_preview(conn, 1, chat_id=2)
    assert file_state(db_path) == before
    assert not list((tmp_path / "snapshots").glob("*.sqlite"))


def test_rewind_to_the_chat_creation_keeps_an_empty_chat(db_path, tmp_path):
    two_chats(db_path)
    rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=3, chat_id=2)
    with rpkit.open_db(db_path) as conn:
        assert table_rows(conn)["chat_state"][1] == (2, 0, 3, None, None)
        assert rpkit.verify(conn).ok


def test_global_rewind_is_unchanged_with_chat_none(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        plain = rpkit.compute_rewind_preview(conn, 150)
        assert rpkit.compute_rewind_preview(conn, 150, chat_id=None) == plain
        assert "chat_id" not in plain


def test_frames_preview_and_diff_of_a_chat_rewind(db_path):
    ids = two_chats(db_path)
    with rpkit.open_db(db_path) as conn:
        shown = frames.rewind_preview(conn, ids["e_a1"], chat_id=1)
        assert shown.chat_id == 1
        assert shown.summary().startswith(f"Rewind of chat 1 to after event {ids['e_a1']}")
        assert sorted(shown.removed["id"]) == sorted(
            [ids["a2"], ids["e_a2_in_2"], ids["m_a2"], ids["m_of_m"], ids["edit_a1"]]
        )
        assert shown.restored["id"].tolist() == [ids["a1"], ids["e_a1"]]
        assert shown.by_chat["events"].tolist() == [2, 2, 1]
        diff = frames.rewind_diff(conn, ids["e_a1"], chat_id=1)
        after = rpkit.operations.state_after_chat_rewind(conn, ids["e_a1"], 1)
        assert diff.affinity[["now", "after"]].astype(float).values.tolist() == [[2.0, 1.5]]
        before = log_rows(conn)
    snap = rpkit.execute_rewind(
        db_path=db_path, data_dir=db_path.parent, after_event_id=ids["e_a1"], chat_id=1
    )
    assert snap.exists()
    with rpkit.open_db(db_path) as conn:
        assert frame_rows(rpkit.current_state(conn)) == frame_rows(after)
        assert len(log_rows(conn)) == len(before) - 5
