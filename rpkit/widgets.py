"""ipywidgets panels: rewind a history with a preview first, and explore affinity.

The panels are thin: every button calls the same library function a notebook
cell would (``rewind_point``, ``compute_rewind_preview``, ``execute_rewind``,
``restore_snapshot``, the frames and plots), and keeps what it got on
attributes (``last_preview``, ``last_diff``, ``last_snapshot``, ``status``), so
tests click the buttons and assert on DataFrames and state. An error goes to the
status line, never into the kernel; the library leaves the database unchanged
when it refuses.
"""

from __future__ import annotations

import functools
import html
import io
import sqlite3
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from . import frames, plots
from .errors import FrameError, RpkitError
from .operations import execute_rewind, open_db, restore_snapshot, rewind_point
from .store import require_history

__all__ = ["AffinityExplorer", "RewindPanel"]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return buf.getvalue()


def _turn_label(row: Any) -> str:
    text = " ".join(str(row.text).split())
    if len(text) > 80:
        text = text[:77] + "..."
    place = "  -" if pd.isna(row.position) else f"{int(row.position):>3}"
    label = f"{place}. {row.speaker}: {text}"
    if row.retired:
        label += f"  [retired: {row.replaced_how} by event {int(row.replaced_by)}]"
    return label


class _StatusMixin:
    """A status line with the latest message (``status``) and error (``last_error``)."""

    status: str
    last_error: Exception | None
    status_line: widgets.HTML

    def _set_status(self, message: str, *, error: bool = False) -> None:
        self.status = message
        color = "#b00020" if error else "#1b5e20"
        self.status_line.value = f'<span style="color:{color}">{html.escape(message)}</span>'


def _guarded(action: str) -> Callable:
    """Run a button handler; show any error in the status line instead of raising."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def handler(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                fn(self, *args, **kwargs)
            except RpkitError as exc:
                self.last_error = exc
                self._set_status(f"{action} failed: {exc}", error=True)
            except Exception as exc:  # a panel must not raise into the kernel
                self.last_error = exc
                self._set_status(f"{action} failed ({type(exc).__name__}): {exc}", error=True)

        return handler

    return wrap


class RewindPanel(_StatusMixin, widgets.VBox):
    """Pick a chat and a turn, preview "rewind to here", confirm, rewind, undo.

    The turn list shows the live transcript; with **show retired turns** it also
    lists the turns that edits, regenerations and hides replaced, so a rewind can
    bring an original back. The **Rewind** button stays disabled until a preview of the selected turn is
    shown and the confirmation box is ticked; **Undo last rewind** restores the
    snapshot the rewind took. After a click, ``last_preview`` (the
    ``compute_rewind_preview`` dict that was shown), ``last_preview_frames``,
    ``last_diff``, ``last_snapshot`` (the rewind's snapshot), ``transcript`` (the
    chat's ``frames.turns``), ``status`` and ``last_error`` hold the results.
    """

    def __init__(self, db_path: str | PathLike[str], data_dir: str | PathLike[str]) -> None:
        self.db_path = Path(db_path)
        self.data_dir = Path(data_dir)
        self.status = ""
        self.last_error: Exception | None = None
        self.last_point: int | None = None
        self.last_preview: dict[str, Any] | None = None
        self.last_preview_frames: frames.RewindPreview | None = None
        self.last_diff: frames.RewindDiff | None = None
        self.last_figure: Figure | None = None
        self.last_snapshot: Path | None = None
        self.last_restore_snapshot: Path | None = None
        self.transcript = pd.DataFrame()
        self._previewed_turn: int | None = None
        self._undo_ready = False
        self._loading = False

        self.chat = widgets.Dropdown(description="Chat", layout=widgets.Layout(width="60%"))
        self.turn = widgets.Select(
            description="Rewind to", rows=12, layout=widgets.Layout(width="95%")
        )
        self.show_retired = widgets.Checkbox(
            value=False,
            description="show retired turns (rewind to before an edit)",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.preview_button = widgets.Button(description="Preview", icon="search")
        self.confirm = widgets.Checkbox(
            value=False,
            description="I have read the preview: delete those events",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.rewind_button = widgets.Button(
            description="Rewind", icon="history", button_style="danger", disabled=True
        )
        self.undo_button = widgets.Button(
            description="Undo last rewind", icon="undo", button_style="warning", disabled=True
        )
        self.status_line = widgets.HTML()
        self.output = widgets.Output()
        self.chart = widgets.Image(format="png", layout=widgets.Layout(width="95%"))
        super().__init__(
            children=[
                widgets.HBox([self.chat, self.show_retired]),
                self.turn,
                widgets.HBox([self.preview_button, self.confirm]),
                widgets.HBox([self.rewind_button, self.undo_button]),
                self.status_line,
                self.output,
                self.chart,
            ]
        )
        self.preview_button.on_click(self._on_preview)
        self.rewind_button.on_click(self._on_rewind)
        self.undo_button.on_click(self._on_undo)
        self.chat.observe(self._on_chat, names="value")
        self.turn.observe(self._on_turn, names="value")
        self.show_retired.observe(self._on_chat, names="value")
        self.confirm.observe(lambda _change: self._update_buttons(), names="value")
        self._load()

    # -- loading ---------------------------------------------------------------------

    @_guarded("Loading the history")
    def _load(self, keep_chat: int | None = None) -> None:
        require_history(self.db_path)
        with open_db(self.db_path) as conn:
            chats = conn.execute("SELECT id, title FROM chats ORDER BY id").fetchall()
        options = [(f"{chat_id}: {title}", chat_id) for chat_id, title in chats]
        wanted = keep_chat if keep_chat in {c for _, c in options} else None
        if wanted is None and options:
            wanted = options[0][1]
        self._loading = True
        try:
            self.chat.options = options
            self.chat.value = wanted
        finally:
            self._loading = False
        self._load_transcript()
        if not self.status:
            self._set_status(
                f"{len(options)} chats. Pick a turn and press Preview to see what a rewind removes."
            )

    def _load_transcript(self) -> None:
        if self.chat.value is None:
            self.transcript = pd.DataFrame()
            self.turn.options = []
            return
        with open_db(self.db_path) as conn:
            self.transcript = frames.turns(conn, self.chat.value)
        shown = self.transcript
        if not self.show_retired.value:
            shown = shown[~shown["retired"]]
        self.turn.options = [(_turn_label(r), int(r.event_id)) for r in shown.itertuples()]
        live = shown[~shown["retired"]]
        if len(live):
            self.turn.value = int(live["event_id"].iloc[-1])
        self._reset_preview()

    def _reset_preview(self) -> None:
        self._previewed_turn = None
        self.confirm.value = False
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self._previewed_turn is not None and self._previewed_turn == self.turn.value
        self.rewind_button.disabled = not (ready and self.confirm.value)
        self.confirm.disabled = not ready
        self.undo_button.disabled = not self._undo_ready

    @_guarded("Switching chats")
    def _on_chat(self, _change: dict) -> None:
        if not self._loading:
            self._load_transcript()

    def _on_turn(self, _change: dict) -> None:
        if self._previewed_turn is not None and self._previewed_turn != self.turn.value:
            self._previewed_turn = None
            self.confirm.value = False
        self._update_buttons()

    # -- buttons ---------------------------------------------------------------------

    def _selected_position(self) -> str:
        row = self.transcript[self.transcript["event_id"] == self.turn.value]
        return f"#{int(row['position'].iloc[0])}" if len(row) else f"event {self.turn.value}"

    @_guarded("Preview")
    def _on_preview(self, _button: widgets.Button | None = None) -> None:
        turn = self.turn.value
        if turn is None:
            raise FrameError("no turn is selected; pick one in the list first")
        with open_db(self.db_path) as conn:
            point = rewind_point(conn, turn)
            shown = frames.rewind_preview(conn, point)
            diff = frames.rewind_diff(conn, point)
            timeline = frames.affinity(conn)
        self.last_point = point
        self.last_preview = shown.preview
        self.last_preview_frames = shown
        self.last_diff = diff
        self._show_preview(shown, diff, timeline)
        self._previewed_turn = turn
        self.confirm.value = False
        self.confirm.description = f"I have read the preview: delete {shown.total_events} events"
        self._update_buttons()
        self._set_status(
            f"Preview of a rewind to turn {self._selected_position()} (after event {point}): "
            f"removes {shown.total_events} events, brings back {len(shown.restored)}. "
            "Tick the box, then press Rewind (a snapshot is taken first)."
        )

    def _show_preview(
        self, shown: frames.RewindPreview, diff: frames.RewindDiff, timeline: pd.DataFrame
    ) -> None:
        self.output.outputs = ()
        self.output.append_display_data(HTML(f"<b>{html.escape(shown.summary())}</b>"))
        self.output.append_display_data(shown.by_kind)
        self.output.append_display_data(shown.by_chat)
        if len(shown.restored):
            self.output.append_display_data(HTML("<b>Retired events brought back</b>"))
            self.output.append_display_data(shown.restored)
        self.output.append_display_data(HTML(f"<b>{html.escape(repr(diff))}</b>"))
        self.output.append_display_data(diff.affinity)
        fig = Figure(figsize=(11, 4), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[2, 1])
        plots.affinity(
            timeline,
            ax=left,
            x="event",
            mark={f"rewind point ({shown.after_event_id})": shown.after_event_id},
        )
        plots.rewind_effect(diff, ax=right, title="now vs after the rewind")
        self.last_figure = fig
        self.chart.value = _png(fig)

    @_guarded("Rewind")
    def _on_rewind(self, _button: widgets.Button | None = None) -> None:
        if self._previewed_turn is None or self._previewed_turn != self.turn.value:
            self._set_status(
                "Rewind refused: press Preview for the selected turn first; nothing was changed.",
                error=True,
            )
            return
        if not self.confirm.value:
            self._set_status(
                "Rewind refused: tick the confirmation box after reading the preview; "
                "nothing was changed.",
                error=True,
            )
            return
        point, preview = self.last_point, self.last_preview
        self._reset_preview()  # a failed rewind must be previewed and confirmed again
        snapshot = execute_rewind(
            db_path=self.db_path,
            data_dir=self.data_dir,
            after_event_id=point,
            expected_preview=preview,
        )
        self.last_snapshot = snapshot
        self._undo_ready = True
        self._load(keep_chat=self.chat.value)
        self._set_status(
            f"Rewound to after event {point}: {preview['total_events']} events removed. "
            f"Snapshot {snapshot.name} taken first; Undo last rewind restores it."
        )

    @_guarded("Undo")
    def _on_undo(self, _button: widgets.Button | None = None) -> None:
        if not self._undo_ready or self.last_snapshot is None:
            self._set_status("Nothing to undo: no rewind was made from this panel.", error=True)
            return
        before = restore_snapshot(
            db_path=self.db_path, data_dir=self.data_dir, snapshot=self.last_snapshot
        )
        self.last_restore_snapshot = before
        self._undo_ready = False
        self._load(keep_chat=self.chat.value)
        self._set_status(
            f"Undone: restored {self.last_snapshot.name}; the state it replaced is kept in "
            f"{before.name}."
        )

    def __repr__(self) -> str:
        return f"RewindPanel({self.db_path.name}, chat {self.chat.value}, status: {self.status!r})"


class AffinityExplorer(_StatusMixin, widgets.VBox):
    """Choose pairs and the x axis; see the affinity chart.

    Give it an open connection or the path of a history (opened, read and closed).
    ``timeline`` is the ``frames.affinity`` frame; ``last_axes`` the chart drawn.
    """

    def __init__(self, source: sqlite3.Connection | str | PathLike[str]) -> None:
        self.source = source
        self.status = ""
        self.last_error: Exception | None = None
        self.last_axes = None
        self.last_figure: Figure | None = None
        self._drawing_off = False
        self.timeline = self._read()
        pairs = [str(p) for p in self.timeline["pair"].cat.categories]
        self.pairs = widgets.SelectMultiple(
            options=pairs, value=tuple(pairs), description="Pairs", rows=min(len(pairs), 8) or 1
        )
        self.x = widgets.ToggleButtons(
            options=list(plots.X_AXES), value="turn", description="x axis"
        )
        self.status_line = widgets.HTML()
        self.chart = widgets.Image(format="png", layout=widgets.Layout(width="95%"))
        super().__init__(
            children=[widgets.HBox([self.pairs, self.x]), self.status_line, self.chart]
        )
        self.pairs.observe(lambda _c: self.draw(), names="value")
        self.x.observe(lambda _c: self.draw(), names="value")
        self.draw()

    def _read(self) -> pd.DataFrame:
        if isinstance(self.source, sqlite3.Connection):
            return frames.affinity(self.source)
        require_history(self.source)
        with open_db(self.source) as conn:
            return frames.affinity(conn)

    @_guarded("Reading the history")
    def refresh(self) -> None:
        """Read the timeline again (after the history changed) and redraw."""
        self.timeline = self._read()
        pairs = [str(p) for p in self.timeline["pair"].cat.categories]
        keep = tuple(p for p in self.pairs.value if p in pairs) or tuple(pairs)
        self._drawing_off = True
        try:
            self.pairs.options = pairs
            self.pairs.value = keep
        finally:
            self._drawing_off = False
        self.draw()

    @_guarded("Drawing")
    def draw(self) -> None:
        """Redraw the chart for the chosen pairs and x axis."""
        if self._drawing_off:
            return
        if not self.pairs.value:
            self.last_axes = None
            self.chart.value = b""
            self._set_status("Choose at least one pair.", error=True)
            return
        fig = Figure(figsize=(10, 4.5), layout="constrained")
        ax = fig.subplots()
        plots.affinity(self.timeline, ax=ax, x=self.x.value, pairs=list(self.pairs.value))
        self.last_figure, self.last_axes = fig, ax
        self.chart.value = _png(fig)
        self._set_status(
            f"{len(self.pairs.value)} pair(s), x = {self.x.value}, "
            f"{int(self.timeline['pair'].isin(self.pairs.value).sum())} updates."
        )

    def __repr__(self) -> str:
        return f"AffinityExplorer(pairs={list(self.pairs.value)}, x={self.x.value!r})"
