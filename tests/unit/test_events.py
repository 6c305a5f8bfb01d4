"""append: every kind of the catalogue projects as DESIGN §2 says; bad events are refused."""

from __future__ import annotations

import json

import pytest

import rpkit
from rpkit.log import append_replacing

from ..helpers import dump, file_state, log_rows, table_rows


def _world(conn, ts=None):
    rpkit.append(conn, "you_set", {"name": "Wren", "persona": "courier"}, ts=ts)
    rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"}, ts=ts)
    rpkit.append(
        conn, "container_created", {"container_id": 1, "name": "Vell", "kind": "kingdom"}, ts=ts
    )
    rpkit.append(
        conn, "container_created", {"container_id": 2, "name": "Inn", "parent_id": 1}, ts=ts
    )
    chat = rpkit.next_chat_id(conn)
    rpkit.append(
        conn,
        "chat_created",
        {"title": "Evening", "bot_ids": ["mira"]},
        chat_id=chat,
        ts="2024-06-05T14:56:50Z",
    )
    return chat


def test_every_kind_projects(conn):
    chat = _world(conn)
    assert chat == 1 and rpkit.next_chat_id(conn) == 2
    s1 = rpkit.append(conn, "scene_started", {"container_id": 2, "title": "arrival"}, chat_id=chat)
    u = rpkit.append(conn, "user_turn", {"text": "hello"}, chat_id=chat)
    a = rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": "welcome"}, chat_id=chat)
    e1 = rpkit.append(
        conn, "edge_update", {"src": "mira", "dst": "you", "delta": 2}, cause_id=a, chat_id=chat
    )
    rpkit.append(conn, "edge_update", {"src": "mira", "dst": "you", "delta": -0.5})
    m = rpkit.append(
        conn,
        "memory_added",
        {"owner": "mira", "text": "likes tea", "salience": 0.7},
        chat_id=chat,
        cause_id=a,
    )
    act = rpkit.append(
        conn,
        "activity_logged",
        {"container_id": 2, "entity": "mira", "action": "pours tea"},
        chat_id=chat,
    )
    f = rpkit.append(
        conn,
        "classifier_failed",
        {"stage": "affinity", "error": "timeout"},
        cause_id=u,
        chat_id=chat,
    )
    s2 = rpkit.append(conn, "scene_started", {"container_id": 1}, chat_id=chat)
    end = rpkit.append(conn, "scene_ended", {}, chat_id=chat)
    rpkit.append(conn, "you_set", {"name": "Wren B."})  # persona kept when not given
    t = table_rows(conn)
    assert t["you_entity"] == [(1, "Wren B.", "courier")]
    assert t["bots"] == [("mira", "Mira", None, 2)]
    assert t["containers"] == [(1, "Vell", "kingdom", None), (2, "Inn", None, 1)]
    assert t["chats"] == [(1, "Evening", 5, "2024-06-05T14:56:50.000000Z", None, None)]
    assert t["chat_state"] == [(1, 2, end, "mira", None)]
    assert t["edges"] == [("mira", "you", 1.5, 2, e1 + 1)]
    assert t["memories"] == [(m, 1, "mira", "likes tea", 0.7)]
    assert t["activity"] == [(act, 1, 2, "mira", "pours tea")]
    assert t["classifier_failures"] == [(f, u, "affinity", "timeout")]
    assert t["scenes"] == [(s1, 1, 2, "arrival", s1, s2), (s2, 1, 1, None, s2, end)]
    assert rpkit.verify(conn).ok


def test_timestamps_are_stored_as_utc(conn):
    rpkit.append(conn, "you_set", {"name": "a"}, ts="2024-06-05T16:56:50.5+02:00")
    assert conn.execute("SELECT ts FROM event_log").fetchone() == ("2024-06-05T14:56:50.500000Z",)


def test_extra_payload_fields_are_kept(conn):
    chat = _world(conn)
    i = rpkit.append(conn, "user_turn", {"text": "x", "source": {"line": 3}}, chat_id=chat)
    payload = conn.execute("SELECT payload FROM event_log WHERE id = ?", (i,)).fetchone()[0]
    assert json.loads(payload) == {"text": "x", "source": {"line": 3}}


BAD_EVENTS = [
    # (kind, payload, kwargs, error, words the message must contain)
    ("teleport", {}, {}, rpkit.UnknownKindError, ["'teleport'", "you_set"]),
    ("user_turn", {}, {"chat_id": 1}, rpkit.PayloadError, ["'text'", "missing"]),
    ("user_turn", {"text": 5}, {"chat_id": 1}, rpkit.PayloadError, ["'text'", "string", "5"]),
    ("user_turn", ["text"], {"chat_id": 1}, rpkit.PayloadError, ["JSON object", "list"]),
    ("user_turn", "hello", {"chat_id": 1}, rpkit.PayloadError, ["JSON object", "hello"]),
    (
        "edge_update",
        {"src": "a", "dst": "b", "delta": True},
        {},
        rpkit.PayloadError,
        ["'delta'", "number", "True"],
    ),
    (
        "edge_update",
        {"src": "a", "dst": "b", "delta": float("nan")},
        {},
        rpkit.PayloadError,
        ["'delta'"],
    ),
    ("edge_update", {"src": "a", "dst": "a", "delta": 1}, {}, rpkit.PayloadError, ["'a'"]),
    (
        "container_created",
        {"container_id": "1", "name": "x"},
        {},
        rpkit.PayloadError,
        ["'container_id'", "integer"],
    ),
    ("user_turn", {"text": "hi"}, {}, rpkit.PayloadError, ["chat_id"]),
    ("user_turn", {"text": "hi"}, {"chat_id": 42}, rpkit.UnknownReferenceError, ["chat 42"]),
    (
        "bot_created",
        {"bot_id": "x", "name": "X"},
        {"chat_id": 1},
        rpkit.PayloadError,
        ["world-level"],
    ),
    (
        "chat_created",
        {"title": "t", "bot_ids": ["mira"]},
        {"chat_id": 1},
        rpkit.PayloadError,
        ["chat id 1", "next_chat_id"],
    ),
    (
        "chat_created",
        {"title": "t", "bot_ids": ["ghost"]},
        {"chat_id": 2},
        rpkit.UnknownReferenceError,
        ["'ghost'"],
    ),
    (
        "assistant_turn",
        {"bot_id": "ghost", "text": "x"},
        {"chat_id": 1},
        rpkit.UnknownReferenceError,
        ["'ghost'"],
    ),
    ("bot_created", {"bot_id": "mira", "name": "again"}, {}, rpkit.PayloadError, ["'mira'"]),
    (
        "scene_started",
        {"container_id": 9},
        {"chat_id": 1},
        rpkit.UnknownReferenceError,
        ["container 9"],
    ),
    (
        "container_created",
        {"container_id": 3, "name": "x", "parent_id": 7},
        {},
        rpkit.UnknownReferenceError,
        ["parent container 7"],
    ),
    (
        "memory_added",
        {"owner": "mira", "text": "t"},
        {"cause_id": 999},
        rpkit.UnknownReferenceError,
        ["999"],
    ),
    (
        "user_turn",
        {"text": "hi"},
        {"chat_id": 1, "ts": "yesterday"},
        rpkit.TimestampError,
        ["'yesterday'"],
    ),
    (
        "user_turn",
        {"text": "hi"},
        {"chat_id": 1, "ts": "2024-01-01T10:00:00"},
        rpkit.TimestampError,
        ["time zone"],
    ),
    ("turn_hidden", {"target": 3}, {"chat_id": 1}, rpkit.NotATurnError, ["event 3"]),
]


@pytest.mark.parametrize(
    ("kind", "payload", "kwargs", "error", "words"),
    BAD_EVENTS,
    ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD_EVENTS)],
)
def test_bad_event_is_refused_and_nothing_changes(db_path, kind, payload, kwargs, error, words):
    with rpkit.open_db(db_path) as conn:
        _world(conn)
    before = file_state(db_path)
    with rpkit.open_db(db_path) as conn:
        with pytest.raises(error) as info:
            rpkit.append(conn, kind, payload, **kwargs)
        assert isinstance(info.value, rpkit.RpkitError)
        for word in words:
            assert word in str(info.value)
    assert file_state(db_path) == before


def test_a_failed_append_leaves_the_callers_transaction_alone(conn):
    chat = _world(conn)
    conn.execute("BEGIN")
    rpkit.append(conn, "user_turn", {"text": "kept"}, chat_id=chat)
    with pytest.raises(rpkit.PayloadError):
        rpkit.append(conn, "user_turn", {"txt": "typo"}, chat_id=chat)
    conn.commit()
    assert [r[3] for r in log_rows(conn)][-1] == "user_turn"
    assert conn.execute("SELECT turn_count FROM chat_state").fetchone() == (1,)


def test_extension_kind_with_handler(conn):
    rpkit.register_kind("mood_set", "entity:str mood:str", chat="optional")

    @rpkit.handler("mood_set")
    def _mood(sink, ev):
        sink.put(
            "memories",
            {
                "id": ev.id,
                "chat_id": ev.chat_id,
                "owner": ev.payload["entity"],
                "text": f"mood: {ev.payload['mood']}",
                "salience": None,
            },
        )

    try:
        i = rpkit.append(conn, "mood_set", {"entity": "you", "mood": "wary"})
        assert table_rows(conn)["memories"] == [(i, None, "you", "mood: wary", None)]
        with pytest.raises(rpkit.PayloadError, match="'mood'"):
            rpkit.append(conn, "mood_set", {"entity": "you"})
        assert rpkit.verify(conn).ok
    finally:
        from rpkit.kinds import KINDS

        KINDS.pop("mood_set")


def test_append_replacing_retires_alternatives(conn):
    chat = _world(conn)
    rpkit.append(conn, "user_turn", {"text": "hi"}, chat_id=chat)
    a1 = rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": "one"}, chat_id=chat)
    a2 = rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": "two"}, chat_id=chat)
    sel = append_replacing(
        conn, "assistant_turn", {"bot_id": "mira", "text": "three"}, replaces=[a1, a2], chat_id=chat
    )
    rows = {r[0]: r for r in log_rows(conn)}
    assert rows[a1][6:] == (1, sel) and rows[a2][6:] == (1, sel)
    assert conn.execute("SELECT turn_count FROM chat_state").fetchone() == (2,)


def _batch(chat: int) -> list[tuple]:
    """A run of plain events touching shared rows (chat, edges, scenes) again and again."""
    at = "2024-06-05T16:00:00Z"
    events = [("scene_started", {"container_id": 2, "title": "arrival"}, chat, None, at)]
    for i in range(30):
        events.append(
            ("user_turn", {"text": f"line {i}"}, chat, None, f"2024-06-05T15:{i:02d}:00Z")
        )
        events.append(
            ("edge_update", {"src": "you", "dst": "mira", "delta": i / 10}, chat, None, at)
        )
        if i % 7 == 0:
            events.append(("memory_added", {"owner": "mira", "text": f"m{i}"}, chat, None, at))
    events.append(("scene_ended", {}, chat, None, at))
    events.append(("edge_update", {"src": "mira", "dst": "you", "delta": -1.5}, None, None, at))
    return events


def _one_by_one_and_in_a_batch(tmp_path, events_of, one_by_one, *, skip=()) -> tuple:
    """The same events written one call each and by ``append_many``, on two new histories.

    Asserts that both give the same ids, log and tables, that verify agrees, and
    that the two files' dumps are alike except each one's ``history_id`` and the
    lines naming ``skip``. Returns the batch's history (connection closed), chat and ids.
    """
    made = {}
    for way in ("one", "many"):
        path = tmp_path / f"{way}.db"
        with rpkit.open_db(path) as conn:
            chat = _world(conn, ts="2024-06-05T14:00:00Z")
            events = events_of(chat)
            ids = one_by_one(conn, events) if way == "one" else rpkit.append_many(conn, events)
            made[way] = ids, log_rows(conn), table_rows(conn)
            if way == "many":
                assert rpkit.verify(conn).ok
    assert made["one"] == made["many"]
    one, many = (
        [
            line
            for line in dump(tmp_path / f"{way}.db")
            if "'history_id'" not in line and not any(word in line for word in skip)
        ]
        for way in ("one", "many")
    )
    assert one == many
    return tmp_path / "many.db", chat, made["many"][0]


def test_append_many_leaves_what_one_append_each_leaves(tmp_path):
    def one_by_one(conn, events):
        return [rpkit.append(conn, k, p, chat_id=c, cause_id=x, ts=t) for k, p, c, x, t in events]

    _, _, ids = _one_by_one_and_in_a_batch(tmp_path, _batch, one_by_one)
    assert ids == list(range(6, 6 + len(_batch(1))))  # the undo log and meta alike too


@pytest.mark.parametrize(
    ("bad", "error", "words"),
    [
        (("scene_started", {"container_id": 99, "title": "nowhere"}, 1, None, None),
         rpkit.UnknownReferenceError, ["99"]),
        (("user_turn", {"text": 5}, 1, None, None), rpkit.PayloadError, ["text"]),
        (("turn_hidden", {"target": 7}, 1, None, None), rpkit.PayloadError, ["append()"]),
    ],
    ids=["unknown-place", "bad-payload", "retiring-kind"],
)  # fmt: skip
def test_append_many_refuses_a_bad_event_and_writes_none(db_path, bad, error, words):
    with rpkit.open_db(db_path) as conn:
        chat = _world(conn)
    before = file_state(db_path)
    events = _batch(chat)
    events.insert(5, bad)
    with rpkit.open_db(db_path) as conn:
        with pytest.raises(error) as info:
            rpkit.append_many(conn, events)
        for word in words:
            assert word in str(info.value)
    assert file_state(db_path) == before


def _alternatives(chat: int) -> list[tuple]:
    """Replies each followed by the reply that replaced them (``replaces``: positions)."""
    at = "2024-06-05T14:10:00Z"
    events: list[tuple] = []
    for i in range(6):
        events.append(("user_turn", {"text": f"q{i}"}, chat, None, at))
        first = len(events)
        for j in range(i % 3):
            events.append(
                ("assistant_turn", {"bot_id": "mira", "text": f"no {i}.{j}"}, chat, None, at)
            )
        done = tuple(range(first, len(events)))
        events.append(("assistant_turn", {"bot_id": "mira", "text": f"a{i}"}, chat, None, at, done))
    return events  # fmt: skip


def test_append_many_retires_what_an_event_replaces_as_append_replacing_does(tmp_path):
    def one_by_one(conn, events):
        ids: list[int] = []
        for kind, payload, c, _cause, ts, *rest in events:
            old = [ids[n] for n in (rest[0] if rest else ())]
            ids.append(append_replacing(conn, kind, payload, replaces=old, chat_id=c, ts=ts))
        return ids

    # Only the undo log differs: the batch never folded what it retired.
    db, chat, ids = _one_by_one_and_in_a_batch(
        tmp_path, _alternatives, one_by_one, skip=("projection_undo",)
    )
    with rpkit.open_db(db) as conn:
        live = rpkit.frames.turns(conn, chat, include_retired=False)
        assert list(live["text"]) == [x for i in range(6) for x in (f"q{i}", f"a{i}")]
        retired = conn.execute(
            "SELECT json_extract(payload, '$.text'), superseded_by FROM event_log "
            "WHERE superseded_by IS NOT NULL ORDER BY id"
        ).fetchall()
    assert retired == [
        ("no 1.0", ids[4]), ("no 2.0", ids[8]), ("no 2.1", ids[8]),
        ("no 4.0", ids[13]), ("no 5.0", ids[17]), ("no 5.1", ids[17]),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("replaces", "error", "words"),
    [
        ((3,), rpkit.PayloadError, ["replaces", "0 to 2"]),
        ((-1,), rpkit.PayloadError, ["replaces", "-1"]),
        ((0,), rpkit.NotATurnError, ["scene_started"]),
        ((1, 1), rpkit.AlreadyRetiredError, ["event 1"]),
    ],
    ids=["later", "negative", "not-a-turn", "twice"],
)  # fmt: skip
def test_append_many_refuses_a_bad_replaces_and_writes_none(db_path, replaces, error, words):
    with rpkit.open_db(db_path) as conn:
        chat = _world(conn)
    before = file_state(db_path)
    events = [
        ("scene_started", {"title": "x"}, chat, None, None),
        ("user_turn", {"text": "a"}, chat, None, None),
        ("user_turn", {"text": "b"}, chat, None, None),
        ("user_turn", {"text": "c"}, chat, None, None, replaces),
    ]
    with rpkit.open_db(db_path) as conn:
        with pytest.raises(error) as info:
            rpkit.append_many(conn, events)
        for word in words:
            assert word in str(info.value)
    assert file_state(db_path) == before
