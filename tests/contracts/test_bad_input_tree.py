"""Bad input to per-chat rewinds, undo_rewind and fork_chat (DESIGN §11).

Each case asserts a specific ``RpkitError`` subclass, a message that names the
bad value and says what to do, and a history left byte for byte as it was.
"""

from __future__ import annotations

import pytest

import rpkit

from ..helpers import file_state


@pytest.fixture
def history(demo_path, tmp_path):
    """The demo history, with a rewind of chat 2 taken and chat 2 moved on since."""
    with rpkit.open_db(demo_path) as conn:
        point = conn.execute("SELECT MAX(id) - 30 FROM event_log WHERE chat_id = 2").fetchone()[0]
        gone = conn.execute(
            "SELECT MIN(id) FROM event_log WHERE chat_id = 2 AND id > ?", (point,)
        ).fetchone()[0]
    snap = rpkit.execute_rewind(
        db_path=demo_path, data_dir=tmp_path, after_event_id=point, chat_id=2
    )
    with rpkit.open_db(demo_path) as conn:
        rpkit.append(conn, "user_turn", {"text": "moved on"}, chat_id=2)
        manual = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
        edge = conn.execute("SELECT MIN(id) FROM event_log WHERE kind = 'edge_update'").fetchone()
    other = tmp_path / "other.db"
    rpkit.demo.build_demo(other, events=60, seed=3)
    other_snap = rpkit.execute_rewind(db_path=other, data_dir=tmp_path, after_event_id=20)
    return {
        "db": demo_path,
        "data_dir": tmp_path,
        "moved_on": snap,
        "manual": manual,
        "foreign": other_snap,
        "edge": edge[0],
        "gone": gone,
    }


def rewind(h, after, chat):
    return lambda: rpkit.execute_rewind(
        db_path=h["db"], data_dir=h["data_dir"], after_event_id=after, chat_id=chat
    )


def preview(h, after, chat):
    def call():
        with rpkit.open_db(h["db"]) as conn:
            rpkit.compute_rewind_preview(conn, after, chat_id=chat)

    return call


def undo(h, snapshot):
    return lambda: rpkit.undo_rewind(db_path=h["db"], data_dir=h["data_dir"], snapshot=snapshot)


def fork(h, turn, **kw):
    def call():
        with rpkit.open_db(h["db"]) as conn:
            rpkit.fork_chat(conn, turn, **kw)

    return call


CASES = {
    "rewind-unknown-chat": (
        lambda h: rewind(h, 100, 99),
        rpkit.UnknownChatError,
        ["no chat 99", "frames.chats"],
    ),
    "preview-unknown-chat": (
        lambda h: preview(h, 100, 99),
        rpkit.UnknownChatError,
        ["no chat 99"],
    ),
    "rewind-chat-id-bool": (
        lambda h: rewind(h, 100, True),
        rpkit.ChatIdError,
        ["bool True", "must be an int"],
    ),
    "rewind-chat-id-str": (lambda h: rewind(h, 100, "2"), rpkit.ChatIdError, ["str '2'"]),
    "rewind-chat-id-float": (lambda h: preview(h, 100, 2.0), rpkit.ChatIdError, ["float 2.0"]),
    "rewind-before-the-chat": (
        lambda h: rewind(h, 12, 2),
        rpkit.RewindPointError,
        ["12", "before chat 2 was created", "event 13"],
    ),
    "preview-before-the-chat": (
        lambda h: preview(h, 0, 3),
        rpkit.RewindPointError,
        ["before chat 3 was created"],
    ),
    "undo-a-manual-snapshot": (
        lambda h: undo(h, h["manual"]),
        rpkit.NotARewindSnapshotError,
        ["'manual' snapshot", "records no rewind", "restore_snapshot"],
    ),
    "undo-a-text-file": (
        lambda h: undo(h, h["db"].parent / "README.txt"),
        rpkit.NotARewindSnapshotError,
        ["README.txt", "execute_rewind"],
    ),
    "undo-another-historys-snapshot": (
        lambda h: undo(h, h["foreign"]),
        rpkit.ForeignSnapshotError,
        ["another history", "list_snapshots"],
    ),
    "undo-after-the-chat-moved-on": (
        lambda h: undo(h, h["moved_on"]),
        rpkit.HistoryMovedOnError,
        ["chat 2 has moved on", "restore_snapshot"],
    ),
    "fork-a-non-turn": (
        lambda h: fork(h, h["edge"]),
        rpkit.NotATurnError,
        ["'edge_update'", "not a user or assistant turn"],
    ),
    "fork-a-deleted-event": (
        lambda h: fork(h, h["gone"]),
        rpkit.EventIdError,
        ["no event", "frames.events"],
    ),
    "fork-a-bool": (lambda h: fork(h, True), rpkit.EventIdError, ["bool True"]),
    "fork-a-bad-title": (
        lambda h: fork(h, 17, title=3),
        rpkit.ForkError,
        ["title must be a string", "int 3"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_and_changes_nothing(history, case):
    make, error, words = CASES[case]
    (history["db"].parent / "README.txt").write_text("not a snapshot")
    call = make(history)
    before = file_state(history["db"])
    snapshots = sorted((history["data_dir"] / "snapshots").iterdir())
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (case, str(info.value))
    assert file_state(history["db"]) == before
    assert sorted((history["data_dir"] / "snapshots").iterdir()) == snapshots
