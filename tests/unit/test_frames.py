"""rpkit.frames: typed long-form frames, the affinity invariant, rewind previews and diffs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit import frames
from rpkit.demo import build_demo, dump_events
from rpkit.store.sqlite import sqlite3

from ..helpers import DEMO_EVENTS, copy_demo, dump, sql_dump


@pytest.fixture
def committed_demo(tmp_path):
    """A copy of the committed 402-event demo history in a temporary folder."""
    return copy_demo(tmp_path)


# -- data/ --------------------------------------------------------------------------


def test_committed_dump_is_the_committed_database(committed_demo, tmp_path):
    with rpkit.open_db(committed_demo) as conn:
        out = dump_events(conn, tmp_path / "dump.jsonl")
    assert out.read_bytes() == DEMO_EVENTS.read_bytes()


def test_rebuilding_the_demo_with_the_same_seed_gives_the_same_log(tmp_path):
    build_demo(tmp_path / "again.db", events=400, seed=7)
    with rpkit.open_db(tmp_path / "again.db") as conn:
        out = dump_events(conn, tmp_path / "again.jsonl")
    assert out.read_text(encoding="utf-8") == DEMO_EVENTS.read_text(encoding="utf-8")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 402


def test_a_demo_with_many_chats_spreads_its_turns_over_all_of_them(tmp_path):
    build_demo(tmp_path / "many.db", events=3000, seed=7, chats=12)
    with rpkit.open_db(tmp_path / "many.db") as conn:
        chats = frames.chats(conn)
        turns = conn.execute(
            "SELECT chat_id, COUNT(*) FROM event_log WHERE kind = 'user_turn' GROUP BY chat_id"
        ).fetchall()
    assert list(chats["chat_id"]) == list(range(1, 13))
    assert chats["title"].iloc[3] == "An evening at the Kettle (2)"
    assert len(turns) == 12 and min(n for _, n in turns) > 10


def test_a_demo_with_own_bots_shares_no_affinity_edge_between_chats(tmp_path):
    build_demo(tmp_path / "own.db", events=3000, seed=7, chats=7, own_bots=True)
    with rpkit.open_db(tmp_path / "own.db") as conn:
        names = dict(conn.execute("SELECT id, name FROM bots").fetchall())
        chats_of = conn.execute(
            "SELECT json_extract(payload, '$.src') || '>' || json_extract(payload, '$.dst'), "
            "COUNT(DISTINCT chat_id) FROM event_log WHERE kind = 'edge_update' GROUP BY 1"
        ).fetchall()
        assert rpkit.verify(conn).ok
    assert len(names) == 3 + 2 + 2 + 1 + 2 + 2 + 1  # the three, then chats 2 to 7's own
    assert names["mira-3"] == "Mira (3)" and names["corvin-5"] == "Sir Corvin (5)"
    assert len(chats_of) > 20 and all(n == 1 for _, n in chats_of)


@pytest.mark.parametrize("chats", [0, -1, True, 2.5, "3"])
def test_a_demo_refuses_a_bad_number_of_chats(tmp_path, chats):
    with pytest.raises(rpkit.DemoError, match="chats must be a positive int"):
        build_demo(tmp_path / "bad.db", events=50, chats=chats)
    assert not (tmp_path / "bad.db").exists()


# -- events -------------------------------------------------------------------------


def _dumped(**where: object) -> int:
    """How many events of the committed dump (data/demo-events.jsonl) match ``where``."""
    rows = [json.loads(line) for line in DEMO_EVENTS.read_text(encoding="utf-8").splitlines()]
    return sum(all(r[k] == v for k, v in where.items()) for r in rows)


def _point_by_sql(conn: sqlite3.Connection, turn: int) -> int:
    """ "Rewind to here" from its definition: the turn and what it caused, before the next turn."""
    (chat,) = conn.execute("SELECT chat_id FROM event_log WHERE id = ?", (turn,)).fetchone()
    (last,) = conn.execute(
        "SELECT MAX(id) FROM event_log WHERE id = ? OR cause_id = ?", (turn, turn)
    ).fetchone()
    (nxt,) = conn.execute(
        "SELECT MIN(id) FROM event_log WHERE chat_id = ? AND id > ? "
        "AND kind IN ('user_turn', 'assistant_turn')",
        (chat, turn),
    ).fetchone()
    return last if nxt is None else min(last, nxt - 1)


def _affinity_at(conn: sqlite3.Connection, src: str, dst: str, n: int) -> float:
    """A pair's affinity from the log: its deltas visible at event ``n``, added in id order."""
    total = 0.0
    for (delta,) in conn.execute(
        "SELECT json_extract(payload, '$.delta') FROM event_log "
        "WHERE kind = 'edge_update' AND json_extract(payload, '$.src') = ? "
        "AND json_extract(payload, '$.dst') = ? AND id <= ? "
        "AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id",
        (src, dst, n, n),
    ):
        total += delta  # one by one, as the edges table sums (not math.fsum or sum())
    return total


# the demo's user turn of chat 3 "Debts and daggers" that a later edit (event 295) replaced
EDITED_TURN = 291
# the demo's user turn of chat 3 that a hide (event 209) retired
HIDDEN_TURN = 205


def _payload_column(key: str) -> str:
    return frames.RENAMED.get(key, key)


def test_events_columns_are_typed(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        ev = frames.events(conn)
    assert list(ev.columns[:7]) == frames.EVENT_COLUMNS
    assert str(ev["id"].dtype) == "Int64"
    assert str(ev["chat_id"].dtype) == "Int64"
    assert str(ev["cause_id"].dtype) == "Int64"
    assert str(ev["superseded_by"].dtype) == "Int64"
    assert isinstance(ev["ts"].dtype, pd.DatetimeTZDtype) and str(ev["ts"].dt.tz) == "UTC"
    assert isinstance(ev["kind"].dtype, pd.CategoricalDtype)
    assert list(ev["kind"].cat.categories) == list(rpkit.KINDS)
    assert ev["hidden"].dtype == bool
    assert isinstance(ev["text"].dtype, pd.StringDtype)
    assert ev["delta"].dtype == np.float64
    assert str(ev["container_id"].dtype) == "Int64"
    assert isinstance(ev["container_kind"].dtype, pd.StringDtype)
    assert ev["id"].is_monotonic_increasing


def test_events_hold_every_payload_value(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        ev = frames.events(conn, include_retired=True)
        rows = conn.execute(
            "SELECT id, ts, chat_id, kind, payload, cause_id, hidden, superseded_by "
            "FROM event_log ORDER BY id"
        ).fetchall()
    assert len(ev) == len(rows) == 402
    payload_cols = [c for c in ev.columns if c not in frames.EVENT_COLUMNS]
    for rec, (id_, ts, chat, kind, payload, cause, hidden, sup) in zip(
        ev.to_dict("records"), rows, strict=True
    ):
        assert rec["id"] == id_ and rec["kind"] == kind and rec["hidden"] == bool(hidden)
        assert rec["ts"] == pd.Timestamp(ts)
        for col, value in (("chat_id", chat), ("cause_id", cause), ("superseded_by", sup)):
            assert pd.isna(rec[col]) if value is None else rec[col] == value
        p = json.loads(payload)
        for key, value in p.items():
            assert rec[_payload_column(key)] == value, (id_, key)
        for col in payload_cols:
            if col not in {_payload_column(k) for k in p}:
                assert rec[col] is None or pd.isna(rec[col]), (id_, col)


def test_events_leave_out_retired_events_and_filter_by_chat(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        live = frames.events(conn)
        chat3 = frames.events(conn, chat_id=3)
        chat3_all = frames.events(conn, chat_id=3, include_retired=True)
        n_live = conn.execute("SELECT COUNT(*) FROM event_log WHERE hidden = 0").fetchone()[0]
        n3 = conn.execute("SELECT COUNT(*) FROM event_log WHERE chat_id = 3").fetchone()[0]
    assert len(live) == n_live == _dumped(hidden=0)
    assert not live["hidden"].any() and live["superseded_by"].isna().all()
    assert set(chat3["chat_id"]) == {3} and len(chat3_all) == n3
    assert chat3_all["hidden"].sum() == len(chat3_all) - len(chat3) == _dumped(chat_id=3, hidden=1)
    assert _dumped(chat_id=3, hidden=1) > 0  # chat 3 holds an edit and a hide
    # payload columns are those of the kinds present
    assert "persona" in live.columns and "persona" not in chat3.columns


def test_events_show_extra_payload_fields(conn):
    # an importer's provenance field, on a payload that also lacks an optional field
    rpkit.append(conn, "you_set", {"name": "Ada", "source": "sillytavern"})
    rpkit.append(conn, "bot_created", {"bot_id": "b", "name": "Bo", "persona": "kind"})
    ev = frames.events(conn)
    assert list(ev["source"].astype(object).where(ev["source"].notna(), None)) == [
        "sillytavern",
        None,
    ]
    assert list(ev["persona"].astype(object).where(ev["persona"].notna(), None)) == [None, "kind"]


def test_events_of_an_empty_history(conn):
    ev = frames.events(conn)
    assert len(ev) == 0 and list(ev.columns) == frames.EVENT_COLUMNS
    assert str(ev["id"].dtype) == "Int64" and isinstance(ev["kind"].dtype, pd.CategoricalDtype)
    tl = frames.affinity(conn)
    assert len(tl) == 0 and list(tl.columns) == frames.AFFINITY_COLUMNS


@pytest.mark.parametrize(
    ("chat_id", "error", "words"),
    [
        (99, rpkit.UnknownChatError, "no chat 99"),
        ("3", rpkit.ChatIdError, "must be an int"),
        (True, rpkit.ChatIdError, "must be an int"),
        (2.0, rpkit.ChatIdError, "must be an int"),
    ],
)
def test_an_unknown_chat_is_refused_and_nothing_changes(committed_demo, chat_id, error, words):
    """Every chat_id a frame, a rewind or a preview takes goes through the one chat check."""
    before = dump(committed_demo)
    with rpkit.open_db(committed_demo) as conn:
        for call in (
            lambda: frames.events(conn, chat_id=chat_id),
            lambda: frames.turns(conn, chat_id),
            lambda: frames.compare_transcripts(conn, 1, chat_id),
            lambda: rpkit.compute_rewind_preview(conn, 1, chat_id=chat_id),
        ):
            with pytest.raises(error, match=words) as info:
                call()
            assert type(info.value) is error
    assert dump(committed_demo) == before


# -- turns --------------------------------------------------------------------------


def test_turns_of_a_small_chat_with_an_edit_a_regeneration_and_a_hide(conn):
    rpkit.append(conn, "you_set", {"name": "Ada"})
    rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})
    chat = rpkit.next_chat_id(conn)
    rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["mira"]}, chat_id=chat)
    u1 = rpkit.append(conn, "user_turn", {"text": "hello"}, chat_id=chat)  # 4
    b1 = rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": "hi"}, chat_id=chat)
    e1 = rpkit.append(
        conn, "edge_update", {"src": "mira", "dst": "you", "delta": 1.0}, chat_id=chat, cause_id=b1
    )  # 6
    u2 = rpkit.append(conn, "user_turn", {"text": "bye"}, chat_id=chat)  # 7
    u1b = rpkit.edit_turn(conn, u1, "hello there")  # 8
    b1b = rpkit.regenerate_turn(conn, b1, "hey")  # 9
    hid = rpkit.hide_turn(conn, u2)  # 10
    u1c = rpkit.edit_turn(conn, u1b, "hello again")  # 11
    t = frames.turns(conn, chat)
    assert list(t["event_id"]) == [u1, u1b, u1c, b1, b1b, u2]
    assert list(t["position"].astype(object).where(t["position"].notna(), None)) == [
        1,
        1,
        1,
        2,
        2,
        None,
    ]
    assert list(t["retired"]) == [True, True, False, True, False, True]
    assert list(t["replaced_by"].astype(object).where(t["replaced_by"].notna(), None)) == [
        u1b,
        u1c,
        None,
        b1b,
        None,
        hid,
    ]
    assert list(t["replaced_how"].astype(object).where(t["replaced_how"].notna(), None)) == [
        "edit",
        "edit",
        None,
        "regenerate",
        None,
        "hide",
    ]
    assert list(t["speaker"]) == ["you", "you", "you", "mira", "mira", "you"]
    assert list(t["text"]) == ["hello", "hello there", "hello again", "hi", "hey", "bye"]
    assert list(t["rewind_point"]) == [u1, u1b, u1c, e1, b1b, u2]
    assert list(t["revision"].astype(object).where(t["revision"].notna(), None)) == [
        None,
        "edit",
        "edit",
        None,
        "regenerate",
        None,
    ]
    live = frames.turns(conn, chat, include_retired=False)
    assert list(live["event_id"]) == [u1c, b1b]


def test_turns_positions_count_the_live_transcript(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        counts = dict(conn.execute("SELECT chat_id, turn_count FROM chat_state"))
        for chat_id, count in counts.items():
            t = frames.turns(conn, chat_id)
            live = t[~t["retired"]]
            assert list(live["position"]) == list(range(1, count + 1))
            # every retired turn sits next to (and shares the place of) its replacement
            for row in t[t["retired"] & (t["replaced_how"] != "hide")].itertuples():
                new = t[t["event_id"] == row.replaced_by]
                assert int(new["position"].iloc[0]) == row.position
            for row in t.itertuples():
                assert row.rewind_point == rpkit.rewind_point(conn, int(row.event_id))
            assert t.dtypes["ts"] == "datetime64[us, UTC]" or str(t["ts"].dt.tz) == "UTC"
            assert str(t["event_id"].dtype) == "Int64"
            assert isinstance(t["kind"].dtype, pd.CategoricalDtype)
    # the demo's hidden turn: retired, no replacement in the transcript
    with rpkit.open_db(committed_demo) as conn:
        t = frames.turns(conn, 3)
    hidden = t[t["replaced_how"] == "hide"]
    assert list(hidden["event_id"]) == [205] and hidden["position"].isna().all()


# -- affinity -----------------------------------------------------------------------


def test_affinity_timeline_ends_at_the_edges_table(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        tl = frames.affinity(conn)
        edges = rpkit.current_state(conn)["edges"]
        n_updates = conn.execute(
            "SELECT COUNT(*) FROM event_log WHERE kind = 'edge_update' AND hidden = 0"
        ).fetchone()[0]
    assert len(tl) == n_updates == _dumped(kind="edge_update", hidden=0)
    assert list(tl.columns) == frames.AFFINITY_COLUMNS
    last = frames.final_affinity(tl)
    assert list(zip(last["src"], last["dst"], strict=True)) == list(
        zip(edges["src"], edges["dst"], strict=True)
    )
    assert list(last["affinity"]) == list(edges["affinity"])  # the same sums, bit for bit
    assert list(last["updates"]) == list(edges["updates"])
    assert list(last["event_id"]) == list(edges["last_event_id"])
    for _, g in tl.groupby("pair", observed=True):
        np.testing.assert_allclose(g["affinity"], np.cumsum(g["delta"]), rtol=0, atol=1e-12)
        assert list(g["updates"]) == list(range(1, len(g) + 1))


def test_affinity_columns_are_typed_and_place_each_update(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        tl = frames.affinity(conn)
        turn_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM event_log WHERE hidden = 0 AND kind IN ('user_turn', "
                "'assistant_turn') ORDER BY id"
            )
        ]
        positions = {
            int(r.event_id): int(r.position)
            for c in (1, 2, 3)
            for r in frames.turns(conn, c, include_retired=False).itertuples()
        }
    for col in ("event_id", "chat_id", "turn", "cause_id", "position", "updates"):
        assert str(tl[col].dtype) == "Int64", col
    assert str(tl["ts"].dt.tz) == "UTC"
    assert isinstance(tl["pair"].dtype, pd.CategoricalDtype)
    assert list(tl["pair"].cat.categories) == sorted(set(tl["pair"].astype(str)))
    for row in tl.itertuples():
        assert row.turn == sum(1 for t in turn_ids if t <= row.event_id)
        assert row.position == positions[int(row.cause_id)]
        assert row.pair == f"{row.src} → {row.dst}"


def test_affinity_pairs_filter(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        full = frames.affinity(conn)
        one = frames.affinity(conn, pairs=[("mira", "you")])
        two = frames.affinity(conn, pairs=["you → mira", "sable->you"])
        before = sql_dump(conn)
        with pytest.raises(rpkit.FrameError, match="'mira → sable'.*choose from"):
            frames.affinity(conn, pairs=[("mira", "sable")])
        with pytest.raises(rpkit.FrameError, match="neither"):
            frames.affinity(conn, pairs=[42])
        assert sql_dump(conn) == before
    assert set(one["pair"].astype(str)) == {"mira → you"}
    assert list(one["pair"].cat.categories) == ["mira → you"]
    pd.testing.assert_series_equal(
        one["affinity"], full.loc[full["pair"] == "mira → you", "affinity"].reset_index(drop=True)
    )
    assert list(two["pair"].cat.categories) == ["sable → you", "you → mira"]


def test_an_edit_removes_its_updates_from_the_timeline(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        before = frames.affinity(conn)
        turn = int(before["cause_id"].iloc[-1])  # the newest update's turn
        gone = set(before.loc[before["cause_id"] == turn, "event_id"])
        new = rpkit.edit_turn(conn, turn, "something else entirely")
        after = frames.affinity(conn)
        edges = rpkit.current_state(conn)["edges"]
    assert gone and not gone & set(after["event_id"])
    assert len(after) == len(before) - len(gone)
    last = frames.final_affinity(after)
    assert list(last["affinity"]) == list(edges["affinity"])
    assert new > int(before["event_id"].max())


# -- rewind previews and diffs ---------------------------------------------------------


def test_rewind_preview_frames_match_the_preview_dict(committed_demo):
    with rpkit.open_db(committed_demo) as conn:
        n = rpkit.rewind_point(conn, EDITED_TURN)
        shown = frames.rewind_preview(conn, n)
        preview = rpkit.compute_rewind_preview(conn, n)
        expected_n = _point_by_sql(conn, EDITED_TURN)
        retired_after = conn.execute(
            "SELECT COUNT(*) FROM event_log WHERE id > ? AND hidden = 1", (n,)
        ).fetchone()[0]
        # the edited turn and what it caused are retired now and come back
        caused = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM event_log WHERE id = ? OR cause_id = ? ORDER BY id",
                (EDITED_TURN, EDITED_TURN),
            )
        ]
        head = conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0]
    assert shown.preview == preview and shown.after_event_id == n == expected_n
    assert (
        dict(zip(shown.by_kind["kind"].astype(str), shown.by_kind["events"], strict=True))
        == (preview["by_kind"])
    )
    assert int(shown.by_kind["retired"].sum()) == preview["hidden_events"] == retired_after
    assert (
        dict(zip(shown.by_chat["chat_id"], shown.by_chat["events"], strict=True))
        == (preview["by_chat"])
    )
    assert list(shown.by_chat["title"]) == [
        "An evening at the Kettle",
        "The road through Thornwood",
        "Debts and daggers",
    ]
    assert list(shown.restored["id"]) == [e["id"] for e in preview["restored_events"]] == caused
    assert len(caused) >= 2  # the turn and its edge update
    assert list(shown.removed["id"]) == list(range(n + 1, head + 1))
    assert shown.total_events == head - n
    assert repr(shown).startswith(f"RewindPreview(Rewind to after event {n} (newest is {head})")


@pytest.mark.parametrize("turn", [280, 144, 17, None])
def test_rewind_diff_is_what_execute_rewind_changes(committed_demo, tmp_path, turn):
    with rpkit.open_db(committed_demo) as conn:
        n = 402 if turn is None else rpkit.rewind_point(conn, turn)
        before_dump = sql_dump(conn)
        diff = frames.rewind_diff(conn, n)
        assert sql_dump(conn) == before_dump  # computed without touching anything
        before = rpkit.current_state(conn)
    rpkit.execute_rewind(db_path=committed_demo, data_dir=tmp_path, after_event_id=n)
    with rpkit.open_db(committed_demo) as conn:
        after = rpkit.current_state(conn)
    pd.testing.assert_frame_equal(diff.changes, rpkit.diff_states(before, after))
    edges = after["edges"].set_index(["src", "dst"])["affinity"]
    for row in diff.affinity.itertuples():
        key = (row.src, row.dst)
        assert row.now == before["edges"].set_index(["src", "dst"])["affinity"][key]
        if key in edges.index:
            assert row.after == edges[key]
        else:
            assert pd.isna(row.after)
    if turn is None:
        assert diff.changes.empty and (diff.affinity["change"] == 0).all()
    else:
        assert diff.counts.loc["edges", "changed"] >= 1


def test_rewind_diff_counts_and_repr(committed_demo):
    # rewind to the demo's hidden turn: the hide goes, and so does every table's tail
    with rpkit.open_db(committed_demo) as conn:
        n = _point_by_sql(conn, HIDDEN_TURN)
        diff = frames.rewind_diff(conn, n)
        head = conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0]
        tail = dict(
            conn.execute(
                "SELECT kind, COUNT(*) FROM event_log WHERE id > ? AND hidden = 0 GROUP BY kind",
                (n,),
            )
        )
        chats = conn.execute(
            "SELECT COUNT(DISTINCT chat_id) FROM event_log WHERE id > ? AND hidden = 0 "
            "AND kind IN ('user_turn', 'assistant_turn')",
            (n,),
        ).fetchone()[0]
        # pairs updated after n, or whose update the rewind brings back
        pairs = conn.execute(
            "SELECT COUNT(DISTINCT json_extract(payload, '$.src') || '>' || "
            "json_extract(payload, '$.dst')) FROM event_log WHERE kind = 'edge_update' "
            "AND ((id > ? AND hidden = 0) OR (id <= ? AND superseded_by > ?))",
            (n, n, n),
        ).fetchone()[0]
        # scenes open at n that a later start or end closed
        closed = conn.execute(
            "SELECT COUNT(*) FROM scenes WHERE started_event_id <= ? AND ended_event_id > ?",
            (n, n),
        ).fetchone()[0]
        mira = (_affinity_at(conn, "mira", "you", head), _affinity_at(conn, "mira", "you", n))
    expected = {
        "activity": {"removed": tail["activity_logged"], "added": 0, "changed": 0},
        "chat_state": {"removed": 0, "added": 0, "changed": chats},
        "edges": {"removed": 0, "added": 0, "changed": pairs},
        "memories": {"removed": tail["memory_added"], "added": 0, "changed": 0},
        "scenes": {"removed": tail["scene_started"], "added": 0, "changed": closed},
    }
    assert diff.counts.to_dict("index") == expected
    assert all(expected[t]["removed"] or expected[t]["changed"] for t in expected)
    removed = sum(c["removed"] for c in expected.values())
    changed = sum(c["changed"] for c in expected.values())
    assert repr(diff) == (
        f"RewindDiff(after event {n}: {removed} rows removed, 0 added back, "
        f"{changed} changed in 5 tables)"
    )
    row = diff.affinity.set_index("pair").loc["mira → you"]
    assert (row["now"], row["after"]) == mira and mira[0] != mira[1]


@pytest.mark.parametrize("bad", [-1, 403, "5", 2.0, True])
def test_bad_rewind_targets_are_refused(committed_demo, bad):
    before = dump(committed_demo)
    with rpkit.open_db(committed_demo) as conn:
        with pytest.raises(rpkit.EventIdError, match="after_event_id"):
            frames.rewind_diff(conn, bad)
        with pytest.raises(rpkit.EventIdError, match="after_event_id"):
            frames.rewind_preview(conn, bad)
    assert dump(committed_demo) == before


def test_frames_read_a_connection_inside_a_transaction(committed_demo):
    """A caller's open transaction is respected (savepoints, nothing committed)."""
    c = sqlite3.connect(committed_demo)
    try:
        c.execute("BEGIN")
        c.execute("UPDATE rpkit_meta SET value = value WHERE key = 'schema_version'")
        assert len(frames.events(c)) == _dumped(hidden=0)
        assert c.in_transaction
        c.rollback()
    finally:
        c.close()


def test_list_payload_fields_stay_one_list_per_cell(conn):
    for bot in ("a", "b"):
        rpkit.append(conn, "bot_created", {"bot_id": bot, "name": bot.upper()})
    for bots in (["a", "b"], ["b", "a"]):  # equal lengths: no 2-d array sneaks in
        rpkit.append(
            conn, "chat_created", {"title": "t", "bot_ids": bots}, chat_id=rpkit.next_chat_id(conn)
        )
    ev = frames.events(conn)
    chats = ev[ev["kind"] == "chat_created"]
    assert list(chats["bot_ids"]) == [["a", "b"], ["b", "a"]]
    assert ev["bot_ids"].isna().tolist() == [True, True, False, False]


# -- the transcript against a simulation (hypothesis) ---------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["say", "reply", "edit", "regenerate", "hide"]),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_the_transcript_is_a_list_edited_in_place(ops):
    """Live turns in reading order equal a list where an edit replaces in place."""
    with tempfile.TemporaryDirectory() as tmp:
        with rpkit.open_db(Path(tmp) / "h.db") as conn:
            rpkit.append(conn, "bot_created", {"bot_id": "m", "name": "M"})
            chat = rpkit.next_chat_id(conn)
            rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["m"]}, chat_id=chat)
            expected: list[int] = []
            for op, pick in ops:
                if op == "say":
                    expected.append(rpkit.append(conn, "user_turn", {"text": "u"}, chat_id=chat))
                elif op == "reply":
                    reply = rpkit.append(
                        conn, "assistant_turn", {"bot_id": "m", "text": "a"}, chat_id=chat
                    )
                    rpkit.append(
                        conn,
                        "edge_update",
                        {"src": "m", "dst": "you", "delta": 0.5},
                        chat_id=chat,
                        cause_id=reply,
                    )
                    expected.append(reply)
                elif expected:
                    i = pick % len(expected)
                    old = expected[i]
                    kind = conn.execute(
                        "SELECT kind FROM event_log WHERE id = ?", (old,)
                    ).fetchone()[0]
                    if op == "hide":
                        rpkit.hide_turn(conn, old)
                        del expected[i]
                    elif op == "regenerate" and kind == "assistant_turn":
                        expected[i] = rpkit.regenerate_turn(conn, old, "again")
                    elif op == "edit":
                        expected[i] = rpkit.edit_turn(conn, old, "changed")
            t = frames.turns(conn, chat)
            count = conn.execute(
                "SELECT turn_count FROM chat_state WHERE chat_id = ?", (chat,)
            ).fetchone()[0]
            live = t[~t["retired"]]
            assert list(live["event_id"]) == expected
            assert list(live["position"]) == list(range(1, count + 1))
            assert count == len(expected)
            for row in t[t["retired"]].itertuples():
                assert row.replaced_how in {"edit", "regenerate", "hide"}
                if row.replaced_how != "hide":
                    new = t.loc[t["event_id"] == row.replaced_by, "position"]
                    assert (
                        pd.isna(row.position) and new.isna().all() or (row.position == new.iloc[0])
                    )
            timeline = frames.affinity(conn)
            assert list(timeline["position"]) == [
                int(live.loc[live["event_id"] == c, "position"].iloc[0])
                for c in timeline["cause_id"]
            ]


def test_transcripts_are_every_chats_turns_one_after_another(committed_demo, tmp_path):
    with rpkit.open_db(committed_demo) as conn:
        chats = [int(c) for c in frames.chats(conn)["chat_id"]]
        each = pd.concat([frames.turns(conn, c) for c in chats], ignore_index=True)
        pd.testing.assert_frame_equal(frames.transcripts(conn), each)
        live = frames.transcripts(conn, include_retired=False)
        assert not live["retired"].any() and len(live) == int((~each["retired"]).sum())
    with rpkit.open_db(tmp_path / "empty.db") as conn:  # no chats: the same columns and dtypes
        empty = frames.transcripts(conn)
    assert empty.empty and dict(empty.dtypes) == dict(each.dtypes)
