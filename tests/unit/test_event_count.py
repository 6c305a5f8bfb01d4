"""The log's count, kept in rpkit_meta by triggers: right after every write, added to older files."""

from __future__ import annotations

import shutil

import rpkit
from rpkit.importers import import_file
from rpkit.store import log_count, schema
from rpkit.store.sqlite import sqlite3

from ..helpers import ROOT


def _kept_and_counted(db) -> tuple[int, int]:
    con = sqlite3.connect(db)
    try:
        kept = con.execute(
            "SELECT value FROM rpkit_meta WHERE key = ?", (schema.EVENT_COUNT,)
        ).fetchone()
        return int(kept[0]), con.execute("SELECT COUNT(*) FROM event_log").fetchone()[0]
    finally:
        con.close()


def test_the_count_follows_appends_imports_rewinds_undos_and_restores(demo_path, tmp_path):
    kept, counted = _kept_and_counted(demo_path)
    assert kept == counted > 0
    steps = []
    with rpkit.open_db(demo_path) as conn:
        rpkit.append(conn, "user_turn", {"text": "one more"}, chat_id=1)
        head = rpkit.store.head_id(conn)
    steps.append(_kept_and_counted(demo_path))
    import_file(demo_path, None, ROOT / "data" / "exports" / "sillytavern")
    steps.append(_kept_and_counted(demo_path))
    whole = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=head - 40)
    steps.append(_kept_and_counted(demo_path))
    rpkit.undo_rewind(db_path=demo_path, data_dir=tmp_path, snapshot=whole)
    steps.append(_kept_and_counted(demo_path))
    chat = rpkit.execute_rewind(
        db_path=demo_path, data_dir=tmp_path, after_event_id=head - 60, chat_id=1
    )
    steps.append(_kept_and_counted(demo_path))
    rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=chat)
    steps.append(_kept_and_counted(demo_path))
    assert all(kept == counted for kept, counted in steps), steps
    assert len({counted for _, counted in steps}) > 2  # the steps did change the log


def test_a_history_written_before_the_count_gets_it_when_opened(tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(ROOT / "tests" / "fixtures" / "v3-rewind-history.db", db)
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM rpkit_meta WHERE key = 'events'").fetchone() is None
    con.close()
    with rpkit.open_db(db) as conn:
        assert log_count(conn) == conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0]
        triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert {r[0] for r in triggers} == {"event_log_count_insert", "event_log_count_delete"}
        rpkit.append(conn, "you_set", {"name": "Ada"})
    kept, counted = _kept_and_counted(db)
    assert kept == counted == 104


def test_verify_finds_a_count_the_log_does_not_match_and_project_counts_again(demo_path):
    """The planted fault: the kept count moved behind the triggers' back."""
    with rpkit.open_db(demo_path) as conn:
        assert rpkit.verify(conn).ok
        conn.execute("UPDATE rpkit_meta SET value = value + 5 WHERE key = 'events'")
        report = rpkit.verify(conn)
        assert not report.ok
        assert any("counts" in p and "project(conn)" in p for p in report.problems)
        rpkit.project(conn)
        assert rpkit.verify(conn).ok
    assert _kept_and_counted(demo_path)[0] == _kept_and_counted(demo_path)[1]
