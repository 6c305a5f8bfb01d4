"""Edits, regenerations and hides retire the old turn and what it caused."""

from __future__ import annotations

import json

import pytest

import rpkit

from ..helpers import file_state, log_rows, table_rows


@pytest.fixture
def chat(conn):
    rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})
    chat = rpkit.next_chat_id(conn)
    rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["mira"]}, chat_id=chat)
    return chat


def _turns(conn, chat):
    u = rpkit.append(conn, "user_turn", {"text": "hello"}, chat_id=chat)
    a = rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": "hi"}, chat_id=chat)
    e = rpkit.append(conn, "edge_update", {"src": "mira", "dst": "you", "delta": 3}, cause_id=a)
    m = rpkit.append(conn, "memory_added", {"owner": "mira", "text": "met you"}, cause_id=e)
    return u, a, e, m


def test_regenerate_retires_turn_and_derived_events(conn, chat):
    u, a, e, m = _turns(conn, chat)
    new = rpkit.regenerate_turn(conn, a, "hello again")
    rows = {r[0]: r for r in log_rows(conn)}
    for old in (a, e, m):  # the cause chain is followed transitively
        assert rows[old][6:] == (1, new)
    assert rows[u][6:] == (0, None)
    payload = json.loads(rows[new][4])
    assert payload == {
        "bot_id": "mira",
        "text": "hello again",
        "revision": "regenerate",
        "replaces": a,
    }
    t = table_rows(conn)
    assert t["edges"] == [] and t["memories"] == []
    assert t["chat_state"] == [(chat, 2, new, "mira", None)]
    assert rpkit.verify(conn).ok


def test_edit_keeps_speaker_and_kind(conn, chat):
    u, *_ = _turns(conn, chat)
    new = rpkit.edit_turn(conn, u, "hello there")
    kind, payload = conn.execute(
        "SELECT kind, payload FROM event_log WHERE id=?", (new,)
    ).fetchone()
    assert kind == "user_turn" and json.loads(payload)["text"] == "hello there"
    assert table_rows(conn)["chat_state"][0][1] == 2
    # Editing the edit works; editing the retired original does not.
    newer = rpkit.edit_turn(conn, new, "hi!")
    assert (
        json.loads(
            conn.execute("SELECT payload FROM event_log WHERE id=?", (newer,)).fetchone()[0]
        )["replaces"]
        == new
    )


def test_hide_turn(conn, chat):
    u, a, e, m = _turns(conn, chat)
    h = rpkit.hide_turn(conn, a)
    assert conn.execute("SELECT kind, chat_id FROM event_log WHERE id=?", (h,)).fetchone() == (
        "turn_hidden",
        chat,
    )
    assert table_rows(conn)["chat_state"] == [(chat, 1, h, "you", None)]
    assert table_rows(conn)["edges"] == []


def test_edit_of_an_old_turn_reprojects_later_state(conn, chat):
    u, a, e, m = _turns(conn, chat)
    _turns(conn, chat)
    rpkit.regenerate_turn(conn, a, "other")
    assert table_rows(conn)["edges"] == [("mira", "you", 3.0, 1, e + 4)]
    assert rpkit.verify(conn).ok


@pytest.mark.parametrize(
    ("action", "target", "error", "words"),
    [
        ("edit", "edge", rpkit.NotATurnError, ["edge_update"]),
        ("edit", "retired", rpkit.AlreadyRetiredError, ["already retired"]),
        ("hide", "retired", rpkit.AlreadyRetiredError, ["already retired"]),
        ("regenerate", "user", rpkit.NotATurnError, ["only assistant turns"]),
        ("regenerate", "retired", rpkit.AlreadyRetiredError, ["already retired"]),
        ("edit", 9999, rpkit.EventIdError, ["9999", "past the newest"]),
        ("edit", -1, rpkit.EventIdError, ["-1", "negative"]),
        ("edit", "7", rpkit.EventIdError, ["'7'", "must be an int"]),
        ("hide", True, rpkit.EventIdError, ["True", "must be an int"]),
    ],
)
def test_bad_edits_are_refused_unchanged(db_path, action, target, error, words):
    with rpkit.open_db(db_path) as conn:
        rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})
        rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["mira"]}, chat_id=1)
        u, a, e, m = _turns(conn, 1)
        rpkit.regenerate_turn(conn, a, "again")
    ids = {"edge": e, "retired": a, "user": u}
    before = file_state(db_path)
    with rpkit.open_db(db_path) as conn:
        fn = {
            "edit": lambda i: rpkit.edit_turn(conn, i, "x"),
            "hide": lambda i: rpkit.hide_turn(conn, i),
            "regenerate": lambda i: rpkit.regenerate_turn(conn, i, "x"),
        }[action]
        with pytest.raises(error) as info:
            fn(ids.get(target, target) if isinstance(target, str) and target in ids else target)
        for word in words:
            assert word in str(info.value)
    assert file_state(db_path) == before


def test_edit_text_must_be_a_string(conn, chat):
    u, *_ = _turns(conn, chat)
    with pytest.raises(rpkit.PayloadError, match="string"):
        rpkit.edit_turn(conn, u, None)
