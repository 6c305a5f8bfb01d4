"""The web page for people who don't write code: one history, served by Voila.

``make app`` serves ``app/rpkit-app.ipynb`` (through ``scripts/serve_app.py``), whose
only cell shows a ``HistoryApp``: a chat picker, the chat's transcript with its
retired alternatives marked, preview / rewind / undo, and the affinity chart. The
picker, the buttons and the chart are ``rpkit.widgets``' own ``RewindPanel`` and
``AffinityExplorer``; this module adds the transcript view and keeps the three in
step (after a rewind or an undo, the transcript and the chart are read again).
"""

from __future__ import annotations

import html
import os
from os import PathLike
from pathlib import Path

from .extras import require

require("notebook", part=__name__)

import ipywidgets as widgets  # noqa: E402
import pandas as pd  # noqa: E402

from .display import counted  # noqa: E402
from .errors import RpkitError  # noqa: E402
from .operations import data_dir_of  # noqa: E402
from .widgets import AffinityExplorer, RewindPanel  # noqa: E402

__all__ = ["HistoryApp", "TranscriptView", "from_environment"]

DB_VARIABLE = "RPKIT_APP_DB"
DATA_DIR_VARIABLE = "RPKIT_APP_DATA_DIR"

_STYLE = """<style>
.rpkit-transcript table { border-collapse: collapse; width: 100%; font-size: 13px; }
.rpkit-transcript td { padding: 3px 6px; vertical-align: top; border-bottom: 1px solid #eee; }
.rpkit-transcript td.pos { color: #666; text-align: right; white-space: nowrap; }
.rpkit-transcript td.who { font-weight: bold; white-space: nowrap; }
.rpkit-transcript td.text { width: 100%; line-height: 1.35; }
.rpkit-transcript tr.retired td { color: #888; background: #fafafa; }
.rpkit-transcript tr.retired td.text { text-decoration: line-through; }
.rpkit-transcript .mark { font-size: 11px; color: #8a5a00; white-space: nowrap; }
</style>"""


class TranscriptView(widgets.VBox):
    """A chat's transcript in reading order; a retired turn is struck through and says why.

    ``show(transcript)`` takes a ``frames.turns`` frame; ``frame`` keeps the last one
    shown and ``html.value`` the markup.
    """

    def __init__(self) -> None:
        self.frame = pd.DataFrame()
        self.title = widgets.HTML()
        self.html = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.box = widgets.Box(
            [self.html],
            layout=widgets.Layout(max_height="640px", overflow="auto", width="100%"),
        )
        super().__init__([self.title, self.box], layout=widgets.Layout(width="100%"))
        self.add_class("rpkit-transcript")

    def show(self, transcript: pd.DataFrame, chat_label: str = "") -> None:
        self.frame = transcript
        live = int((~transcript["retired"]).sum()) if len(transcript) else 0
        retired = len(transcript) - live
        self.title.value = f"<b>{html.escape(chat_label)}</b>: {counted(live, 'turn')}" + (
            f", {retired} retired alternatives (struck through)" if retired else ""
        )
        rows = []
        for r in transcript.itertuples():
            place = "" if pd.isna(r.position) else str(int(r.position))
            mark = ""
            if r.retired:
                how = r.replaced_how if not pd.isna(r.replaced_how) else "retired"
                mark = f"<div class='mark'>retired: {html.escape(str(how))} by event {int(r.replaced_by)}</div>"
            elif not pd.isna(r.revision):
                mark = f"<div class='mark'>{html.escape(str(r.revision))}</div>"
            rows.append(
                f"<tr class='{'retired' if r.retired else 'live'}' data-event='{int(r.event_id)}'>"
                f"<td class='pos'>{place}</td><td class='who'>{html.escape(str(r.speaker))}</td>"
                f"<td class='text'>{html.escape(str(r.text))}</td><td>{mark}</td></tr>"
            )
        self.html.value = _STYLE + "<table>" + "".join(rows) + "</table>"


class HistoryApp(widgets.VBox):
    """The app's page: transcript and rewind side by side, the affinity chart below.

    ``rewind`` is a ``RewindPanel`` (its chat picker is the page's), ``explorer`` an
    ``AffinityExplorer`` and ``transcript`` a ``TranscriptView``.
    """

    def __init__(
        self, db_path: str | PathLike[str], data_dir: str | PathLike[str] | None = None
    ) -> None:
        self.db_path = Path(db_path)
        self.data_dir = data_dir_of(self.db_path, data_dir)
        self.rewind = RewindPanel(self.db_path, self.data_dir)
        self.rewind.add_class("rpkit-rewind")
        self.transcript = TranscriptView()
        self.explorer: AffinityExplorer | None = None
        header = widgets.HTML(
            f"<h2 style='margin:4px 0'>rpkit · {html.escape(self.db_path.name)}</h2>"
            "<p style='margin:0 0 8px 0'>Pick a chat and read it. To rewind it to a turn: pick "
            "the turn, press <b>Preview</b> to see what would go, tick the box, press "
            "<b>Rewind</b> (this chat, or every chat). An undo record of what goes is written "
            "first (the preview says its size), and "
            "<b>Undo last rewind</b> puts back what it removed. <b>Fork from here</b> starts "
            "a new chat from the picked turn. Tick <i>show retired turns</i> to rewind to, or "
            "fork from, before an edit.</p>"
        )
        try:
            self.explorer = AffinityExplorer(self.db_path)
            self.explorer.add_class("rpkit-affinity")
            affinity: widgets.Widget = self.explorer
        except RpkitError as exc:  # the panel's status line says the same
            affinity = widgets.HTML(f"<i>{html.escape(str(exc))}</i>")
        left = widgets.VBox(
            [widgets.HTML("<h3 style='margin:4px 0'>Transcript</h3>"), self.transcript],
            layout=widgets.Layout(width="42%", padding="0 12px 0 0"),
        )
        right = widgets.VBox(
            [widgets.HTML("<h3 style='margin:4px 0'>Rewind</h3>"), self.rewind],
            layout=widgets.Layout(width="58%"),
        )
        super().__init__(
            [
                header,
                widgets.HBox([left, right], layout=widgets.Layout(width="100%")),
                widgets.HTML("<h3 style='margin:12px 0 4px 0'>Affinity over time</h3>"),
                affinity,
            ]
        )
        self.add_class("rpkit-app")
        # the panel's own handlers run first: the transcript is read when it is fresh
        self.rewind.turn.observe(lambda _change: self._show_transcript(), names="options")
        self.rewind.rewind_button.on_click(self._after_change)
        self.rewind.undo_button.on_click(self._after_change)
        self.rewind.fork_button.on_click(self._after_change)
        # no empty picture before the first preview
        self.rewind.chart.observe(lambda _change: self._show_chart(), names="value")
        self._show_chart()
        self._show_transcript()

    def _show_chart(self) -> None:
        self.rewind.chart.layout.display = None if self.rewind.chart.value else "none"

    def _show_transcript(self) -> None:
        labels = dict((v, k) for k, v in self.rewind.chat.options)
        self.transcript.show(self.rewind.transcript, labels.get(self.rewind.chat.value, ""))

    def _after_change(self, _button: widgets.Button | None = None) -> None:
        self._show_transcript()
        if self.explorer is not None:
            self.explorer.refresh()

    def __repr__(self) -> str:
        return f"HistoryApp({self.db_path.name}, chat {self.rewind.chat.value})"


def from_environment() -> widgets.Widget:
    """The app for the history named by ``RPKIT_APP_DB`` (what ``make app`` sets)."""
    db = os.environ.get(DB_VARIABLE)
    if not db:
        return widgets.HTML(
            f"<b>No history given.</b> Start the app with <code>make app</code> (the demo "
            f"history) or <code>make app DB=path/to/history.db</code>; it sets {DB_VARIABLE}."
        )
    return HistoryApp(db, os.environ.get(DATA_DIR_VARIABLE) or None)
