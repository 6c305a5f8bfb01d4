"""project, catch_up, state_at, diff_states and verify on a demo history."""

from __future__ import annotations

import rpkit
from rpkit.store import get_meta

from ..helpers import frame_rows, log_rows, table_rows


def test_project_rebuilds_the_same_tables(demo_path):
    with rpkit.open_db(demo_path) as conn:
        live = table_rows(conn)
        conn.execute("DELETE FROM edges")
        conn.execute("UPDATE chat_state SET turn_count = 0")
        rpkit.project(conn)
        assert table_rows(conn) == live


def test_project_upto_then_catch_up(demo_path):
    with rpkit.open_db(demo_path) as conn:
        live = table_rows(conn)
        expected = frame_rows(rpkit.state_at(conn, 120))
        rpkit.project(conn, upto=120)
        assert table_rows(conn) == expected
        assert get_meta(conn, "projected_at") == 120
        head = log_rows(conn)[-1][0]
        assert rpkit.catch_up(conn) > 0
        assert get_meta(conn, "projected_at") == head
        assert table_rows(conn) == live


def test_catch_up_after_another_process_appends_and_edits(demo_path):
    with rpkit.open_db(demo_path) as conn:
        turn = conn.execute(
            "SELECT id FROM event_log WHERE kind='user_turn' AND hidden=0 ORDER BY id LIMIT 1 "
            "OFFSET 20"
        ).fetchone()[0]
        chat = conn.execute("SELECT chat_id FROM event_log WHERE id=?", (turn,)).fetchone()[0]
    # "Another process": plain SQL, no projection.
    raw = rpkit.store.connect(demo_path)
    cur = raw.execute(
        "INSERT INTO event_log(ts, chat_id, kind, payload) VALUES "
        "('2026-02-01T00:00:00.000000Z', ?, 'user_turn', '{\"text\": \"edited elsewhere\"}')",
        (chat,),
    )
    raw.execute(
        "UPDATE event_log SET hidden = 1, superseded_by = ? WHERE id = ? OR cause_id = ?",
        (cur.lastrowid, turn, turn),
    )
    raw.commit()
    raw.close()
    with rpkit.open_db(demo_path) as conn:
        assert not rpkit.verify(conn).ok
        assert rpkit.catch_up(conn) > 1  # rolled back to the edited turn and folded forward
        assert rpkit.verify(conn).ok


def test_verify_reports_each_difference(demo_path):
    with rpkit.open_db(demo_path) as conn:
        conn.execute("UPDATE edges SET affinity = 99 WHERE src = 'mira' AND dst = 'you'")
        conn.execute("DELETE FROM memories WHERE id = (SELECT MIN(id) FROM memories)")
        report = rpkit.verify(conn)
        assert not report.ok and not report
        diffs = report.differences
        changed = diffs[diffs["change"] == "changed"]
        assert list(changed["table"]) == ["edges"]
        assert list(changed["column"]) == ["affinity"]
        assert list(changed["new"]) == [99.0]
        assert list(diffs[diffs["change"] == "removed"]["table"]) == ["memories"]
        assert "NOT ok" in repr(report) and "project(conn)" in repr(report)
        rpkit.project(conn)
        assert rpkit.verify(conn).ok


def test_diff_states_between_two_points(demo_path):
    with rpkit.open_db(demo_path) as conn:
        early, late = rpkit.state_at(conn, 50), rpkit.state_at(conn, 120)
        diff = rpkit.diff_states(early, late)
        assert list(diff.columns) == ["table", "key", "change", "column", "old", "new"]
        added_memories = diff[(diff["table"] == "memories") & (diff["change"] == "added")]
        assert sorted(k[0] for k in added_memories["key"]) == sorted(
            r[0] for r in table_rows_at(late, "memories") if r[0] > 50
        )
        assert rpkit.diff_states(late, late).empty


def table_rows_at(frames, name):
    return frame_rows({name: frames[name]})[name]


def test_state_at_zero_is_empty_and_head_is_live(demo_path):
    with rpkit.open_db(demo_path) as conn:
        assert all(f.empty for f in rpkit.state_at(conn, 0).values())
        head = log_rows(conn)[-1][0]
        assert frame_rows(rpkit.state_at(conn, head)) == table_rows(conn)
        frames = rpkit.state_at(conn, head)
        assert str(frames["edges"]["affinity"].dtype) == "float64"
        assert str(frames["chat_state"]["last_event_id"].dtype) == "Int64"
        assert "UTC" in str(frames["chats"]["created_at"].dtype)
