"""The affinity explorer: choose pairs and the x axis, see the chart."""

from __future__ import annotations

import html
from os import PathLike

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import frames, plots
from ..operations import open_db
from ..store import require_history
from ..store.sqlite import sqlite3
from .common import StatusMixin, guarded, png


class AffinityExplorer(StatusMixin, widgets.VBox):
    """Choose pairs and the x axis; see the affinity chart.

    Give it an open connection or the path of a history (opened, read and closed).
    ``timeline`` is the ``frames.affinity`` frame; ``last_axes`` the chart drawn;
    ``points`` a collapsed table of the points it plots (pair, x, affinity), read back
    from the chart's lines, for people who cannot see the picture and for tests.
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
        self.points = widgets.HTML()
        self.points.add_class("rpkit-chart-points")
        super().__init__(
            children=[
                widgets.HBox([self.pairs, self.x]),
                self.status_line,
                self.chart,
                self.points,
            ]
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

    @guarded("Reading the history")
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

    @guarded("Drawing")
    def draw(self) -> None:
        """Redraw the chart for the chosen pairs and x axis."""
        if self._drawing_off:
            return
        if not self.pairs.value:
            self.last_axes = None
            self.chart.value = b""
            self.points.value = ""
            self._set_status("Choose at least one pair.", error=True)
            return
        fig = Figure(figsize=(10, 4.5), layout="constrained")
        ax = fig.subplots()
        plots.affinity(self.timeline, ax=ax, x=self.x.value, pairs=list(self.pairs.value))
        self.last_figure, self.last_axes = fig, ax
        self.chart.value = png(fig)
        self.points.value = points_table(ax, self.x.value)
        self._set_status(
            f"{len(self.pairs.value)} pair(s), x = {self.x.value}, "
            f"{int(self.timeline['pair'].isin(self.pairs.value).sum())} updates."
        )

    def __repr__(self) -> str:
        return f"AffinityExplorer(pairs={list(self.pairs.value)}, x={self.x.value!r})"


def _x_text(value: object) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value).tz_localize("UTC").isoformat())
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else repr(number)


def points_table(ax: Axes, x: str) -> str:
    """The points of each pair's line on ``ax`` as a collapsed HTML table.

    Read back from the drawn lines (not from the frame), so it shows what the picture
    shows: one row per point, ``data-pair``, ``data-x`` and ``data-y`` on each row.
    """
    rows = []
    for line in ax.get_lines():
        if line.get_gid() != "pair":
            continue
        pair = html.escape(str(line.get_label()), quote=True)
        for xv, yv in zip(line.get_xdata(), line.get_ydata(), strict=True):
            xs, ys = html.escape(_x_text(xv), quote=True), f"{float(yv):.6g}"
            rows.append(
                f"<tr data-pair='{pair}' data-x='{xs}' data-y='{ys}'>"
                f"<td>{pair}</td><td>{xs}</td><td>{ys}</td></tr>"
            )
    return (
        f"<details><summary>The chart's points ({len(rows)})</summary>"
        f"<table><tr><th>pair</th><th>{html.escape(x)}</th><th>affinity</th></tr>"
        + "".join(rows)
        + "</table></details>"
    )
