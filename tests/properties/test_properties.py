"""The equivalences of DESIGN §4-§7 over random histories (hypothesis).

Random histories use every kind, edits, regenerations and hides. For each:
a full rebuild, the incremental appends and a catch-up from a raw copy of the
log give identical tables; ``verify`` is clean; and for a random N,
``execute_rewind(N)`` leaves exactly ``state_at(N)`` as it was before, with
preview totals equal to the rows removed, no id reused, and the rewind's
snapshot restoring the exact log and tables.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit import projection
from rpkit.operations import sink_frames
from rpkit.store.sqlite import sqlite3

from ..helpers import frame_rows, log_rows, table_rows

BOTS = ["b1", "b2"]
ENTITIES = ["you", *BOTS]

op = st.one_of(
    st.tuples(st.just("user"), st.integers(0, 1)),
    st.tuples(st.just("assistant"), st.integers(0, 1), st.integers(0, 1)),
    st.tuples(
        st.just("edge"),
        st.integers(0, 2),
        st.integers(1, 2),
        st.integers(-30, 30).map(lambda x: x / 4),
        st.booleans(),
    ),
    st.tuples(st.just("memory"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("container"), st.booleans()),
    st.tuples(st.just("scene_start"), st.integers(0, 1)),
    st.tuples(st.just("scene_end"), st.integers(0, 1)),
    st.tuples(st.just("activity"), st.integers(0, 1)),
    st.tuples(st.just("fail"), st.integers(0, 1)),
    st.tuples(st.just("you"), st.booleans()),
    st.tuples(st.just("edit"), st.integers(0, 50)),
    st.tuples(st.just("regen"), st.integers(0, 50)),
    st.tuples(st.just("hide"), st.integers(0, 50)),
)


def _live_turns(conn, kinds=("user_turn", "assistant_turn")):
    marks = ",".join("?" * len(kinds))
    return [
        r[0]
        for r in conn.execute(
            f"SELECT id FROM event_log WHERE kind IN ({marks}) AND superseded_by IS NULL ORDER BY id",
            kinds,
        )
    ]


def build(conn: sqlite3.Connection, ops: list[tuple]) -> None:
    """Interpret ``ops`` as a history (skipping those that cannot apply)."""
    rpkit.append(conn, "you_set", {"name": "you"})
    for b in BOTS:
        rpkit.append(conn, "bot_created", {"bot_id": b, "name": b.upper()})
    rpkit.append(conn, "container_created", {"container_id": 1, "name": "world"})
    for c in (1, 2):
        rpkit.append(conn, "chat_created", {"title": f"chat {c}", "bot_ids": BOTS}, chat_id=c)
    containers = [1]
    for o in ops:
        name = o[0]
        turns = _live_turns(conn)
        if name == "user":
            rpkit.append(conn, "user_turn", {"text": "u"}, chat_id=o[1] + 1)
        elif name == "assistant":
            rpkit.append(
                conn, "assistant_turn", {"bot_id": BOTS[o[2]], "text": "a"}, chat_id=o[1] + 1
            )
        elif name == "edge":
            src, dst = ENTITIES[o[1]], ENTITIES[(o[1] + o[2]) % 3]
            cause = turns[-1] if o[4] and turns else None
            rpkit.append(
                conn,
                "edge_update",
                {"src": src, "dst": dst, "delta": o[3]},
                cause_id=cause,
                chat_id=1 if cause is None else None,
            )
        elif name == "memory":
            cause = turns[-1] if o[2] and turns else None
            rpkit.append(
                conn,
                "memory_added",
                {"owner": "b1", "text": "m", "salience": 0.5},
                chat_id=o[1] + 1,
                cause_id=cause,
            )
        elif name == "container":
            new = max(containers) + 1
            payload = {"container_id": new, "name": f"c{new}"}
            if o[1]:
                payload["parent_id"] = containers[-1]
            rpkit.append(conn, "container_created", payload)
            containers.append(new)
        elif name == "scene_start":
            cause = turns[-1] if turns else None
            rpkit.append(
                conn,
                "scene_started",
                {"container_id": containers[-1]},
                chat_id=o[1] + 1,
                cause_id=cause,
            )
        elif name == "scene_end":
            rpkit.append(conn, "scene_ended", {}, chat_id=o[1] + 1)
        elif name == "activity":
            rpkit.append(
                conn,
                "activity_logged",
                {"container_id": containers[0], "entity": "b2", "action": "waits"},
                chat_id=o[1] + 1,
            )
        elif name == "fail" and turns:
            rpkit.append(
                conn,
                "classifier_failed",
                {"stage": "s", "error": "e"},
                cause_id=turns[o[1] % len(turns)],
            )
        elif name == "you":
            rpkit.append(conn, "you_set", {"name": "me", **({"persona": "p"} if o[1] else {})})
        elif name == "edit" and turns:
            rpkit.edit_turn(conn, turns[o[1] % len(turns)], "edited")
        elif name == "regen":
            bot_turns = _live_turns(conn, ("assistant_turn",))
            if bot_turns:
                rpkit.regenerate_turn(conn, bot_turns[o[1] % len(bot_turns)], "again")
        elif name == "hide" and turns:
            rpkit.hide_turn(conn, turns[o[1] % len(turns)])


def raw_copy_then_catch_up(src: sqlite3.Connection, path: Path) -> dict:
    """Write the log with plain INSERTs (as another process would), then catch_up."""
    with rpkit.open_db(path) as conn:
        conn.executemany(
            "INSERT INTO event_log(id, ts, chat_id, kind, payload, cause_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [r[:6] for r in log_rows(src)],
        )
        conn.executemany(
            "UPDATE event_log SET hidden = ?, superseded_by = ? WHERE id = ?",
            [(r[6], r[7], r[0]) for r in log_rows(src) if r[7] is not None],
        )
        conn.commit()
        folded = rpkit.catch_up(conn)
        assert (
            folded
            == conn.execute(
                "SELECT COUNT(*) FROM event_log WHERE superseded_by IS NULL"
            ).fetchone()[0]
        )
        assert rpkit.catch_up(conn) == 0
        return table_rows(conn)


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(ops=st.lists(op, min_size=0, max_size=40), data=st.data())
def test_all_projection_paths_agree_and_rewind_equals_state_at(ops, data):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "h.db"
        with rpkit.open_db(db) as conn:
            build(conn, ops)
            incremental = table_rows(conn)
            assert rpkit.verify(conn).ok
            assert raw_copy_then_catch_up(conn, tmp / "raw.db") == incremental
            rpkit.project(conn)
            assert table_rows(conn) == incremental
            head = log_rows(conn)[-1][0]
            n = data.draw(st.integers(0, head), label="after_event_id")
            expected_tables = frame_rows(rpkit.state_at(conn, n))
            log_before = log_rows(conn)
            preview = rpkit.compute_rewind_preview(conn, n)
        # project(upto=n) in a copy agrees with state_at(n)
        shutil.copyfile(db, tmp / "upto.db")
        with rpkit.open_db(tmp / "upto.db") as other:
            rpkit.project(other, upto=n)
            assert table_rows(other) == expected_tables

        snap = rpkit.execute_rewind(db_path=db, data_dir=tmp, after_event_id=n)
        with rpkit.open_db(db) as conn:
            after = log_rows(conn)
            assert table_rows(conn) == expected_tables
            assert after == [
                r if r[7] is None or r[7] <= n else (*r[:6], 0, None)
                for r in log_before
                if r[0] <= n
            ]
            assert preview["total_events"] == len(log_before) - len(after)
            assert rpkit.verify(conn).ok
            if ops:
                assert rpkit.append(conn, "you_set", {"name": "z"}) == head + 1
        pre = rpkit.restore_snapshot(db_path=db, data_dir=tmp, snapshot=snap)
        assert pre.exists()
        with rpkit.open_db(db) as conn:
            assert log_rows(conn) == log_before
            assert table_rows(conn) == incremental
            assert rpkit.verify(conn).ok


@SETTINGS
@given(ops=st.lists(op, min_size=1, max_size=30), data=st.data())
def test_state_at_agrees_with_a_rebuild_at_every_path(ops, data):
    """state_at(N) by roll-back equals a fold from scratch, whatever the undo floor."""
    with tempfile.TemporaryDirectory() as tmp, rpkit.open_db(Path(tmp) / "h.db") as conn:
        build(conn, ops)
        head = log_rows(conn)[-1][0]
        n = data.draw(st.integers(0, head))
        via_undo = frame_rows(rpkit.state_at(conn, n))
        summed = projection.MemorySink()  # no undo entries: turns and edges summed in bulk
        projection.fold(conn, summed, 1, n)
        assert frame_rows(sink_frames(summed)) == via_undo
        plain = projection.MemorySink()  # every event through its kind's effect
        projection.fold(conn, plain, 1, n, summaries=False)
        assert frame_rows(sink_frames(plain)) == via_undo
        # With the undo log cut short, rewinds and state_at take the rebuild path.
        conn.execute("DELETE FROM projection_undo")
        conn.execute("UPDATE rpkit_meta SET value = ? WHERE key = 'undo_floor'", (str(head),))
        assert frame_rows(rpkit.state_at(conn, n)) == via_undo
