"""An extension kind with a state effect: one declaration, one table, one function.

``mood_set`` keeps each entity's latest mood in a ``moods`` table. It is taken
through append, rebuild, ``state_at``, rewind, ``verify`` and ``frames.events``;
and a replaced built-in effect is folded correctly, and says so once.
"""

from __future__ import annotations

import dataclasses

import pytest

import rpkit
from rpkit import frames
from rpkit.kinds import KINDS, Summary
from rpkit.store import PROJECTED

from ..helpers import table_rows


def mood_set(sink, ev):
    """Each entity's latest mood, and how many times it changed."""
    old = sink.get("moods", (ev.payload["entity"],))
    changes = (old["changes"] if old else 0) + 1
    row = {"entity": ev.payload["entity"], "mood": ev.payload["mood"], "changes": changes}
    sink.put("moods", {**row, "event_id": ev.id})
    rpkit.kinds.touch_chat(sink, ev)


@pytest.fixture(autouse=True)
def short_undo_tail(monkeypatch):
    """Keep undo entries for the newest 40 events only, so rebuilds sum the rest in bulk."""
    monkeypatch.setattr(rpkit.projection.rollback, "ROLLBACK_TAIL", 40)
    monkeypatch.setattr(rpkit.projection.rollback, "ROLLBACK_TAIL_FRACTION", 0.1)


@pytest.fixture
def moods():
    rpkit.register_table(
        "moods",
        "entity",
        """entity TEXT string
        mood TEXT string
        changes INTEGER Int64
        event_id INTEGER Int64""",
    )
    rpkit.register_kind("mood_set", "entity:str mood:str", effect=mood_set, commutes=True)
    yield
    KINDS.pop("mood_set")
    PROJECTED.pop("moods")


def test_an_extension_kind_goes_through_every_path(moods, demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        chat = int(rpkit.current_state(conn)["chats"]["id"].iloc[0])
        first = rpkit.append(conn, "mood_set", {"entity": "mira", "mood": "wary"}, chat_id=chat)
        rpkit.append(conn, "user_turn", {"text": "all right?"}, chat_id=chat)
        second = rpkit.append(conn, "mood_set", {"entity": "mira", "mood": "warm"})
        live = table_rows(conn)["moods"]
        assert live == [("mira", "warm", 2, second)]
        with pytest.raises(rpkit.PayloadError, match="'mood'"):
            rpkit.append(conn, "mood_set", {"entity": "mira"})
        # a rebuild folds it through its effect, the rest summed in bulk
        rpkit.project(conn)
        assert table_rows(conn)["moods"] == live
        assert rpkit.verify(conn).ok
        # time travel sees the moods table as it was
        then = rpkit.state_at(conn, first)["moods"]
        assert then.to_dict("records") == [
            {"entity": "mira", "mood": "wary", "changes": 1, "event_id": first}
        ]
        assert str(then["mood"].dtype) == "string"
        assert rpkit.state_at(conn, first - 1)["moods"].empty
        # frames type its payload from the declaration
        events = frames.events(conn, kind="mood_set")
        assert events["mood"].tolist() == ["wary", "warm"]
        assert str(events["entity"].dtype) == "string"
    # a rewind rolls the moods table back with the undo log
    rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path, after_event_id=first)
    with rpkit.open_db(demo_path) as conn:
        assert table_rows(conn)["moods"] == [("mira", "wary", 1, first)]
        assert rpkit.verify(conn).ok
        # below the undo tail a rebuild folds it among the summed turns, and agrees
        for _ in range(60):
            rpkit.append(conn, "user_turn", {"text": "and then?"}, chat_id=chat)
        live = table_rows(conn)
        rpkit.project(conn)
        assert table_rows(conn) == live
        assert rpkit.verify(conn).ok


def test_an_effect_that_may_read_the_summed_tables_folds_every_event(moods, demo_path):
    rpkit.register_kind("mood_set", "entity:str mood:str", effect=mood_set)  # commutes=False
    with rpkit.open_db(demo_path) as conn:
        chat = int(rpkit.current_state(conn)["chats"]["id"].iloc[0])
        rpkit.append(conn, "mood_set", {"entity": "mira", "mood": "wary"})
        for _ in range(60):  # so that the mood is below the undo tail, where rebuilds sum
            rpkit.append(conn, "user_turn", {"text": "and then?"}, chat_id=chat)
        live = table_rows(conn)
        with pytest.warns(rpkit.RpkitWarning, match="'mood_set'"):
            rpkit.project(conn)
        assert table_rows(conn) == live
        assert rpkit.verify(conn).ok


def test_a_replaced_builtin_effect_is_not_summed_and_says_so(demo_path):
    builtin = KINDS["edge_update"]

    def doubled(sink, ev):
        builtin.effect(sink, ev._replace(payload={**ev.payload, "delta": 2 * ev.payload["delta"]}))

    try:
        rpkit.handler("edge_update", commutes=True)(doubled)
        with rpkit.open_db(demo_path) as conn:
            with pytest.warns(rpkit.RpkitWarning, match="'edge_update' was replaced"):
                rpkit.project(conn)
            deltas = conn.execute(
                "SELECT json_extract(payload, '$.src'), json_extract(payload, '$.dst'), "
                "SUM(json_extract(payload, '$.delta')) FROM event_log WHERE kind = 'edge_update' "
                "AND superseded_by IS NULL GROUP BY 1, 2"
            ).fetchall()
            edges = {(s, d): a for s, d, a, *_ in table_rows(conn)["edges"]}
            assert {k: round(v, 6) for k, v in edges.items()} == {
                (s, d): round(2 * total, 6) for s, d, total in deltas
            }
            assert rpkit.verify(conn).ok
    finally:
        KINDS["edge_update"] = builtin


def test_verify_catches_a_wrong_summary(demo_path):
    """verify folds event by event, so a bulk summary that is wrong is found."""
    right = {name: kind for name, kind in KINDS.items() if kind.summary is not None}
    summary = next(iter(right.values())).summary

    def off_by_one(conn, tables, prefix, at):
        ok = summary.apply(conn, tables, prefix, at)
        for row in tables["edges"].values():
            row["affinity"] += 1.0
        return ok

    wrong = Summary(summary.kinds, off_by_one)
    try:
        for name, kind in right.items():
            KINDS[name] = dataclasses.replace(kind, summary=wrong)
        with rpkit.open_db(demo_path) as conn:
            rpkit.project(conn)
            report = rpkit.verify(conn)
        assert not report.ok
        assert set(report.differences["table"]) == {"edges"}
    finally:
        KINDS.update(right)
    with rpkit.open_db(demo_path) as conn:
        rpkit.project(conn)
        assert rpkit.verify(conn).ok
