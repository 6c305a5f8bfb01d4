"""The Voila app of ``make app``, in Chromium: no code on the page, and its buttons work.

The app (``scripts/serve_app.py`` serving ``app/rpkit-app.ipynb``) runs on a copy
of the demo history given by path, as ``make app DB=path`` does. The test reads
the transcript, previews, is refused, rewinds and undoes, and checks the file
after each step, the transcript and the affinity chart.

Not here yet: "Fork from here" and a per-chat rewind scope (chats as a tree,
DESIGN §11, is not built yet).
"""

from __future__ import annotations

import pytest

import rpkit
from rpkit import frames

from ..helpers import dump
from .harness import query, unexpected_requests, wait_for, wait_visible
from .panels import AffinityExplorerPage, RewindPanelPage, loaded_size

pytestmark = pytest.mark.browser

CHAT, TURN = 3, 291  # a user turn of "Debts and daggers" that a later edit replaced
TROUBLE = ("Error displaying widget", "Loading widget", "Traceback", "error when executing")


def live_updates(db) -> int:
    return query(db, "SELECT COUNT(*) FROM event_log WHERE kind = 'edge_update' AND hidden = 0")[0][
        0
    ]


def transcript_rows(page) -> list[tuple[int, str]]:
    """(event id, "live" or "retired") of each row of the page's transcript."""
    return page.locator(".rpkit-transcript tr").evaluate_all(
        "rows => rows.map(r => [Number(r.dataset.event), r.className])"
    )


def expected_rows(transcript) -> list[tuple[int, str]]:
    return [
        [int(e), "retired" if r else "live"]
        for e, r in zip(transcript["event_id"], transcript["retired"], strict=True)
    ]


def test_app_page_rewind_and_undo(app, app_history, page, steps):
    db = app_history
    with rpkit.open_db(db) as conn:
        point = rpkit.rewind_point(conn, TURN)
        preview = rpkit.compute_rewind_preview(conn, point, chat_id=CHAT)
        transcript = frames.turns(conn, CHAT)
    row = transcript[transcript["event_id"] == TURN].iloc[0]
    position, replaced_by = int(row["position"]), int(row["replaced_by"])
    updates = live_updates(db)
    before = dump(db)

    page.goto(app.url("/"))
    wait_visible(page, ".rpkit-rewind .widget-html", "the app's widgets")
    panel = RewindPanelPage(page.locator(".rpkit-rewind").first)
    explorer = AffinityExplorerPage(page.locator(".rpkit-affinity").first)
    panel.wait_status("3 chats.")
    explorer.wait_status(f"6 pair(s), x = turn, {updates} updates.")
    steps.shot(page, "loaded")

    # a page for people: no notebook code, no error
    text = page.locator("body").inner_text()
    for word in ("from_environment", "import ", "RPKIT_APP_DB"):
        assert word not in text, f"notebook code is visible in the app: {word!r}"
    assert page.locator(".jp-InputArea:visible, .jp-CodeMirrorEditor:visible").count() == 0
    for trouble in TROUBLE:
        assert trouble not in text, trouble

    # the chat picker shows the chat's transcript, its retired alternatives marked
    panel.pick_chat(CHAT)
    wait_for(
        f"the transcript of chat {CHAT}",
        lambda: transcript_rows(page) == expected_rows(transcript),
        30,
    )
    retired_row = page.locator(f".rpkit-transcript tr[data-event='{TURN}']")
    assert "retired" in retired_row.get_attribute("class")
    assert f"retired: edit by event {replaced_by}" in retired_row.inner_text()
    live, retired = int((~transcript["retired"]).sum()), int(transcript["retired"].sum())
    assert (
        page.locator(".rpkit-transcript")
        .first.inner_text()
        .startswith(f"{CHAT}: Debts and daggers: {live} turns, {retired} retired alternatives")
    )
    steps.shot(page, "chat")

    # preview a rewind to before the edit
    panel.show_retired.check()
    panel.pick_turn(position, retired=True)
    panel.preview_button.click()
    status = panel.wait_status(f"Preview of a rewind to turn #{position} (after event {point})")
    assert f"removes {preview['total_events']} events" in status
    wait_for("the preview's tables", lambda: panel.output.locator("table").count() >= 4, 30)
    w, h = loaded_size("the preview chart", panel.chart)
    assert w >= 600 and h >= 200, (w, h)
    steps.shot(page, "previewed")

    # not ticked: refused, the file unchanged
    assert panel.rewind_button.is_disabled()
    panel.rewind_button.click(force=True)
    assert panel.status() == status and dump(db) == before
    steps.shot(page, "refused")

    # ticked: rewound; the file, the transcript and the chart follow
    panel.confirm.check()
    wait_for("Rewind to be enabled after the tick", panel.rewind_button.is_enabled, 30)
    panel.rewind_button.click()
    panel.wait_status(f"Rewound to after event {point}: {preview['total_events']} events removed.")
    assert query(
        db, "SELECT COUNT(*) FROM event_log WHERE chat_id = ? AND id > ?", CHAT, point
    ) == [(0,)]
    assert query(db, "SELECT hidden FROM event_log WHERE id = ?", TURN) == [(0,)]
    with rpkit.open_db(db) as conn:
        after = frames.turns(conn, CHAT)
    wait_for(
        "the transcript after the rewind",
        lambda: transcript_rows(page) == expected_rows(after),
        30,
    )
    assert [TURN, "live"] in transcript_rows(page)
    explorer.wait_status(f"6 pair(s), x = turn, {live_updates(db)} updates.")
    assert live_updates(db) < updates
    steps.shot(page, "rewound")

    # undo: everything back
    panel.undo_button.click()
    panel.wait_status("Undone: put back what the rewind removed")
    assert dump(db) == before
    wait_for(
        "the transcript after the undo",
        lambda: transcript_rows(page) == expected_rows(transcript),
        30,
    )
    explorer.wait_status(f"6 pair(s), x = turn, {updates} updates.")
    steps.shot(page, "undone")
    assert not page.js_errors, page.js_errors
    assert not unexpected_requests(page.context), unexpected_requests(page.context)
