"""Rewind: the seed's behaviour, and what rpkit fixes."""

from __future__ import annotations

import pytest

import rpkit
from rpkit.operations import read_snapshot_meta
from rpkit.store.sqlite import sqlite3

from ..helpers import file_state, frame_rows, log_rows, settle, table_rows


def test_preview_counts_include_retired_rows(demo_path):
    with rpkit.open_db(demo_path) as conn:
        n = 150
        p = rpkit.compute_rewind_preview(conn, n)
        rows = [r for r in log_rows(conn) if r[0] > n]
        by_kind = {}
        for r in rows:
            by_kind[r[3]] = by_kind.get(r[3], 0) + 1
        assert p["after_event_id"] == n
        assert p["total_events"] == len(rows) == sum(p["by_kind"].values())
        assert p["by_kind"] == dict(sorted(by_kind.items()))
        assert p["hidden_events"] == sum(r[6] for r in rows) > 0
        by_chat = {}
        for r in rows:
            by_chat[r[2]] = by_chat.get(r[2], 0) + 1
        assert p["by_chat"] == by_chat
        assert len(p["by_chat"]) > 1  # a global rewind also cuts other chats
        assert p["restored_events"] == [
            {"id": r[0], "kind": r[3], "chat_id": r[2], "superseded_by": r[7]}
            for r in log_rows(conn)
            if r[0] <= n and r[7] is not None and r[7] > n
        ]


def test_rewind_equals_state_at_and_returns_snapshot(demo_path, tmp_path):
    n = 180
    with rpkit.open_db(demo_path) as conn:
        expected = frame_rows(rpkit.state_at(conn, n))
        log_before = log_rows(conn)
    snap = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=n)
    assert snap.parent == tmp_path / "snapshots" and snap.exists()
    with rpkit.open_db(demo_path) as conn:
        assert table_rows(conn) == expected
        expected_log = [
            r if r[7] is None or r[7] <= n else (*r[:6], 0, None) for r in log_before if r[0] <= n
        ]
        assert log_rows(conn) == expected_log
        assert rpkit.verify(conn).ok
    # The record holds the removed events, every column, as they were.
    record = sqlite3.connect(snap)
    assert record.execute("SELECT * FROM event_log ORDER BY id").fetchall() == [
        r for r in log_before if r[0] > n
    ]
    record.close()
    assert read_snapshot_meta(snap, check=True)["format"] == "record"


def test_rewind_keeping_a_copy_returns_a_whole_file_snapshot(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        log_before = log_rows(conn)
    snap = rpkit.execute_rewind(
        db_path=demo_path, data_dir=tmp_path, after_event_id=180, keep="copy"
    )
    with rpkit.open_db(snap) as snap_conn:
        assert log_rows(snap_conn) == log_before
    assert read_snapshot_meta(snap, check=True)["format"] == "copy"
    rpkit.undo_rewind(db_path=demo_path, data_dir=tmp_path, snapshot=snap)
    with rpkit.open_db(demo_path) as conn:
        assert log_rows(conn) == log_before


def test_rewind_refuses_an_unknown_keep_unchanged(demo_path, tmp_path):
    before = file_state(demo_path)
    with pytest.raises(rpkit.SnapshotError, match="keep='all'"):
        rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=180, keep="all")
    assert file_state(demo_path) == before


def test_edit_after_the_rewind_point_is_undone(db_path, tmp_path):
    """The seed left the edited turn retired (and its DELETE failed with FKs on)."""
    with rpkit.open_db(db_path) as conn:
        rpkit.append(conn, "bot_created", {"bot_id": "b", "name": "B"})
        rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["b"]}, chat_id=1)
        turn = rpkit.append(conn, "user_turn", {"text": "original"}, chat_id=1)
        edge = rpkit.append(
            conn, "edge_update", {"src": "you", "dst": "b", "delta": 1}, cause_id=turn
        )
        n = rpkit.rewind_point(conn, turn)
        assert n == edge
        rpkit.edit_turn(conn, turn, "edited")
        assert table_rows(conn)["edges"] == []
    rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=n)
    with rpkit.open_db(db_path) as conn:
        rows = log_rows(conn)
        assert [r[0] for r in rows] == [1, 2, turn, edge]
        assert rows[2][6:] == (0, None) and rows[3][6:] == (0, None)
        assert table_rows(conn)["edges"] == [("you", "b", 1.0, 1, edge)]
        assert table_rows(conn)["chat_state"] == [(1, 1, turn, "you", None)]


def test_no_id_is_reused_after_a_rewind(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        head = log_rows(conn)[-1][0]
    rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=100)
    with rpkit.open_db(demo_path) as conn:
        new = rpkit.append(conn, "you_set", {"name": "again"})
    assert new == head + 1


def test_restoring_the_rewind_snapshot_gives_back_everything(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        log_before, tables_before = log_rows(conn), table_rows(conn)
    snap = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=42)
    with rpkit.open_db(demo_path) as conn:
        after_rewind = log_rows(conn)
    pre = rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=snap)
    with rpkit.open_db(demo_path) as conn:
        assert log_rows(conn) == log_before
        assert table_rows(conn) == tables_before
        assert rpkit.verify(conn).ok
        assert rpkit.append(conn, "you_set", {"name": "x"}) == log_before[-1][0] + 1
    # the restore's own record gives back the rewound state
    assert read_snapshot_meta(pre)["kind"] == "pre-restore"
    rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=pre)
    with rpkit.open_db(demo_path) as conn:
        assert log_rows(conn) == after_rewind
        assert rpkit.verify(conn).ok


def test_snapshot_is_on_disk_before_the_first_destructive_statement(demo_path, tmp_path):
    """A trigger makes the DELETE fail: the snapshot exists, the history is untouched."""
    raw = sqlite3.connect(demo_path)
    raw.execute(
        "CREATE TRIGGER no_delete BEFORE DELETE ON event_log "
        "BEGIN SELECT RAISE(ABORT, 'delete refused by test trigger'); END"
    )
    raw.commit()
    raw.close()
    before = file_state(demo_path)
    with pytest.raises(sqlite3.IntegrityError, match="refused by test trigger"):
        rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=10)
    assert file_state(demo_path) == before  # the un-retire UPDATE was rolled back too
    snaps = rpkit.list_snapshots(tmp_path)
    assert list(snaps["kind"]) == ["rewind"]
    with rpkit.open_db(demo_path) as conn:
        head = log_rows(conn)[-1][0]
    assert snaps["max_event_id"][0] == head


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (-1, ["-1", "negative"]),
        (10_000, ["10000", "past the newest"]),
        (3.0, ["float", "3.0"]),
        (True, ["bool", "True"]),
        ("12", ["str", "'12'"]),
        (None, ["NoneType"]),
    ],
)
def test_bad_after_event_id_is_refused_unchanged(demo_path, tmp_path, value, words):
    before = file_state(demo_path)
    calls = [
        lambda: rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=value),
    ]
    with rpkit.open_db(demo_path) as conn:
        calls += [
            lambda: rpkit.compute_rewind_preview(conn, value),
            lambda: rpkit.state_at(conn, value),
        ]
        for call in calls:
            with pytest.raises(rpkit.EventIdError) as info:
                call()
            for word in words:
                assert word in str(info.value)
    assert file_state(demo_path) == before
    assert not (tmp_path / "snapshots").exists() or not list((tmp_path / "snapshots").iterdir())


def test_unwritable_data_dir_refuses_the_rewind(demo_path, tmp_path):
    blocker = tmp_path / "data"
    blocker.mkdir()
    (blocker / "snapshots").write_text("a file where the folder should be")
    before = file_state(demo_path)
    with pytest.raises(rpkit.SnapshotDirError, match="snapshot folder"):
        rpkit.execute_rewind(db_path=demo_path, data_dir=blocker, after_event_id=5)
    assert file_state(demo_path) == before


def test_stale_preview_is_refused(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        seen = rpkit.compute_rewind_preview(conn, 100)
        rpkit.append(conn, "you_set", {"name": "someone else wrote"})
    before = file_state(demo_path)
    with pytest.raises(rpkit.StalePreviewError, match="preview again"):
        rpkit.execute_rewind(
            db_path=demo_path, data_dir=tmp_path, after_event_id=100, expected_preview=seen
        )
    assert file_state(demo_path) == before


def test_rewind_point_refuses_non_turns(demo_path):
    with rpkit.open_db(demo_path) as conn:
        with pytest.raises(rpkit.NotATurnError, match="'you_set'"):
            rpkit.rewind_point(conn, 1)


def test_rewind_to_zero_empties_everything(demo_path, tmp_path):
    rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=0)
    with rpkit.open_db(demo_path) as conn:
        assert log_rows(conn) == []
        assert all(rows == [] for rows in table_rows(conn).values())
    settle(demo_path)
