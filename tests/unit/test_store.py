"""open_db: creation, configuration, transactions, refusals and migration."""

from __future__ import annotations

import shutil

import pytest

import rpkit
from rpkit.store import get_meta, schema
from rpkit.store.sqlite import sqlite3

from ..helpers import ROOT, file_state, log_rows, table_rows


def test_new_history_has_schema_and_settings(db_path):
    with rpkit.open_db(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"event_log", "rpkit_meta", "projection_undo", *schema.PROJECTED} <= tables
        assert "sqlite_sequence" in tables  # AUTOINCREMENT: ids never reused
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert get_meta(conn, "schema_version") == schema.SCHEMA_VERSION
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='event_log'").fetchone()[0]
        assert "AUTOINCREMENT" in sql


def test_commits_on_clean_exit_and_rolls_back_on_error(db_path):
    with rpkit.open_db(db_path) as conn:
        rpkit.append(conn, "you_set", {"name": "Ada"})
    with pytest.raises(KeyError), rpkit.open_db(db_path) as conn:
        conn.execute("INSERT INTO rpkit_meta(key, value) VALUES ('x', 'y')")
        raise KeyError("boom")
    with rpkit.open_db(db_path) as conn:
        assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Ada",)
        assert conn.execute("SELECT 1 FROM rpkit_meta WHERE key = 'x'").fetchone() is None


def test_connection_is_closed_after_the_block(db_path):
    with rpkit.open_db(db_path) as conn:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_directory_is_refused(tmp_path):
    with pytest.raises(rpkit.NotADatabaseError, match="is a directory"):
        with rpkit.open_db(tmp_path):
            pass


def test_missing_folder_is_refused_and_not_created(tmp_path):
    target = tmp_path / "nope" / "h.db"
    with pytest.raises(rpkit.NotADatabaseError, match="does not exist"), rpkit.open_db(target):
        pass
    assert not (tmp_path / "nope").exists()


def test_non_sqlite_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"just some text, not a database\n" * 10)
    before = path.read_bytes()
    with pytest.raises(rpkit.NotADatabaseError, match="not an SQLite database"):
        with rpkit.open_db(path):
            pass
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_foreign_database_is_refused_unchanged(tmp_path):
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute("INSERT INTO customers VALUES (1, 'x')")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(rpkit.ForeignDatabaseError, match="customers"), rpkit.open_db(path):
        pass
    assert path.read_bytes() == before
    # Not switched to WAL: the header still says rollback journal.
    assert before[18:20] == b"\x01\x01"


def test_newer_schema_is_refused_unchanged(db_path):
    with rpkit.open_db(db_path) as conn:
        conn.execute("UPDATE rpkit_meta SET value = '99' WHERE key = 'schema_version'")
    before = file_state(db_path)
    with pytest.raises(rpkit.SchemaVersionError, match="99"), rpkit.open_db(db_path):
        pass
    assert file_state(db_path) == before


def test_version_1_history_is_migrated_and_projected(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    schema.create_v1(old)
    old.executemany(
        "INSERT INTO event_log(ts, chat_id, kind, payload) VALUES (?, ?, ?, ?)",
        [
            ("2024-01-01T00:00:00.000000Z", None, "bot_created", '{"bot_id": "b", "name": "B"}'),
            ("2024-01-01T00:00:01.000000Z", 1, "chat_created", '{"title": "t", "bot_ids": ["b"]}'),
            ("2024-01-01T00:00:02.000000Z", 1, "user_turn", '{"text": "hi"}'),
        ],
    )
    old.commit()
    old.close()
    with rpkit.open_db(path) as conn:
        assert get_meta(conn, "schema_version") == schema.SCHEMA_VERSION
        assert conn.execute("SELECT turn_count FROM chat_state").fetchone() == (1,)
        assert rpkit.verify(conn).ok
        assert len(log_rows(conn)) == 3
        assert table_rows(conn)["bots"] == [("b", "B", None, 1)]


V2_FIXTURE = ROOT / "tests" / "fixtures" / "v2-history.db"


def test_a_version_2_history_of_the_last_release_migrates_to_lineage(tmp_path):
    """``tests/fixtures/v2-history.db`` was written by rpkit 0.1 (schema 2), before lineage."""
    path = tmp_path / "v2.db"
    shutil.copyfile(V2_FIXTURE, path)
    old = sqlite3.connect(path)
    assert old.execute("SELECT value FROM rpkit_meta WHERE key = 'schema_version'").fetchone() == (
        "2",
    )
    old_log = log_rows(old)
    old_chats = old.execute("SELECT * FROM chats ORDER BY id").fetchall()
    old.close()
    with rpkit.open_db(path) as conn:
        assert get_meta(conn, "schema_version") == schema.SCHEMA_VERSION == 3
        assert log_rows(conn) == old_log
        chats = conn.execute("SELECT * FROM chats ORDER BY id").fetchall()
        assert chats == [(*row, None, None) for row in old_chats]
        history_id = conn.execute(
            "SELECT value FROM rpkit_meta WHERE key = 'history_id'"
        ).fetchone()[0]
        assert len(history_id) == 32
        assert rpkit.verify(conn).ok
    with rpkit.open_db(path) as conn:  # a second open changes nothing
        assert conn.execute("SELECT value FROM rpkit_meta WHERE key = 'history_id'").fetchone() == (
            history_id,
        )


def test_a_history_made_at_version_2_migrates(tmp_path):
    path = tmp_path / "made-at-2.db"
    old = sqlite3.connect(path)
    schema.create(old, version=2)
    old.executemany(
        "INSERT INTO event_log(ts, chat_id, kind, payload) VALUES (?, ?, ?, ?)",
        [
            ("2024-01-01T00:00:00.000000Z", None, "bot_created", '{"bot_id": "b", "name": "B"}'),
            ("2024-01-01T00:00:01.000000Z", 1, "chat_created", '{"title": "t", "bot_ids": ["b"]}'),
        ],
    )
    old.commit()
    columns = [r[1] for r in old.execute("PRAGMA table_info(chats)")]
    assert "parent_chat_id" not in columns
    old.close()
    with rpkit.open_db(path) as conn:
        assert table_rows(conn)["chats"] == [(1, "t", 2, "2024-01-01T00:00:01.000000Z", None, None)]
        assert rpkit.verify(conn).ok
