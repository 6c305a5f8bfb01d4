"""The undo log keeps the recent tail only; deeper rewinds and state_at still agree.

Appends prune undo entries older than the kept tail (``projection.rollback_floor_for``)
once the floor can move a whole step; a rollback below the floor takes the
rebuild path. Small constants make that happen within a 300-event history.
"""

from __future__ import annotations

import pytest

import rpkit
from rpkit import projection
from rpkit.demo import generate
from rpkit.operations import sink_frames
from rpkit.store import get_meta

from ..helpers import frame_rows, table_rows


@pytest.fixture
def short_tail(monkeypatch):
    monkeypatch.setattr(projection.rollback, "ROLLBACK_TAIL", 40)
    monkeypatch.setattr(projection.rollback, "ROLLBACK_TAIL_FRACTION", 0.1)
    monkeypatch.setattr(projection.rollback, "ROLLBACK_PRUNE_STEP", 16)


def _from_scratch(conn, n):
    sink = projection.MemorySink()
    projection.fold(conn, sink, 1, n)
    return frame_rows(sink_frames(sink))


def test_appends_prune_the_undo_log_to_the_tail(short_tail, db_path):
    with rpkit.open_db(db_path) as conn:
        generate(conn, events=300, seed=3)
        head = conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0]
        floor = get_meta(conn, "undo_floor")
        assert head - 40 - 2 * 16 <= floor <= head - 40
        oldest = conn.execute("SELECT MIN(event_id) FROM projection_undo").fetchone()[0]
        assert oldest > floor
        assert rpkit.verify(conn).ok
        for n in (0, floor - 30, floor, floor + 1, head - 5, head):
            assert frame_rows(rpkit.state_at(conn, n)) == _from_scratch(conn, n), n


@pytest.mark.parametrize("depth", ["above the floor", "below the floor"])
def test_rewinds_on_either_side_of_the_floor_equal_state_at(short_tail, db_path, tmp_path, depth):
    with rpkit.open_db(db_path) as conn:
        generate(conn, events=300, seed=5)
        floor = get_meta(conn, "undo_floor")
        n = floor + 10 if depth == "above the floor" else floor - 25
        expected = frame_rows(rpkit.state_at(conn, n))
    rpkit.execute_rewind(db_path=db_path, data_dir=tmp_path, after_event_id=n)
    with rpkit.open_db(db_path) as conn:
        assert table_rows(conn) == expected
        assert rpkit.verify(conn).ok
        assert get_meta(conn, "undo_floor") <= n
