"""Rewind records: small, whole, of this history; old whole-file snapshots still work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rpkit
from rpkit.operations import record_size
from rpkit.store.sqlite import sqlite3

from ..helpers import ROOT, file_state, log_rows, table_rows

FIXTURES = ROOT / "tests" / "fixtures"


def test_a_record_holds_what_the_rewind_removed_and_describes_itself(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        log = log_rows(conn)
        history = conn.execute("SELECT value FROM rpkit_meta WHERE key = 'history_id'").fetchone()
        estimate = record_size(conn, 250)
    snap = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=250)
    rec = sqlite3.connect(snap)
    meta = dict(rec.execute("SELECT key, value FROM rpkit_meta"))
    assert rec.execute("SELECT * FROM event_log ORDER BY id").fetchall() == [
        r for r in log if r[0] > 250
    ]
    rec.close()
    assert meta["snapshot_format"] == "record" and meta["snapshot_kind"] == "rewind"
    assert meta["history_id"] == history[0]
    assert meta["snapshot_max_event_id"] == str(log[-1][0])
    assert meta["snapshot_events"] == str(len(log))
    assert meta["snapshot_rewind_chat_id"] == "" and meta["snapshot_rewind_after_event_id"] == "250"
    assert meta["schema_version"] == str(rpkit.store.SCHEMA_VERSION)
    size = snap.stat().st_size
    assert size < 64 * 1024 < demo_path.stat().st_size
    assert abs(estimate - size) <= 3 * 4096, (estimate, size)
    row = rpkit.list_snapshots(tmp_path).iloc[0]
    assert (row["format"], row["scope"], row["removed"], row["size"]) == (
        "record",
        "global",
        len(log) - 250,
        size,
    )


def test_a_chat_rewind_record_names_its_chat_and_the_retirements_it_undid(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        chat, point = conn.execute(
            "SELECT chat_id, MIN(superseded_by) - 1 FROM event_log WHERE superseded_by IS NOT NULL "
            "AND chat_id IS NOT NULL GROUP BY chat_id ORDER BY chat_id LIMIT 1"
        ).fetchone()
        retired = conn.execute(
            "SELECT id, superseded_by FROM event_log WHERE chat_id = ? AND id <= ? "
            "AND superseded_by > ? ORDER BY id",
            (chat, point, point),
        ).fetchall()
    snap = rpkit.execute_rewind(
        db_path=demo_path, data_dir=tmp_path, after_event_id=point, chat_id=chat
    )
    rec = sqlite3.connect(snap)
    assert rec.execute("SELECT * FROM retirements ORDER BY id").fetchall() == retired
    rec.close()
    assert rpkit.list_snapshots(tmp_path).iloc[0]["scope"] == f"chat {chat}"


def _old_release(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture history and the whole-file snapshot its rewind took (release 77bea5e)."""
    tmp_path.mkdir(exist_ok=True)
    shutil.copyfile(FIXTURES / "v3-rewind-history.db", tmp_path / "history.db")
    (tmp_path / "snapshots").mkdir()
    snap = tmp_path / "snapshots" / "rewind-20261203T120002262736Z-e123.sqlite"
    shutil.copyfile(FIXTURES / "v3-rewind-snapshot.sqlite", snap)
    return tmp_path / "history.db", snap


def test_an_old_whole_file_snapshot_lists_restores_and_undoes(tmp_path):
    db, snap = _old_release(tmp_path)
    row = rpkit.list_snapshots(db_path=db).iloc[0]
    assert (row["format"], row["kind"], row["scope"], row["max_event_id"]) == (
        "copy",
        "rewind",
        "global",
        123,
    )
    with rpkit.open_db(snap) as conn:
        old = log_rows(conn)
    with rpkit.open_db(db) as conn:
        assert rpkit.store.head_id(conn) == 103
    rpkit.undo_rewind(db_path=db, snapshot=snap.name)
    with rpkit.open_db(db) as conn:
        assert log_rows(conn) == old
        assert rpkit.verify(conn).ok
    # and a restore of it, from the rewound state again
    db2, snap2 = _old_release(tmp_path / "again")
    rpkit.restore_snapshot(db_path=db2, snapshot=snap2)
    with rpkit.open_db(db2) as conn:
        assert log_rows(conn) == old
        assert rpkit.verify(conn).ok


def test_undo_from_a_record_costs_no_copy_of_the_history(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        log, tables = log_rows(conn), table_rows(conn)
    snap = rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=100)
    rpkit.undo_rewind(db_path=demo_path, data_dir=tmp_path, snapshot=snap)
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == [snap.name]
    with rpkit.open_db(demo_path) as conn:
        assert (log_rows(conn), table_rows(conn)) == (log, tables)


# -- bad records: a specific error, nothing changed ------------------------------


def _rewound(demo_path: Path, tmp_path: Path) -> Path:
    return rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=200)


def _refused(db: Path, tmp_path: Path, snap: Path, error, words: str) -> None:
    before, snap_before = file_state(db), snap.read_bytes()
    listing = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    for call in (rpkit.undo_rewind, rpkit.restore_snapshot):
        with pytest.raises(error, match=words) as info:
            call(db_path=db, data_dir=tmp_path, snapshot=snap)
        assert str(snap.name) in str(info.value)
        assert file_state(db) == before
        assert snap.read_bytes() == snap_before
        assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == listing


def test_a_record_of_another_history_is_refused_unchanged(demo_path, tmp_path):
    snap = _rewound(demo_path, tmp_path)
    other = tmp_path / "other" / "h.db"
    other.parent.mkdir()
    rpkit.demo.build_demo(other, events=300, seed=11)
    _refused(other, tmp_path, snap, rpkit.ForeignSnapshotError, "another history")


def test_a_record_of_a_newer_schema_is_refused_unchanged(demo_path, tmp_path):
    snap = _rewound(demo_path, tmp_path)
    con = sqlite3.connect(snap)
    con.execute("UPDATE rpkit_meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    _refused(demo_path, tmp_path, snap, rpkit.SnapshotVersionError, "schema version 99")


def test_a_truncated_record_is_refused_unchanged(demo_path, tmp_path):
    snap = _rewound(demo_path, tmp_path)
    data = snap.read_bytes()
    snap.write_bytes(data[: len(data) // 2])
    _refused(demo_path, tmp_path, snap, rpkit.InvalidSnapshotError, "not an rpkit snapshot")


def test_a_record_lacking_a_table_is_refused_unchanged(demo_path, tmp_path):
    snap = _rewound(demo_path, tmp_path)
    con = sqlite3.connect(snap)
    con.execute("DROP TABLE retirements")
    con.commit()
    con.close()
    _refused(demo_path, tmp_path, snap, rpkit.InvalidSnapshotError, "retirements")


def test_a_record_written_after_a_change_on_its_connection_holds_what_that_connection_sees(
    demo_path, tmp_path
):
    """The record copies rows from the file in SQL only while its connection wrote nothing."""
    from rpkit.operations.record import write_record
    from rpkit.store import atomic, head_id

    with rpkit.open_db(demo_path) as conn, atomic(conn):
        n = head_id(conn)
        rpkit.append(conn, "user_turn", {"text": "not committed yet"}, chat_id=1)
        path = write_record(
            conn,
            data_dir=tmp_path,
            kind="rewind",
            removed=("id > ?", (n - 1,)),
            retirements=[],
            rollback_from=n,
            describe={},
        )
        seen = conn.execute("SELECT * FROM event_log WHERE id > ? ORDER BY id", (n - 1,))
        seen = seen.fetchall()
        conn.rollback()
    rec = sqlite3.connect(path)
    try:
        held = rec.execute("SELECT * FROM event_log ORDER BY id").fetchall()
    finally:
        rec.close()
    assert len(seen) == 2 and held == seen
