"""rpkit.plots: the Axes they return carry one line per pair, labels and markers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import rpkit  # noqa: E402
from rpkit import frames, plots  # noqa: E402

from ..helpers import copy_demo  # noqa: E402

PAIRS = ["corvin → you", "mira → you", "sable → you", "you → corvin", "you → mira", "you → sable"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The committed demo's affinity timeline and a rewind diff, read from a copy."""
    path = copy_demo(tmp_path_factory.mktemp("plots"))
    with rpkit.open_db(path) as conn:
        return frames.affinity(conn), frames.rewind_diff(conn, 283), path


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def pair_lines(ax: Axes) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines() if line.get_gid() == "pair"}


def test_affinity_draws_one_step_line_per_pair(demo):
    timeline, _, _ = demo
    ax = plots.affinity(timeline)
    assert isinstance(ax, Axes)
    lines = pair_lines(ax)
    assert list(lines) == PAIRS
    final = frames.final_affinity(timeline).set_index("pair")["affinity"]
    for label, line in lines.items():
        rows = timeline[timeline["pair"] == label]
        assert list(line.get_xdata()) == list(rows["turn"].astype(float))
        assert line.get_ydata()[-1] == final[label]
        assert line.get_drawstyle() == "steps-post"
    assert ax.get_xlabel() == "turn (visible turns so far, all chats)"
    assert ax.get_ylabel() == "affinity (running sum of deltas)"
    assert ax.get_title() == "Affinity over time"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == PAIRS
    # the two directions of a pair share a colour and differ by line style
    assert lines["mira → you"].get_color() == lines["you → mira"].get_color()
    assert lines["mira → you"].get_linestyle() != lines["you → mira"].get_linestyle()
    assert lines["mira → you"].get_color() != lines["sable → you"].get_color()


def test_affinity_on_a_given_ax_with_event_axis_pairs_and_marks(demo):
    timeline, _, _ = demo
    fig, (left, right) = plt.subplots(1, 2)
    ax = plots.affinity(
        timeline, ax=right, x="event", pairs=[("mira", "you")], mark={"rewind point": 283}
    )
    assert ax is right and not left.get_lines()
    assert list(pair_lines(ax)) == ["mira → you"]
    rows = timeline[timeline["pair"] == "mira → you"]
    assert list(pair_lines(ax)["mira → you"].get_xdata()) == list(rows["event_id"].astype(float))
    marks = [line for line in ax.get_lines() if line.get_gid() == "mark"]
    assert [m.get_label() for m in marks] == ["rewind point"]
    assert list(marks[0].get_xdata()) == [283.0, 283.0]
    assert [t.get_text() for t in ax.texts] == [" rewind point"]
    assert ax.get_xlabel() == "event id"


def test_affinity_marks_as_a_list_and_on_a_time_axis(demo):
    timeline, _, _ = demo
    ax = plots.affinity(timeline, x="event", mark=[100, 200])
    assert [m.get_label() for m in ax.get_lines() if m.get_gid() == "mark"] == [
        "event 100",
        "event 200",
    ]
    when = timeline["ts"].iloc[50]
    ax = plots.affinity(timeline, x="time", mark={"then": when})
    line = pair_lines(ax)["mira → you"]
    rows = timeline[timeline["pair"] == "mira → you"]
    expected = rows["ts"].dt.tz_localize(None).to_numpy()
    assert list(line.get_xdata()) == list(expected)
    (mark,) = [m for m in ax.get_lines() if m.get_gid() == "mark"]
    assert mark.get_xdata()[0] == np.datetime64(when.tz_localize(None))
    assert ax.get_xlabel() == "time (UTC)"


def test_affinity_reads_a_connection(demo):
    timeline, _, path = demo
    with rpkit.open_db(path) as conn:
        ax = plots.affinity(conn, pairs=["you -> sable"])
    (line,) = pair_lines(ax).values()
    assert (
        line.get_ydata()[-1] == timeline.loc[timeline["pair"] == "you → sable", "affinity"].iloc[-1]
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"x": "turns"}, "x='turns' is not an axis"),
        ({"pairs": [("mira", "corvin")]}, "'mira → corvin' has no affinity updates"),
        ({"mark": "soon"}, "must be a number"),
        ({"x": "time", "mark": "not a time"}, "is not a time"),
    ],
)
def test_affinity_refuses_bad_arguments(demo, kwargs, words):
    timeline, _, _ = demo
    with pytest.raises(rpkit.FrameError, match=words):
        plots.affinity(timeline, **kwargs)


def test_affinity_refuses_a_frame_that_is_not_a_timeline():
    with pytest.raises(rpkit.FrameError, match=r"no column\(s\) \['affinity', 'pair'\]"):
        plots.affinity(pd.DataFrame({"turn": [1, 2]}))


def _mira_to_you_at(path, n: int | None) -> float:
    """Mira's affinity to you from the log: the edge updates visible at event ``n`` (None:
    the newest), added one by one in id order as the edges table does."""
    total = 0.0
    with rpkit.open_db(path) as conn:
        if n is None:
            n = conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0]
        for (delta,) in conn.execute(
            "SELECT json_extract(payload, '$.delta') FROM event_log WHERE kind = 'edge_update' "
            "AND json_extract(payload, '$.src') = 'mira' AND json_extract(payload, '$.dst') = 'you' "
            "AND id <= ? AND (superseded_by IS NULL OR superseded_by > ?) ORDER BY id",
            (n, n),
        ):
            total += delta
    return total


def test_rewind_effect_draws_now_and_after_bars(demo):
    _, diff, path = demo
    ax = plots.rewind_effect(diff)
    assert isinstance(ax, Axes)
    now, after = ax.containers
    assert now.get_label() == "now" and after.get_label() == "after rewind"
    assert [b.get_width() for b in now] == list(diff.affinity["now"].astype(float))
    assert [b.get_width() for b in after] == list(diff.affinity["after"].astype(float))
    assert [t.get_text() for t in ax.get_yticklabels()] == PAIRS
    assert ax.get_title() == "Affinity now and after rewinding to event 283"
    assert ax.get_xlabel() == "affinity"
    labels = [t.get_text() for t in ax.texts]
    now_mira, after_mira = _mira_to_you_at(path, None), _mira_to_you_at(path, 283)
    assert f"{now_mira:+.2f}" != f"{after_mira:+.2f}"
    assert f"{now_mira:+.2f}" in labels and f"{after_mira:+.2f}" in labels


def test_rewind_effect_shows_a_pair_the_rewind_removes(demo):
    frame = pd.DataFrame(
        {
            "pair": ["a → b"],
            "now": pd.array([1.5], dtype="Float64"),
            "after": pd.array([None], dtype="Float64"),
        }
    )
    fig, ax = plt.subplots()
    assert plots.rewind_effect(frame, ax=ax, title="t") is ax
    now, after = ax.containers
    assert [b.get_width() for b in after] == [0.0]
    assert "none" in [t.get_text() for t in ax.texts]
    with pytest.raises(rpkit.FrameError, match="rewind_diff"):
        plots.rewind_effect(pd.DataFrame({"pair": []}))


def test_a_pair_keeps_its_colour_whichever_pairs_are_shown(demo):
    timeline, _, _ = demo
    everything = pair_lines(plots.affinity(timeline))
    some = pair_lines(plots.affinity(timeline, pairs=["you → mira", "sable → you"]))
    assert list(some) == ["you → mira", "sable → you"]  # in the order asked for
    for label, line in some.items():
        assert line.get_color() == everything[label].get_color()
        assert line.get_linestyle() == everything[label].get_linestyle()


# -- chats as a tree ----------------------------------------------------------------


@pytest.fixture
def forked(tmp_path):
    """The demo with a branch from chat 3's first edited turn, and a branch of that."""
    path = copy_demo(tmp_path)
    with rpkit.open_db(path) as conn:
        t = frames.turns(conn, 3)
        edited = int(t[t["replaced_how"] == "edit"]["event_id"].iloc[0])
        fork = rpkit.fork_chat(conn, edited)
        turn = rpkit.append(conn, "user_turn", {"text": "on"}, chat_id=fork)
        nested = rpkit.fork_chat(conn, turn)
    return path, fork, nested


def test_chat_tree_draws_each_chat_its_forks_and_side_shoots(forked):
    path, fork, nested = forked
    with rpkit.open_db(path) as conn:
        ax = plots.chat_tree(conn)
        tree = frames.chats(conn)
        retired = int(tree["retired_turns"].sum())
    assert isinstance(ax, Axes)
    chats = [line for line in ax.get_lines() if line.get_gid() == "chat"]
    assert [line.get_label() for line in chats] == ["chat 1", "chat 2", "chat 3", f"chat {fork}",
                                                    f"chat {nested}"]  # fmt: skip
    by_chat = {line.get_label(): line for line in chats}
    assert list(by_chat[f"chat {fork}"].get_xdata()) == [7, 8]  # forked at place 7 of chat 3
    assert list(by_chat["chat 1"].get_xdata()) == [1, 70]
    assert len([line for line in ax.get_lines() if line.get_gid() == "fork"]) == 2
    assert len([line for line in ax.get_lines() if line.get_gid() == "shoot"]) == retired == 7
    ys = {label: line.get_ydata()[0] for label, line in by_chat.items()}
    assert ys["chat 3"] > ys[f"chat {fork}"] > ys[f"chat {nested}"]  # a branch under its parent
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"edit", "hide", "regenerate"}
    assert ax.get_yticklabels()[0].get_text() == "1: An evening at the Kettle"


def test_chat_tree_on_given_axes_and_an_empty_history(forked, conn):
    fig, ax = plt.subplots()
    with rpkit.open_db(forked[0]) as other:
        assert plots.chat_tree(other, ax=ax) is ax
    with pytest.raises(rpkit.FrameError, match="no chats"):
        plots.chat_tree(conn)


def test_compare_affinity_chart_has_a_line_per_chat_and_pair(forked):
    path, fork, _ = forked
    with rpkit.open_db(path) as conn:
        frame = frames.compare_affinity(conn, [3, fork])
    ax = plots.compare_affinity(frame, pairs=["you → sable"])
    lines = [line for line in ax.get_lines() if line.get_gid() == "compare"]
    assert [line.get_label() for line in lines] == [
        "chat 3: you → sable",
        f"chat {fork}: you → sable",
    ]
    last = frame[(frame["chat_id"] == 3) & (frame["pair"] == "you → sable")]["affinity"].iloc[-1]
    assert lines[0].get_ydata()[-1] == pytest.approx(last)
    with pytest.raises(rpkit.FrameError, match="compare_affinity"):
        plots.compare_affinity(frame.drop(columns=["pair"]))
