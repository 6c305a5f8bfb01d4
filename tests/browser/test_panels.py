"""RewindPanel and AffinityExplorer in a real JupyterLab, clicked as a person would.

Each test writes a notebook that shows one panel on its own copy of the demo
history, runs it with Run All Cells, then picks, ticks and clicks in the page, and
checks what the page shows and what the history file holds. The expected values
come from the file itself (SQL and the public API), read before the clicks.

Not here yet: "Fork from here" and a per-chat rewind scope; they come with chats
as a tree (DESIGN §11), which the panels do not offer yet.
"""

from __future__ import annotations

import shutil

import pytest

import rpkit
from rpkit import frames

from ..helpers import dump
from . import jlab
from .harness import ROOT, query, unexpected_requests, wait_for
from .panels import AffinityExplorerPage, RewindPanelPage, loaded_size

pytestmark = pytest.mark.browser

CHAT, TURN = 3, 291  # a user turn of "Debts and daggers" that a later edit replaced


@pytest.fixture
def scratch(lab_root, request):
    """A folder under the server's root with its own copy of the demo history."""
    folder = lab_root / "scratch" / request.node.name
    (folder / "history").mkdir(parents=True)
    shutil.copyfile(ROOT / "data" / "demo.db", folder / "history" / "demo.db")
    return folder


def open_and_run(page, lab, scratch, name: str, cells: list[str]) -> None:
    jlab.write_notebook(scratch / name, cells)
    path = f"scratch/{scratch.name}/{name}"  # relative to the server's root
    jlab.open_notebook(page, lab, path)
    jlab.run_all(page, name)
    assert not jlab.error_outputs(page), jlab.error_outputs(page)
    jlab.wait_widgets_settled(page, name)
    assert jlab.widget_outputs(page).count() == 1, "the panel did not render as a widget"


def test_rewind_panel_preview_refuse_rewind_undo(lab, page, steps, scratch):
    db = scratch / "history" / "demo.db"
    with rpkit.open_db(db) as conn:
        point = rpkit.rewind_point(conn, TURN)
        preview = rpkit.compute_rewind_preview(conn, point, chat_id=CHAT)
        transcript = frames.turns(conn, CHAT)
    row = transcript[transcript["event_id"] == TURN].iloc[0]
    position, replaced_by = int(row["position"]), int(row["replaced_by"])
    (newest,) = query(db, "SELECT MAX(id) FROM event_log")[0]
    (total,) = query(db, "SELECT COUNT(*) FROM event_log")[0]
    other_chats = query(db, "SELECT id FROM event_log WHERE chat_id IS NOT ?", CHAT)
    before = dump(db)
    try:
        open_and_run(
            page,
            lab,
            scratch,
            "rewind-panel.ipynb",
            [
                "from rpkit.widgets import RewindPanel\n"
                "panel = RewindPanel('history/demo.db', 'history')\npanel"
            ],
        )
        panel = RewindPanelPage(jlab.widget_view(page))
        panel.wait_status("3 chats.")
        steps.shot(page, "panel")

        # pick a chat: its live turns are listed
        panel.pick_chat(CHAT)
        live = int((~transcript["retired"]).sum())
        wait_for(
            f"the {live} live turns of chat {CHAT}", lambda: len(panel.turn_options()) == live, 30
        )
        # show retired turns: the edited original is listed too, marked
        panel.show_retired.check()
        wait_for(
            "the retired turns in the list",
            lambda: len(panel.turn_options()) == len(transcript),
            30,
        )
        label = panel.pick_turn(position, retired=True)
        assert label.endswith(f"[retired: edit by event {replaced_by}]"), label
        steps.shot(page, "picked")

        # Preview: the tables and the chart appear
        panel.preview_button.click()
        status = panel.wait_status(f"Preview of a rewind to turn #{position} (after event {point})")
        assert f"removes {preview['total_events']} events (chat {CHAT} only)" in status
        assert f"brings back {len(preview['restored_events'])}" in status
        tables = panel.output.locator("table")
        wait_for("the preview's tables", lambda: tables.count() >= 4, 30)
        by_kind = tables.first.inner_text()
        for kind in preview["by_kind"]:
            assert kind in by_kind, (kind, by_kind)
        assert "Retired events brought back" in panel.output.inner_text()
        panel.chart.scroll_into_view_if_needed()
        w, h = loaded_size("the preview chart", panel.chart)
        assert w >= 600 and h >= 200, (w, h)
        steps.shot(page, "previewed")

        # Rewind before ticking the box: the button refuses, the file is unchanged
        assert panel.rewind_button.is_disabled() and panel.confirm.is_enabled()
        panel.rewind_button.click(force=True)  # a click on the greyed-out button
        assert panel.status() == status
        assert dump(db) == before
        assert not (scratch / "history" / "snapshots").exists()
        steps.shot(page, "refused")

        # tick, Rewind: the events past the point are gone from the file
        panel.confirm.check()
        wait_for("Rewind to be enabled after the tick", panel.rewind_button.is_enabled, 30)
        panel.rewind_button.click()
        panel.wait_status(
            f"Rewound to after event {point}: {preview['total_events']} events removed."
        )
        # (this chat only: the other chats keep every event)
        assert query(db, "SELECT COUNT(*) FROM event_log") == [(total - preview["total_events"],)]
        assert query(
            db, "SELECT COUNT(*) FROM event_log WHERE chat_id = ? AND id > ?", CHAT, point
        ) == [(0,)]
        assert query(db, "SELECT id FROM event_log WHERE chat_id IS NOT ?", CHAT) == other_chats
        assert query(db, "SELECT hidden FROM event_log WHERE id = ?", TURN) == [(0,)]
        assert len(list((scratch / "history" / "snapshots").glob("*.sqlite"))) == 1
        assert panel.undo_button.is_enabled() and panel.rewind_button.is_disabled()
        steps.shot(page, "rewound")

        # Undo: the file holds again what it held before the rewind
        panel.undo_button.click()
        panel.wait_status("Undone: put back what the rewind removed")
        assert query(db, "SELECT MAX(id) FROM event_log") == [(newest,)]
        assert dump(db) == before
        assert panel.undo_button.is_disabled()
        steps.shot(page, "undone")

        # Fork from here: a new chat appears in the picker, and it is shown
        chats = panel.chat_options()
        panel.pick_turn(position, retired=True)
        panel.fork_button.click()
        panel.wait_status(f"Forked chat {len(chats) + 1} from turn #{position} of chat {CHAT}")
        wait_for(
            "the new chat in the picker", lambda: len(panel.chat_options()) == len(chats) + 1, 30
        )
        assert panel.chat_options()[: len(chats)] == chats
        with rpkit.open_db(db) as conn:
            fork = frames.turns(conn, len(chats) + 1)
            assert rpkit.verify(conn).ok
        assert int((~fork["retired"]).sum()) == position
        steps.shot(page, "branched")
        assert not page.js_errors, page.js_errors
        assert not unexpected_requests(page.context), unexpected_requests(page.context)
    finally:
        jlab.shut_down_kernels(lab)


def pair_updates(db, *pairs: str) -> int:
    """How many live affinity updates the log holds for the given pairs ("a → b")."""
    total = 0
    for pair in pairs:
        src, dst = pair.split(" → ")
        total += query(
            db,
            "SELECT COUNT(*) FROM event_log WHERE kind = 'edge_update' AND hidden = 0 "
            "AND json_extract(payload, '$.src') = ? AND json_extract(payload, '$.dst') = ?",
            src,
            dst,
        )[0][0]
    return total


def test_affinity_explorer_deselect_a_pair_and_change_the_axis(lab, page, steps, scratch):
    db = scratch / "history" / "demo.db"
    pairs = [
        f"{s} → {d}"
        for s, d in query(
            db,
            "SELECT DISTINCT json_extract(payload, '$.src'), json_extract(payload, '$.dst') "
            "FROM event_log WHERE kind = 'edge_update' AND hidden = 0 ORDER BY 1, 2",
        )
    ]
    try:
        open_and_run(
            page,
            lab,
            scratch,
            "affinity-explorer.ipynb",
            [
                "from rpkit.widgets import AffinityExplorer\n"
                "explorer = AffinityExplorer('history/demo.db')\nexplorer"
            ],
        )
        explorer = AffinityExplorerPage(jlab.widget_view(page))
        explorer.wait_status(f"{len(pairs)} pair(s), x = turn, {pair_updates(db, *pairs)} updates.")
        assert (
            sorted(explorer.pairs.evaluate("s => Array.from(s.options).map(o => o.value)")) == pairs
        )
        w, h = loaded_size("the chart", explorer.chart)
        assert w >= 600 and h >= 200, (w, h)
        first = explorer.picture()
        steps.shot(page, "all-pairs")

        # deselect one pair: the chart is drawn again without it
        keep = [p for p in pairs if p != "mira → you"]
        explorer.pairs.select_option(value=keep)
        explorer.wait_status(f"{len(keep)} pair(s), x = turn, {pair_updates(db, *keep)} updates.")
        second = wait_for(
            "a new chart", lambda: explorer.picture()[0] != first[0] and explorer.picture(), 30
        )
        assert second[1] != first[1], "the chart looks the same after a pair was deselected"
        steps.shot(page, "deselected")

        # another x axis: drawn again
        explorer.x_button("event").click()
        explorer.wait_status(f"{len(keep)} pair(s), x = event, {pair_updates(db, *keep)} updates.")
        third = wait_for(
            "a new chart", lambda: explorer.picture()[0] != second[0] and explorer.picture(), 30
        )
        assert third[1] != second[1]
        steps.shot(page, "by-event")
        assert not page.js_errors, page.js_errors
        assert not unexpected_requests(page.context), unexpected_requests(page.context)
    finally:
        jlab.shut_down_kernels(lab)
