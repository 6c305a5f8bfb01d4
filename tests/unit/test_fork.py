"""fork_chat: branch from any turn, live or retired; the fork is a chat like any other."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import rpkit
from rpkit import frames
from rpkit.classifiers import Judgement

from ..helpers import log_rows

COLS = ["kind", "speaker", "text", "ts"]


def reading(conn, chat_id):
    """A chat's live transcript as (kind, speaker, text, ts) rows."""
    t = frames.turns(conn, chat_id, include_retired=False)
    return [tuple(r) for r in t[COLS].astype(object).itertuples(index=False)]


@pytest.fixture
def chat(conn):
    rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})
    rpkit.append(conn, "chat_created", {"title": "Road", "bot_ids": ["mira"]}, chat_id=1)
    ids = {}
    for i in range(1, 5):
        ids[f"u{i}"] = rpkit.append(conn, "user_turn", {"text": f"u{i}"}, chat_id=1)
        ids[f"b{i}"] = rpkit.append(
            conn, "assistant_turn", {"bot_id": "mira", "text": f"b{i}"}, chat_id=1
        )
        edge = {"src": "mira", "dst": "you", "delta": float(i)}
        rpkit.append(conn, "edge_update", edge, chat_id=1, cause_id=ids[f"b{i}"])
    ids["b2_edit"] = rpkit.edit_turn(conn, ids["b2"], "b2 edited")
    ids["u3_hide"] = rpkit.hide_turn(conn, ids["u3"])
    return ids


def test_a_fork_at_a_live_turn_reads_as_the_parent_up_to_it(conn, chat):
    parent = reading(conn, 1)
    fork = rpkit.fork_chat(conn, chat["b2_edit"])
    assert fork == 2
    assert reading(conn, fork) == parent[:4]
    assert [r[2] for r in parent[:4]] == ["u1", "b1", "u2", "b2 edited"]
    assert rpkit.verify(conn).ok


def test_a_fork_at_a_retired_turn_has_the_original_at_its_place(conn, chat):
    fork = rpkit.fork_chat(conn, chat["b2"], title="what if")
    assert [r[2] for r in reading(conn, fork)] == ["u1", "b1", "u2", "b2"]
    hidden = rpkit.fork_chat(conn, chat["u3"])
    assert [r[2] for r in reading(conn, hidden)] == ["u1", "b1", "u2", "b2 edited", "u3"]
    titles = dict(conn.execute("SELECT id, title FROM chats"))
    assert titles[fork] == "what if" and titles[hidden] == "Road (fork at turn 5)"


def test_copies_keep_kind_text_speaker_and_time_and_name_their_original(conn, chat):
    fork = rpkit.fork_chat(conn, chat["b4"])
    rows = conn.execute(
        "SELECT kind, payload, ts, cause_id FROM event_log WHERE chat_id = ? ORDER BY id", (fork,)
    ).fetchall()
    assert rows[0][0] == "chat_created"
    created = rpkit.log.get_event(
        conn, conn.execute("SELECT MIN(id) FROM event_log WHERE chat_id = ?", (fork,)).fetchone()[0]
    )[0]
    assert created.payload == {
        "title": "Road (fork at turn 7)",
        "bot_ids": ["mira"],
        "parent_chat_id": 1,
        "forked_from_event_id": chat["b4"],
    }
    originals = [
        rpkit.log.get_event(conn, json.loads(p)["forked_from"])[0] for _, p, _, _ in rows[1:]
    ]
    for (kind, payload, ts, cause), orig in zip(rows[1:], originals, strict=True):
        p = json.loads(payload)
        assert (kind, ts, cause) == (orig.kind, orig.ts, None)
        assert p["text"] == orig.payload["text"] and p.get("bot_id") == orig.payload.get("bot_id")
        assert "revision" not in p and "replaces" not in p
    # derived events are not copied: the fork holds turns only
    kinds = {r[0] for r in rows[1:]}
    assert kinds == {"user_turn", "assistant_turn"}
    lineage = conn.execute(
        "SELECT parent_chat_id, forked_from_event_id FROM chats WHERE id = ?", (fork,)
    ).fetchone()
    assert lineage == (1, chat["b4"])
    assert conn.execute("SELECT parent_chat_id FROM chats WHERE id = 1").fetchone() == (None,)


class Counting:
    name = "counting"

    def __init__(self):
        self.seen = []

    def classify(self, turn):
        self.seen.append(turn.event_id)
        return Judgement(delta=0.5)


def test_classify_never_derives_a_copy_twice(conn, chat):
    first = rpkit.classify(conn, classifier=Counting())
    fork = rpkit.fork_chat(conn, chat["b4"])
    new = rpkit.append(conn, "user_turn", {"text": "new in the fork"}, chat_id=fork)
    clf = Counting()
    report = rpkit.classify(conn, classifier=clf)
    assert clf.seen == [new]
    assert report.copied == 7 and report.turns == 1
    assert first.turns > 0
    edited = rpkit.edit_turn(conn, new - 1, "a fork's copy, edited")
    clf = Counting()
    rpkit.classify(conn, classifier=clf)
    assert clf.seen == [edited]  # an edited copy is the fork's own turn


def test_rewinding_the_parent_never_touches_the_fork(db_path, tmp_path, chat):
    with rpkit.open_db(db_path) as conn:
        fork = rpkit.fork_chat(conn, chat["b3"])
        fork_rows = [r for r in log_rows(conn) if r[2] == fork]
    rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=chat["u2"], chat_id=1)
    with rpkit.open_db(db_path) as conn:
        assert [r for r in log_rows(conn) if r[2] == fork] == fork_rows
        assert rpkit.verify(conn).ok


def test_a_fork_can_be_edited_rewound_and_forked_again(db_path, tmp_path, chat):
    with rpkit.open_db(db_path) as conn:
        fork = rpkit.fork_chat(conn, chat["b4"])
        first = conn.execute(
            "SELECT MIN(id) FROM event_log WHERE chat_id = ? AND kind = 'user_turn'", (fork,)
        ).fetchone()[0]
        rpkit.edit_turn(conn, first, "changed in the fork")
        later = rpkit.append(conn, "user_turn", {"text": "onwards"}, chat_id=fork)
        again = rpkit.fork_chat(conn, later)
        assert reading(conn, again) == reading(conn, fork)
        assert (
            conn.execute("SELECT parent_chat_id FROM chats WHERE id = ?", (again,)).fetchone()[0]
            == fork
        )
    rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=first, chat_id=fork)
    with rpkit.open_db(db_path) as conn:
        assert [r[2] for r in reading(conn, fork)] == ["u1"]
        assert len(reading(conn, again)) == 8
        assert rpkit.verify(conn).ok


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (True, rpkit.EventIdError, ["bool", "True"]),
        (3.0, rpkit.EventIdError, ["float"]),
        (1, rpkit.NotATurnError, ["'bot_created'", "not a user or assistant turn"]),
    ],
)
def test_forking_a_non_turn_is_refused(conn, chat, value, error, words):
    before = log_rows(conn)
    with pytest.raises(error) as info:
        rpkit.fork_chat(conn, value)
    for word in words:
        assert word in str(info.value)
    assert log_rows(conn) == before


# -- lineage frames -----------------------------------------------------------------


def test_chats_frame_has_lineage_turn_counts_and_fork_points(conn, chat):
    fork = rpkit.fork_chat(conn, chat["b2"])  # the retired original, at place 4
    nested = rpkit.fork_chat(conn, rpkit.append(conn, "user_turn", {"text": "x"}, chat_id=fork))
    c = frames.chats(conn)
    assert list(c.columns) == frames.CHAT_COLUMNS
    assert c["chat_id"].tolist() == [1, fork, nested]
    assert c["parent_chat_id"].tolist() == [pd.NA, 1, fork]
    assert c["forked_from_event_id"].iloc[1] == chat["b2"]
    assert c["fork_position"].tolist() == [pd.NA, 4, 5]
    assert c["root_chat_id"].tolist() == [1, 1, 1]
    assert c["depth"].tolist() == [0, 1, 2]
    assert c["forks"].tolist() == [1, 1, 0]
    assert c["turns"].tolist() == [7, 5, 5]
    assert c["retired_turns"].tolist() == [2, 0, 0]
    assert str(c["created_at"].dtype) == "datetime64[us, UTC]"


def test_compare_transcripts_starts_at_the_fork_point(conn, chat):
    fork = rpkit.fork_chat(conn, chat["b2"])
    rpkit.append(conn, "user_turn", {"text": "fork goes on"}, chat_id=fork)
    side = frames.compare_transcripts(conn, 1, fork)
    assert side.attrs["shared_turns"] == 3
    assert side["position"].tolist() == [4, 5, 6, 7]
    assert side["text_a"].tolist() == ["b2 edited", "b3", "u4", "b4"]
    assert side["text_b"].tolist()[:2] == ["b2", "fork goes on"]
    assert side["text_b"].isna().tolist() == [False, False, True, True]


def test_compare_affinity_follows_each_branch_alone(conn, chat):
    fork = rpkit.fork_chat(conn, chat["b2"])  # b2's original: its edge (delta 2) is retired
    aff = frames.compare_affinity(conn, [1, fork])
    parent = aff[aff["chat_id"] == 1]
    branch = aff[aff["chat_id"] == fork]
    assert parent["delta"].tolist() == [1.0, 3.0, 4.0]  # b2 edited has no edge; b1, b3, b4
    assert parent["affinity"].tolist() == [1.0, 4.0, 8.0]
    assert branch["delta"].tolist() == [1.0, 2.0]  # b1, and the original b2
    assert branch["affinity"].tolist() == [1.0, 3.0]
    assert set(aff["pair"]) == {"mira → you"}


def test_the_fork_is_created_at_the_time_given(conn, chat):
    fork = rpkit.fork_chat(conn, chat["b1"], ts="2026-01-06T10:00:00Z")
    created = conn.execute("SELECT created_at FROM chats WHERE id = ?", (fork,)).fetchone()[0]
    assert created == "2026-01-06T10:00:00.000000Z"
    with pytest.raises(rpkit.TimestampError):
        rpkit.fork_chat(conn, chat["b1"], ts="yesterday")
