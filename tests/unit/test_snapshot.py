"""Snapshots describe themselves; restore checks what it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

import rpkit
from rpkit.operations import read_snapshot_meta
from rpkit.store.sqlite import sqlite3

from ..helpers import file_state, log_rows, settle, table_rows


def test_snapshot_describes_itself_and_is_listed(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        head = log_rows(conn)[-1][0]
        count = len(log_rows(conn))
        first = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
        rpkit.append(conn, "you_set", {"name": "later"})
        second = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    frame = rpkit.list_snapshots(tmp_path)
    assert list(frame.columns) == [
        "path",
        "kind",
        "format",
        "taken_at",
        "size",
        "scope",
        "removed",
        "max_event_id",
        "events",
    ]
    assert list(frame["format"]) == ["copy", "copy"]
    assert list(frame["size"]) == [first.stat().st_size, second.stat().st_size]
    assert list(frame["path"]) == [first, second]
    assert list(frame["max_event_id"]) == [head, head + 1]
    assert list(frame["events"]) == [count, count + 1]
    assert str(frame["taken_at"].dtype) == "datetime64[us, UTC]" or "UTC" in str(
        frame["taken_at"].dtype
    )
    meta = read_snapshot_meta(first, check=True)
    assert meta["kind"] == "manual" and meta["source"] == "demo.db"
    # A snapshot is a single self-contained file.
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == sorted(
        [first.name, second.name]
    )


def test_snapshot_includes_committed_wal_content(db_path, tmp_path):
    with rpkit.open_db(db_path) as conn:
        rpkit.append(conn, "you_set", {"name": "in the wal"})
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    with rpkit.open_db(snap) as copy:
        assert table_rows(copy)["you_entity"] == [(1, "in the wal", None)]


def test_snapshot_of_uncommitted_writes_holds_the_committed_state(db_path, tmp_path):
    with rpkit.open_db(db_path) as conn:
        rpkit.append(conn, "you_set", {"name": "committed"})
        conn.execute("BEGIN")
        rpkit.append(conn, "you_set", {"name": "pending"})
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")  # does not hang
        conn.rollback()
    with rpkit.open_db(snap) as copy:
        assert table_rows(copy)["you_entity"] == [(1, "committed", None)]


def test_bad_snapshot_kind(conn, tmp_path):
    with pytest.raises(rpkit.SnapshotError, match="'../x'"):
        rpkit.take_snapshot(conn, data_dir=tmp_path, kind="../x")


def _foreign(path):
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b"not sqlite"), ["not an SQLite file"]),
        (_foreign, ["not an rpkit snapshot"]),
        (lambda p: None, ["is not a file"]),
    ],
    ids=["text-file", "foreign-sqlite", "missing"],
)
def test_restore_refuses_what_is_not_a_snapshot(demo_path, tmp_path, make, words):
    bad = tmp_path / "bad.sqlite"
    make(bad)
    before = file_state(demo_path)
    with pytest.raises(rpkit.InvalidSnapshotError) as info:
        rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=bad)
    for word in words:
        assert word in str(info.value)
    assert file_state(demo_path) == before


def test_restore_refuses_a_plain_history_and_a_truncated_snapshot(demo_path, tmp_path):
    before = file_state(demo_path)
    with pytest.raises(rpkit.InvalidSnapshotError, match="not a snapshot"):
        rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=demo_path)
    with rpkit.open_db(demo_path) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(snap.read_bytes()[: snap.stat().st_size // 2])
    with pytest.raises(rpkit.InvalidSnapshotError):
        rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=cut)
    assert file_state(demo_path) == before


def test_restore_by_file_name_in_the_snapshot_folder(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
        rows = log_rows(conn)
        rpkit.append(conn, "you_set", {"name": "after"})
    rpkit.restore_snapshot(db_path=demo_path, data_dir=tmp_path, snapshot=snap.name)
    with rpkit.open_db(demo_path) as conn:
        assert log_rows(conn) == rows
        assert (
            conn.execute("SELECT key FROM rpkit_meta WHERE key LIKE 'snapshot%'").fetchall() == []
        )


def test_snapshot_holds_every_commit_still_in_a_long_wal(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # every commit below stays in the WAL
        for i in range(50):
            rpkit.append(conn, "you_set", {"name": f"name {i}"})
        assert Path(f"{demo_path}-wal").stat().st_size > 50 * 4096
        rows, tables = log_rows(conn), table_rows(conn)
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    assert sorted(p.name for p in snap.parent.iterdir()) == [snap.name]  # no -wal, no -shm
    with rpkit.open_db(snap) as copy:
        assert log_rows(copy) == rows
        assert table_rows(copy) == tables
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_snapshot_in_a_read_transaction_while_another_writer_holds_the_lock(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn, rpkit.open_db(demo_path) as writer:
        rows = log_rows(conn)
        writer.execute("BEGIN IMMEDIATE")
        rpkit.append(writer, "you_set", {"name": "not yet committed"})
        conn.execute("BEGIN")
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")  # does not wait
        conn.rollback()
        writer.rollback()
    with rpkit.open_db(snap) as copy:
        assert log_rows(copy) == rows


def test_snapshot_of_a_history_in_rollback_journal_mode(demo_path, tmp_path):
    settle(demo_path)
    plain = sqlite3.connect(demo_path)
    plain.execute("PRAGMA journal_mode = DELETE")
    rows = log_rows(plain)
    snap = rpkit.take_snapshot(plain, data_dir=tmp_path, kind="manual")
    plain.close()
    assert read_snapshot_meta(snap, check=True)["events"] == len(rows)
    with rpkit.open_db(snap) as copy:
        assert log_rows(copy) == rows
