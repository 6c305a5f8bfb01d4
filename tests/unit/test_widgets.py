"""rpkit.widgets, clicked headlessly: preview, refusals, rewind, undo, errors."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import rpkit  # noqa: E402
from rpkit import frames  # noqa: E402
from rpkit.display import size_text  # noqa: E402
from rpkit.widgets import AffinityExplorer, RewindPanel  # noqa: E402

from ..helpers import copy_demo, dump  # noqa: E402

CHAT, TURN = 3, 291  # a user turn of "Debts and daggers" that a later edit replaced


def count(db, sql: str, *args: object) -> int:
    """One number read from the history with SQL (the expected values come from the log)."""
    with rpkit.open_db(db) as conn:
        return conn.execute(sql, args).fetchone()[0]


def turns_of(db, chat: int, *, live_only: bool) -> int:
    """How many turns the log holds for a chat (retired ones too unless ``live_only``)."""
    return count(
        db,
        "SELECT COUNT(*) FROM event_log WHERE chat_id = ? AND kind IN ('user_turn', "
        "'assistant_turn')" + (" AND hidden = 0" if live_only else ""),
        chat,
    )


def edge_updates(db, *pairs: tuple[str, str]) -> int:
    """How many live affinity updates the log holds (for the given pairs, or all)."""
    if not pairs:
        return count(db, "SELECT COUNT(*) FROM event_log WHERE kind = 'edge_update' AND hidden = 0")
    return sum(
        count(
            db,
            "SELECT COUNT(*) FROM event_log WHERE kind = 'edge_update' AND hidden = 0 "
            "AND json_extract(payload, '$.src') = ? AND json_extract(payload, '$.dst') = ?",
            src,
            dst,
        )
        for src, dst in pairs
    )


@pytest.fixture
def history(tmp_path):
    """(db_path, data_dir): a copy of the committed demo and a folder for snapshots."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return copy_demo(data_dir), data_dir


@pytest.fixture
def panel(history):
    db, data_dir = history
    p = RewindPanel(db, data_dir)
    p.chat.value = CHAT
    return p


def pick(panel: RewindPanel, event_id: int) -> None:
    assert event_id in [v for _, v in panel.turn.options]
    panel.turn.value = event_id


def live_turn_before_edit(panel: RewindPanel) -> int:
    """A live turn that comes before the demo's edit of turn TURN in chat 3."""
    t = panel.transcript
    return int(t.loc[(t["event_id"] < TURN) & ~t["retired"], "event_id"].iloc[-1])


def test_the_panel_lists_chats_and_the_transcript(history):
    db, data_dir = history
    p = RewindPanel(db, data_dir)
    with rpkit.open_db(db) as conn:
        chats = conn.execute("SELECT id, title FROM chats ORDER BY id").fetchall()
        t1 = frames.turns(conn, 1)
        t3 = frames.turns(conn, 3)
    assert [v for _, v in p.chat.options] == [c for c, _ in chats]
    assert p.chat.options[0][0] == "1: An evening at the Kettle"
    pd.testing.assert_frame_equal(p.transcript, t1)
    live = t1[~t1["retired"]]
    assert [v for _, v in p.turn.options] == list(live["event_id"])
    assert p.turn.options[0][0].startswith("  1. you: ")
    assert p.turn.value == int(live["event_id"].iloc[-1])
    p.chat.value = 3
    pd.testing.assert_frame_equal(p.transcript, t3)
    assert len(p.turn.options) == turns_of(db, 3, live_only=True) > 0
    assert p.rewind_button.disabled and p.undo_button.disabled and p.confirm.disabled
    assert p.status.startswith("3 chats.")
    assert repr(p).startswith("RewindPanel(demo.db, chat 3, status: ")


def test_preview_shows_frames_diff_and_chart(panel, history):
    panel.scope.value = "all"  # the rewind of every chat
    db, _ = history
    turn = live_turn_before_edit(panel)
    pick(panel, turn)
    panel.preview_button.click()
    with rpkit.open_db(db) as conn:
        point = rpkit.rewind_point(conn, turn)
        expected = rpkit.compute_rewind_preview(conn, point)
        diff = frames.rewind_diff(conn, point)
    assert panel.last_error is None, panel.status
    assert panel.last_point == point
    assert panel.last_preview == expected
    pd.testing.assert_frame_equal(panel.last_diff.changes, diff.changes)
    pd.testing.assert_frame_equal(panel.last_diff.affinity, diff.affinity)
    assert list(panel.last_preview_frames.restored["id"]) == [
        e["id"] for e in expected["restored_events"]
    ]
    assert panel.status.startswith("Preview of a rewind to turn #") and (
        f"after event {point}): removes {expected['total_events']} events" in panel.status
    )
    # the output shows the preview frames and the diff; the chart marks the point
    shown = [o["data"].get("text/plain", "") for o in panel.output.outputs]
    assert any("assistant_turn" in s for s in shown) and any("mira → you" in s for s in shown)
    timeline_ax, effect_ax = panel.last_figure.axes
    (mark,) = [line for line in timeline_ax.get_lines() if line.get_gid() == "mark"]
    assert list(mark.get_xdata()) == [point, point]
    assert len(effect_ax.containers) == 2
    assert bytes(panel.chart.value).startswith(b"\x89PNG")
    # the rewind waits for the confirmation
    assert panel.rewind_button.disabled and not panel.confirm.disabled
    panel.confirm.value = True
    assert not panel.rewind_button.disabled
    assert panel.confirm.description.endswith(f"delete {expected['total_events']} events")


def test_rewind_is_refused_without_confirmation(panel, history):
    db, data_dir = history
    before = dump(db)
    pick(panel, live_turn_before_edit(panel))
    panel.preview_button.click()
    panel.rewind_button.click()  # what a click on the disabled button would do
    assert panel.status.startswith("Rewind refused: tick the confirmation box")
    assert panel.last_snapshot is None
    assert dump(db) == before
    assert not (data_dir / "snapshots").exists() or not list((data_dir / "snapshots").iterdir())


def test_rewind_is_refused_without_a_preview_of_the_selected_turn(panel, history):
    db, _ = history
    before = dump(db)
    panel.confirm.value = True  # ticked by code without a preview
    panel.rewind_button.click()
    assert panel.status.startswith("Rewind refused: press Preview for the selected turn first")
    turn = live_turn_before_edit(panel)
    pick(panel, turn)
    panel.preview_button.click()
    panel.confirm.value = True
    pick(panel, [v for _, v in panel.turn.options][0])  # another turn: the preview is stale
    assert panel.rewind_button.disabled and not panel.confirm.value
    panel.confirm.value = True
    panel.rewind_button.click()
    assert panel.status.startswith("Rewind refused: press Preview")
    assert dump(db) == before


def test_rewind_then_undo(panel, history):
    panel.scope.value = "all"  # the rewind of every chat
    db, data_dir = history
    before = dump(db)
    all_turns = turns_of(db, CHAT, live_only=False)
    turn = live_turn_before_edit(panel)
    pick(panel, turn)
    panel.preview_button.click()
    point = panel.last_point
    # the preview says how much the undo record takes, next to what goes
    assert f"the undo record takes {size_text(panel.last_record_size)}" in panel.status
    with rpkit.open_db(db) as conn:
        then = rpkit.state_at(conn, point)
    panel.confirm.value = True
    panel.rewind_button.click()
    assert panel.last_error is None, panel.status
    # the database changed to the world at the rewind point, after a snapshot
    assert panel.last_snapshot is not None and panel.last_snapshot.is_file()
    assert panel.last_snapshot.parent == data_dir / "snapshots"
    with rpkit.open_db(db) as conn:
        now = rpkit.current_state(conn)
        head = conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0]
        transcript = frames.turns(conn, CHAT)
    assert head == point
    assert rpkit.diff_states(then, now).empty
    assert panel.status.startswith(
        f"Rewound to after event {point}: {panel.last_preview['total_events']} events removed."
    )
    assert panel.last_snapshot.name in panel.status
    size = panel.last_snapshot.stat().st_size
    assert abs(size - panel.last_record_size) <= 3 * 4096 and size < db.stat().st_size / 4
    # the panel's transcript was refreshed: the turn is now the last one
    pd.testing.assert_frame_equal(panel.transcript, transcript)
    assert panel.turn.options[-1][1] == turn and panel.turn.value == turn
    assert int(panel.transcript["event_id"].max()) == turn <= point < TURN
    assert panel.rewind_button.disabled and not panel.confirm.value
    assert not panel.undo_button.disabled
    # undo restores the snapshot: the database equals the one before the rewind
    panel.undo_button.click()
    assert panel.last_error is None, panel.status
    assert dump(db) == before
    assert panel.status.startswith("Undone: put back what the rewind removed")
    assert panel.last_snapshot.name in panel.status
    assert len(panel.transcript) == all_turns and panel.undo_button.disabled
    panel.undo_button.click()
    assert panel.status.startswith("Nothing to undo")
    assert dump(db) == before


def test_a_rewind_that_cannot_snapshot_is_shown_and_changes_nothing(panel, history):
    db, data_dir = history
    (data_dir / "snapshots").write_text("a file where the snapshot folder should be")
    before = dump(db)
    pick(panel, live_turn_before_edit(panel))
    panel.preview_button.click()
    panel.confirm.value = True
    panel.rewind_button.click()  # must not raise
    assert isinstance(panel.last_error, rpkit.SnapshotDirError)
    assert panel.status.startswith("Rewind failed: cannot create the snapshot folder")
    assert "snapshots" in panel.status
    assert panel.last_snapshot is None
    assert dump(db) == before
    assert panel.rewind_button.disabled  # a failed rewind must be previewed again
    with rpkit.open_db(db) as conn:
        pd.testing.assert_frame_equal(panel.transcript, frames.turns(conn, CHAT))


def test_a_history_changed_after_the_preview_is_not_rewound(panel, history):
    db, _ = history
    pick(panel, live_turn_before_edit(panel))
    panel.preview_button.click()
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "user_turn", {"text": "one more"}, chat_id=CHAT)
    before = dump(db)
    panel.confirm.value = True
    panel.rewind_button.click()
    assert isinstance(panel.last_error, rpkit.StalePreviewError)
    assert "changed since the preview" in panel.status
    assert dump(db) == before


@pytest.mark.parametrize("where", ["typo.db", "nowhere/x.db"])
def test_a_missing_history_is_reported_and_not_created(tmp_path, where):
    p = RewindPanel(tmp_path / where, tmp_path)
    assert isinstance(p.last_error, rpkit.NotADatabaseError)
    assert p.status.startswith("Loading the history failed: ")
    assert "is not an existing history file" in p.status
    assert not (tmp_path / where).exists()
    assert p.chat.options == () and p.turn.options == ()
    p.preview_button.click()
    assert p.status.startswith("Preview failed: no turn is selected")
    with pytest.raises(rpkit.NotADatabaseError, match="not an existing history file"):
        AffinityExplorer(tmp_path / where)
    assert not (tmp_path / where).exists()


def test_affinity_explorer_from_a_path_and_a_connection(history):
    db, _ = history
    explorer = AffinityExplorer(db)
    with rpkit.open_db(db) as conn:
        timeline = frames.affinity(conn)
        from_conn = AffinityExplorer(conn)
    pd.testing.assert_frame_equal(explorer.timeline, timeline)
    pd.testing.assert_frame_equal(from_conn.timeline, timeline)
    labels = [line.get_label() for line in explorer.last_axes.get_lines() if line.get_gid()]
    assert labels == list(timeline["pair"].cat.categories)
    assert explorer.status == f"6 pair(s), x = turn, {edge_updates(db)} updates."
    explorer.x.value = "event"
    explorer.pairs.value = ("mira → you", "you → mira")
    ax = explorer.last_axes
    assert ax.get_xlabel() == "event id"
    assert [line.get_label() for line in ax.get_lines() if line.get_gid()] == [
        "mira → you",
        "you → mira",
    ]
    mine = edge_updates(db, ("mira", "you"), ("you", "mira"))
    assert explorer.status == f"2 pair(s), x = event, {mine} updates."
    explorer.pairs.value = ()
    assert explorer.last_axes is None and explorer.status == "Choose at least one pair."
    assert repr(explorer) == "AffinityExplorer(pairs=[], x='event')"


def test_affinity_explorer_refresh_sees_a_change(history):
    db, _ = history
    explorer = AffinityExplorer(db)
    explorer.pairs.value = ("mira → you",)
    mira = count(
        db,
        "SELECT SUM(json_extract(payload, '$.delta')) FROM event_log WHERE kind = 'edge_update' "
        "AND hidden = 0 AND json_extract(payload, '$.src') = 'mira' "
        "AND json_extract(payload, '$.dst') = 'you'",
    )
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "edge_update", {"src": "mira", "dst": "you", "delta": 5.0}, chat_id=1)
    explorer.refresh()
    assert explorer.pairs.value == ("mira → you",)
    (line,) = [x for x in explorer.last_axes.get_lines() if x.get_gid() == "pair"]
    assert line.get_ydata()[-1] == pytest.approx(mira + 5.0)


def test_a_retired_turn_can_be_picked_to_undo_an_edit(panel, history):
    panel.scope.value = "all"  # the rewind of every chat
    db, _ = history
    edit = count(db, "SELECT superseded_by FROM event_log WHERE id = ?", TURN)
    # what the turn caused (its edge update), retired with it by the edit
    caused = count(db, "SELECT MAX(id) FROM event_log WHERE cause_id = ?", TURN)
    reply = count(  # the chat's next turn after TURN: a reply written before the edit
        db,
        "SELECT MIN(id) FROM event_log WHERE chat_id = ? AND id > ? "
        "AND kind IN ('user_turn', 'assistant_turn')",
        CHAT,
        TURN,
    )
    assert TURN < caused < reply < edit
    assert TURN not in [v for _, v in panel.turn.options]
    panel.show_retired.value = True
    labels = dict((v, k) for k, v in panel.turn.options)
    assert labels[TURN].endswith(f"[retired: edit by event {edit}]")
    assert labels[205].startswith("  -. you: ") and labels[205].endswith(
        "[retired: hide by event 209]"
    )
    pick(panel, TURN)
    panel.preview_button.click()
    assert panel.last_point == caused
    assert [e["id"] for e in panel.last_preview["restored_events"]] == [TURN, caused]
    panel.confirm.value = True
    panel.rewind_button.click()
    assert panel.last_error is None, panel.status
    with rpkit.open_db(db) as conn:
        assert conn.execute("SELECT hidden FROM event_log WHERE id = ?", (TURN,)).fetchone() == (0,)
    t = panel.transcript
    assert t.loc[t["event_id"] == TURN, "retired"].tolist() == [False]
    # "rewind to here" keeps what the turn caused (its update) but never the chat's next
    # turn: the reply goes, and the restored turn is the last one now
    assert panel.turn.value == TURN == int(t["event_id"].max())
    with rpkit.open_db(db) as conn:
        assert conn.execute("SELECT MAX(id) FROM event_log").fetchone() == (caused,)


def test_this_chat_rewinds_alone_undo_keeps_other_chats_and_branch_adds_a_chat(panel, history):
    db, data_dir = history
    assert panel.scope.value == "chat"
    with rpkit.open_db(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM event_log WHERE chat_id = ?", (CHAT,))]
    others = count(db, "SELECT COUNT(*) FROM event_log WHERE chat_id IS NOT ?", CHAT)
    turn = live_turn_before_edit(panel)
    pick(panel, turn)
    panel.preview_button.click()
    with rpkit.open_db(db) as conn:
        point = rpkit.rewind_point(conn, turn)
        expected = rpkit.compute_rewind_preview(conn, point, chat_id=CHAT)
    assert panel.last_preview == expected
    assert set(expected["by_chat"]) <= {CHAT, None}
    assert (
        f"(after event {point}): removes {expected['total_events']} events (chat {CHAT} only)"
        in panel.status
    )
    panel.confirm.value = True
    panel.rewind_button.click()
    assert panel.last_error is None, panel.status
    # every other chat keeps its events; this chat ends at the turn
    assert count(db, "SELECT COUNT(*) FROM event_log WHERE chat_id IS NOT ?", CHAT) == others
    assert count(db, "SELECT MAX(id) FROM event_log WHERE chat_id = ?", CHAT) <= point
    with rpkit.open_db(db) as conn:
        assert rpkit.verify(conn).ok
    # a later turn in another chat does not stop the undo of this chat's rewind
    other = next(c for c in (1, 2, 3) if c != CHAT)
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "user_turn", {"text": "meanwhile"}, chat_id=other)
    panel.undo_button.click()
    assert panel.last_error is None, panel.status
    assert panel.status.startswith("Undone: put back what the rewind removed")
    assert count(db, "SELECT COUNT(*) FROM event_log WHERE chat_id IS NOT ?", CHAT) == others + 1
    with rpkit.open_db(db) as conn:
        assert rpkit.verify(conn).ok
        back = [r[0] for r in conn.execute("SELECT id FROM event_log WHERE chat_id = ?", (CHAT,))]
    assert back == ids
    # branch from the selected turn: a new chat appears in the picker, shown
    chats = [v for _, v in panel.chat.options]
    pick(panel, turn)
    panel.fork_button.click()
    assert panel.last_error is None, panel.status
    assert panel.last_fork not in chats and panel.chat.value == panel.last_fork
    assert [v for _, v in panel.chat.options] == [*chats, panel.last_fork]
    with rpkit.open_db(db) as conn:
        parent = frames.turns(conn, CHAT)
        fork = frames.turns(conn, panel.last_fork)
        assert rpkit.verify(conn).ok
    place = int(parent.loc[parent["event_id"] == turn, "position"].iloc[0])
    live = parent[~parent["retired"] & (parent["position"] <= place)]
    assert fork.loc[~fork["retired"], "text"].tolist() == live["text"].tolist()
    assert panel.status.startswith(f"Forked chat {panel.last_fork} from turn #{place}")


def test_affinity_explorer_points_table_is_what_the_chart_draws(history):
    db, _ = history
    explorer = AffinityExplorer(db)
    explorer.pairs.value = ("mira → you",)
    timeline = explorer.timeline[explorer.timeline["pair"] == "mira → you"]
    html = explorer.points.value
    assert html.startswith(f"<details><summary>The chart's points ({len(timeline)})</summary>")
    for turn, value in zip(timeline["turn"], timeline["affinity"], strict=True):
        assert f"data-x='{int(turn)}' data-y='{float(value):.6g}'" in html
    assert html.count("<tr data-pair='mira → you'") == len(timeline)
    explorer.x.value = "time"
    first = timeline["ts"].iloc[0].tz_convert("UTC").isoformat()
    assert f"data-x='{first}'" in explorer.points.value
    explorer.pairs.value = ()
    assert explorer.points.value == ""
