"""Durable commits and folders: the level of a destructive transaction, new folders'
names, and a history a crash left with a hot journal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rpkit
from rpkit.durable import make_dirs
from rpkit.store import atomic
from rpkit.store.file import SQLITE_READONLY
from rpkit.store.sqlite import sqlite3

NORMAL, FULL = 1, 2


def test_a_durable_block_commits_with_synchronous_full_and_only_it(tmp_path):
    with rpkit.open_db(tmp_path / "h.db") as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == NORMAL
        with atomic(conn, durable=True):
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == FULL
            rpkit.append(conn, "you_set", {"name": "Ada"})
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == NORMAL
        with atomic(conn):
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == NORMAL


def test_a_failed_durable_block_rolls_back_and_restores_the_level(tmp_path):
    with rpkit.open_db(tmp_path / "h.db") as conn:
        try:
            with atomic(conn, durable=True):
                rpkit.append(conn, "you_set", {"name": "Ada"})
                raise KeyError("stop")
        except KeyError:
            pass
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == NORMAL
        assert conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0] == 0


def test_a_durable_block_inside_a_transaction_is_a_savepoint(tmp_path):
    with rpkit.open_db(tmp_path / "h.db") as conn:
        with atomic(conn):
            with atomic(conn, durable=True):
                rpkit.append(conn, "you_set", {"name": "Ada"})
            assert conn.in_transaction
        assert conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0] == 1


def test_make_dirs_makes_every_missing_level_and_returns_them(tmp_path):
    made = make_dirs(tmp_path / "a" / "b" / "c")
    assert made == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    assert (tmp_path / "a" / "b" / "c").is_dir()
    assert make_dirs(tmp_path / "a" / "b") == []


HOT_JOURNAL = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute("PRAGMA cache_size = 1")
conn.execute("CREATE TABLE t(x)")
conn.execute("BEGIN")
conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(400)])
os._exit(0)  # the transaction's pages spilled into the file; its journal is hot
"""


def test_a_hot_journal_a_crash_left_is_rolled_back_on_open(tmp_path):
    """A history cut off mid-transaction (as while SQLite switches a new file to WAL)
    opens: one read-write connection rolls the journal back (a read-only one cannot)."""
    db = tmp_path / "h.db"
    subprocess.run([sys.executable, "-c", HOT_JOURNAL, str(db)], check=True)
    assert Path(f"{db}-journal").stat().st_size > 0
    ro = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        ro.execute("SELECT * FROM sqlite_master").fetchall()
        raise AssertionError("expected SQLITE_READONLY_ROLLBACK")
    except sqlite3.DatabaseError as exc:
        assert exc.sqlite_errorcode & 0xFF == SQLITE_READONLY
    finally:
        ro.close()
    # rolled back, the file is what it was before: a database with a table t, not rpkit's
    with pytest.raises(rpkit.errors.ForeignDatabaseError, match="another application"):
        rpkit.open_db(db).__enter__()
    assert not Path(f"{db}-journal").exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    con.close()
