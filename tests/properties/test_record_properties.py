"""Rewind records over random multi-chat histories (hypothesis).

The histories of ``test_properties``, with forks. For each random rewind
(global or of one chat): ``undo_rewind`` from its record gives back the exact
content of the file (every row of the log, of every projected table, of the
rollback log and of ``rpkit_meta``); ``restore_snapshot`` of the record gives
back that exact content too, also after appends in every chat and the world,
and restoring the record the restore wrote gives back the state before it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit.operations import read_snapshot_meta
from rpkit.store.sqlite import sqlite3

from .test_properties import build, op
from .test_tree_properties import fork_some

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# The rollback log as its entries in the order they apply (``seq`` only orders them: a
# per-chat rewind replaces some events' entries, which then take new, higher numbers).
ROLLBACK_LOG = "SELECT event_id, tbl, key, old FROM projection_undo ORDER BY event_id, seq"


def content(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table but sqlite_sequence (ids handed out stay handed out)."""
    con = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence' "
                "ORDER BY name"
            )
        ]
        out = {n: sorted(con.execute(f"SELECT * FROM {n}"), key=repr) for n in names}
        out["projection_undo"] = con.execute(ROLLBACK_LOG).fetchall()
        return out
    finally:
        con.close()


def _rewind(db: Path, tmp: Path, data) -> Path:
    """A random rewind, global or of one chat; returns its record."""
    with rpkit.open_db(db) as conn:
        chats = [r[0] for r in conn.execute("SELECT id FROM chats")]
        chat = data.draw(st.sampled_from([None, *chats]), label="chat")
        low = 0
        if chat is not None:
            low = conn.execute("SELECT created_event_id FROM chats WHERE id = ?", (chat,))
            low = low.fetchone()[0]
        n = data.draw(st.integers(low, rpkit.store.head_id(conn)), label="after_event_id")
    snap = rpkit.execute_rewind(db_path=db, data_dir=tmp, after_event_id=n, chat_id=chat)
    assert read_snapshot_meta(snap, check=True)["format"] == "record"
    return snap


def _history(tmp: Path, ops, data) -> Path:
    db = tmp / "h.db"
    with rpkit.open_db(db) as conn:
        build(conn, ops)
        fork_some(conn, data)
    return db


def _appends(db: Path) -> None:
    """An append in every chat and the world, and an edit of the newest live turn."""
    with rpkit.open_db(db) as conn:
        for (chat,) in conn.execute("SELECT id FROM chats").fetchall():
            rpkit.append(conn, "user_turn", {"text": "meanwhile"}, chat_id=chat)
        rpkit.append(conn, "you_set", {"name": "meanwhile"})
        turn = conn.execute(
            "SELECT MAX(id) FROM event_log WHERE kind = 'user_turn' AND superseded_by IS NULL"
        ).fetchone()[0]
        if turn is not None:
            rpkit.edit_turn(conn, turn, "edited meanwhile")


@SETTINGS
@given(ops=st.lists(op, min_size=0, max_size=35), data=st.data())
def test_undo_from_a_record_gives_back_the_exact_content(ops, data):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = _history(tmp, ops, data)
        before = content(db)
        snap = _rewind(db, tmp, data)
        rpkit.undo_rewind(db_path=db, data_dir=tmp, snapshot=snap)
        assert content(db) == before
        with rpkit.open_db(db) as conn:
            assert rpkit.verify(conn).ok


@SETTINGS
@given(ops=st.lists(op, min_size=0, max_size=35), data=st.data(), later=st.booleans())
def test_restore_of_a_record_gives_back_the_exact_state_before(ops, data, later):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = _history(tmp, ops, data)
        before = content(db)
        snap = _rewind(db, tmp, data)
        if later:
            _appends(db)
        between = content(db)
        made = rpkit.restore_snapshot(db_path=db, data_dir=tmp, snapshot=snap)
        assert content(db) == before
        with rpkit.open_db(db) as conn:
            assert rpkit.verify(conn).ok
        assert read_snapshot_meta(made)["kind"] == "pre-restore"
        rpkit.restore_snapshot(db_path=db, data_dir=tmp, snapshot=made)
        assert content(db) == between
        with rpkit.open_db(db) as conn:
            assert rpkit.verify(conn).ok
