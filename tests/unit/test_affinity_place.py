"""A derived update sits at the turn that caused it: on the turn axis, the event axis, the charts.

``classify`` after an import appends every update after every turn; before
``place_id`` every one of them charted at the last turn (one vertical line).
"""

from __future__ import annotations

import shutil

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from rpkit import frames, plots  # noqa: E402
from rpkit.classifiers import classify  # noqa: E402
from rpkit.frames.transcript import live_turn_positions  # noqa: E402
from rpkit.importers import import_sillytavern  # noqa: E402

from ..helpers import EXPORTS  # noqa: E402


def classified_import(conn, tmp_path):
    folder = shutil.copytree(EXPORTS / "sillytavern", tmp_path / "sillytavern")
    import_sillytavern(conn, folder)
    classify(conn)
    return frames.affinity(conn)


def test_a_classified_import_charts_each_update_at_its_turn(conn, tmp_path):
    tl = classified_import(conn, tmp_path)
    assert len(tl) >= 10
    # every update comes after every turn in the log...
    last_turn = conn.execute(
        "SELECT MAX(id) FROM event_log WHERE kind IN ('user_turn', 'assistant_turn')"
    ).fetchone()[0]
    assert (tl["event_id"] > last_turn).all()
    # ...yet sits at the turn that caused it, on both axes
    assert (tl["place_id"] == tl["cause_id"]).all()  # classify derives from the turn it names
    ids = live_turn_positions(conn)[0]
    expected = [int(np.searchsorted(ids, c, side="right")) for c in tl["cause_id"]]
    assert tl["turn"].tolist() == expected
    assert tl["turn"].nunique() > 5  # not one vertical line
    assert tl["turn"].is_monotonic_increasing


def test_the_charts_draw_the_updates_at_their_turns(conn, tmp_path):
    tl = classified_import(conn, tmp_path)
    for x, column in (("turn", "turn"), ("event", "place_id")):
        ax = plots.affinity(conn, x=x)
        xs = np.concatenate([line.get_xdata() for line in ax.get_lines()]).astype(float)
        drawn = set(xs) & set(tl[column].astype(float))  # lines start from an origin point
        assert len(drawn) > 5 and xs.max() == tl[column].max()
        matplotlib.pyplot.close(ax.figure)


def test_a_live_update_keeps_its_place(demo_path):
    import rpkit

    with rpkit.open_db(demo_path) as conn:
        tl = frames.affinity(conn)
        ids = live_turn_positions(conn)[0]
    # the demo's updates come right after their turn: turn counted at the update as before
    assert len(tl) > 0
    assert tl["turn"].tolist() == [
        int(np.searchsorted(ids, e, side="right")) for e in tl["event_id"]
    ]
