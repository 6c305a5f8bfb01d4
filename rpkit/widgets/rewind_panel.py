"""The rewind panel: pick a chat and a turn, preview, confirm, rewind, undo, or fork."""

from __future__ import annotations

import html
from os import PathLike
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from .. import frames, plots
from ..display import counted, size_text
from ..errors import FrameError
from ..operations import (
    data_dir_of,
    execute_rewind,
    fork_chat,
    open_db,
    record_size,
    rewind_point,
    undo_rewind,
)
from ..store import require_history
from .common import StatusMixin, guarded, png, turn_label


class RewindPanel(StatusMixin, widgets.VBox):
    """Pick a chat and a turn, preview "rewind to here", confirm, rewind, undo; or fork.

    The turn list shows the live transcript; with **show retired turns** it also
    lists the turns that edits, regenerations and hides replaced, so a rewind can
    bring an original back. **Rewind** applies to *this chat* (its later events
    and what they caused; the other chats keep theirs) or to *every chat*. The
    **Rewind** button stays disabled until a preview of the selected turn is
    shown and the confirmation box is ticked; **Undo last rewind** puts back what
    the rewind removed (``undo_rewind``), keeping what was written since in other
    chats. **Fork from here** copies the chat up to the selected turn into a
    new chat (``fork_chat``) and shows it. After a click, ``last_preview`` (the
    ``compute_rewind_preview`` dict that was shown), ``last_preview_frames``,
    ``last_diff``, ``last_record_size`` (the undo record's size the preview gave),
    ``last_snapshot`` (the rewind's record), ``last_fork`` (the
    new chat's id), ``transcript`` (the chat's ``frames.turns``), ``status`` and
    ``last_error`` hold the results.
    """

    def __init__(
        self, db_path: str | PathLike[str], data_dir: str | PathLike[str] | None = None
    ) -> None:
        self.db_path = Path(db_path)
        self.data_dir = data_dir_of(db_path, data_dir)
        self.status = ""
        self.last_error: Exception | None = None
        self.last_point: int | None = None
        self.last_scope: int | None = None
        self.last_preview: dict[str, Any] | None = None
        self.last_preview_frames: frames.RewindPreview | None = None
        self.last_diff: frames.RewindDiff | None = None
        self.last_figure: Figure | None = None
        self.last_snapshot: Path | None = None
        self.last_record_size: int | None = None
        self.last_fork: int | None = None
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
        self.scope = widgets.ToggleButtons(
            options=[("this chat", "chat"), ("every chat", "all")],
            value="chat",
            description="Rewind",
        )
        self.preview_button = widgets.Button(description="Preview", icon="search")
        self.fork_button = widgets.Button(description="Fork from here", icon="code-fork")
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
                widgets.HBox([self.scope, self.fork_button]),
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
        self.fork_button.on_click(self._on_fork)
        self.scope.observe(lambda _change: self._reset_preview(), names="value")
        self.chat.observe(self._on_chat, names="value")
        self.turn.observe(self._on_turn, names="value")
        self.show_retired.observe(self._on_chat, names="value")
        self.confirm.observe(lambda _change: self._update_buttons(), names="value")
        self._load()

    # -- loading ---------------------------------------------------------------------

    @guarded("Loading the history")
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
                f"{counted(len(options), 'chat')}. Pick a turn and press Preview to see what "
                "a rewind removes."
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
        self.turn.options = [(turn_label(r), int(r.event_id)) for r in shown.itertuples()]
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

    @guarded("Switching chats")
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

    @guarded("Preview")
    def _on_preview(self, _button: widgets.Button | None = None) -> None:
        turn = self.turn.value
        if turn is None:
            raise FrameError("no turn is selected; pick one in the list first")
        chat = self._scoped_chat()
        with open_db(self.db_path) as conn:
            point = rewind_point(conn, turn)
            shown = frames.rewind_preview(conn, point, chat_id=chat)
            diff = frames.rewind_diff(conn, point, chat_id=chat)
            timeline = frames.affinity(conn)
            self.last_record_size = record_size(conn, point, chat)
        self.last_point, self.last_scope = point, chat
        self.last_preview = shown.preview
        self.last_preview_frames = shown
        self.last_diff = diff
        self._show_preview(shown, diff, timeline)
        self._previewed_turn = turn
        self.confirm.value = False
        self.confirm.description = (
            f"I have read the preview: delete {counted(shown.total_events, 'event')}"
        )
        self._update_buttons()
        where = "every chat" if chat is None else f"chat {chat} only"
        self._set_status(
            f"Preview of a rewind to turn {self._selected_position()} (after event {point}): "
            f"removes {counted(shown.total_events, 'event')} ({where}), "
            f"brings back {len(shown.restored)}; the undo record takes "
            f"{size_text(self.last_record_size)}. "
            "Tick the box, then press Rewind (the record is written first)."
        )

    def _show_preview(
        self, shown: frames.RewindPreview, diff: frames.RewindDiff, timeline: pd.DataFrame
    ) -> None:
        self.output.outputs = ()
        self.output.append_display_data(HTML(f"<b>{html.escape(shown.summary())}</b>"))
        self.output.append_display_data(
            HTML(f"the undo record takes {html.escape(size_text(self.last_record_size))}")
        )
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
        self.chart.value = png(fig)

    @guarded("Rewind")
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
            chat_id=self.last_scope,
            expected_preview=preview,
        )
        self.last_snapshot = snapshot
        self._undo_ready = True
        self._load(keep_chat=self.chat.value)
        self._set_status(
            f"Rewound to after event {point}: {counted(preview['total_events'], 'event')} removed. "
            f"Undo record {snapshot.name} ({size_text(snapshot.stat().st_size)}) written first; "
            "Undo last rewind puts them back."
        )

    @guarded("Undo")
    def _on_undo(self, _button: widgets.Button | None = None) -> None:
        if not self._undo_ready or self.last_snapshot is None:
            self._set_status("Nothing to undo: no rewind was made from this panel.", error=True)
            return
        undo_rewind(db_path=self.db_path, data_dir=self.data_dir, snapshot=self.last_snapshot)
        self._undo_ready = False
        self._load(keep_chat=self.chat.value)
        self._set_status(
            f"Undone: put back what the rewind removed (its record {self.last_snapshot.name} "
            "is kept)."
        )

    @guarded("Fork")
    def _on_fork(self, _button: widgets.Button | None = None) -> None:
        turn = self.turn.value
        if turn is None:
            raise FrameError("no turn is selected; pick the turn to fork from first")
        place = self._selected_position()
        parent = self.chat.value
        with open_db(self.db_path) as conn:
            new = fork_chat(conn, turn)
        self.last_fork = new
        self._load(keep_chat=new)
        self._set_status(
            f"Forked chat {new} from turn {place} of chat {parent}: it reads as chat "
            f"{parent} up to that turn and goes on from there."
        )

    def _scoped_chat(self) -> int | None:
        """The chat a rewind applies to, or None for every chat."""
        return self.chat.value if self.scope.value == "chat" else None

    def __repr__(self) -> str:
        return f"RewindPanel({self.db_path.name}, chat {self.chat.value}, status: {self.status!r})"
