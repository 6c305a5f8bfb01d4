"""rpkit.app (the page of ``make app``), headlessly: the transcript follows the panel.

The same page is clicked in Chromium by tests/browser/test_app.py.
"""

from __future__ import annotations

import subprocess
import sys

import ipywidgets as widgets
import pytest

import rpkit
from rpkit import frames
from rpkit.app import HistoryApp, from_environment
from rpkit.widgets import AffinityExplorer, RewindPanel

from ..helpers import ROOT, copy_demo, dump

CHAT, TURN = 3, 291  # a user turn of "Debts and daggers" that a later edit replaced


@pytest.fixture
def app(tmp_path):
    return HistoryApp(copy_demo(tmp_path))


def rows(app: HistoryApp) -> list[tuple[int, bool]]:
    return [
        (int(e), bool(r))
        for e, r in zip(
            app.transcript.frame["event_id"], app.transcript.frame["retired"], strict=True
        )
    ]


def test_the_app_is_made_of_the_panels(app):
    assert isinstance(app.rewind, RewindPanel) and isinstance(app.explorer, AffinityExplorer)
    assert app.rewind.data_dir == app.db_path.parent
    assert app.rewind.chart.layout.display == "none"  # no empty picture before a preview


def test_the_transcript_follows_the_chat_and_marks_retired_turns(app):
    with rpkit.open_db(app.db_path) as conn:
        expected = frames.turns(conn, CHAT)
    app.rewind.chat.value = CHAT
    assert rows(app) == [
        (int(e), bool(r)) for e, r in zip(expected["event_id"], expected["retired"], strict=True)
    ]
    markup = app.transcript.html.value
    edit = int(expected.loc[expected["event_id"] == TURN, "replaced_by"].iloc[0])
    assert f"<tr class='retired' data-event='{TURN}'>" in markup
    assert f"retired: edit by event {edit}" in markup
    live, retired = int((~expected["retired"]).sum()), int(expected["retired"].sum())
    assert app.transcript.title.value == (
        f"<b>3: Debts and daggers</b>: {live} turns, {retired} retired alternatives (struck through)"
    )


def test_rewind_and_undo_refresh_the_transcript_and_the_chart(app):
    before = dump(app.db_path)
    updates = len(app.explorer.timeline)
    app.rewind.chat.value = CHAT
    app.rewind.show_retired.value = True
    app.rewind.turn.value = TURN
    app.rewind.preview_button.click()
    assert app.rewind.chart.layout.display is None
    app.rewind.confirm.value = True
    app.rewind.rewind_button.click()
    assert app.rewind.last_error is None, app.rewind.status
    assert (TURN, False) in rows(app)
    assert len(app.explorer.timeline) < updates
    app.rewind.undo_button.click()
    assert dump(app.db_path) == before
    assert (TURN, True) in rows(app) and len(app.explorer.timeline) == updates


def test_from_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("RPKIT_APP_DB", raising=False)
    page = from_environment()
    assert isinstance(page, widgets.HTML) and "make app" in page.value
    db = copy_demo(tmp_path)
    monkeypatch.setenv("RPKIT_APP_DB", str(db))
    monkeypatch.setenv("RPKIT_APP_DATA_DIR", str(tmp_path / "snaps"))
    page = from_environment()
    assert isinstance(page, HistoryApp) and page.rewind.data_dir == tmp_path / "snaps"


def test_a_missing_history_is_said_and_not_created(tmp_path):
    app = HistoryApp(tmp_path / "typo.db")
    assert app.explorer is None and "is not an existing history file" in app.rewind.status
    assert not (tmp_path / "typo.db").exists()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "serve_app.py"), str(tmp_path / "typo.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "is not an existing history file" in done.stdout
    assert not (tmp_path / "typo.db").exists()
