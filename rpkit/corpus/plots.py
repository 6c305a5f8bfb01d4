"""Charts of a corpus, each drawn from the frame its analysis returns.

Like ``rpkit.plots``: each draws on ``ax`` (a new figure when None) and returns
the Axes; user text (speakers, actions) is drawn with ``parse_math=False``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .analysis import ROLES


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def trajectories(frame: pd.DataFrame, *, ax: Axes | None = None, min_series: int = 1) -> Axes:
    """The median affinity per pair role along the turns, with its quantile band.

    ``frame`` is ``Corpus.trajectories()``; x values with fewer than
    ``min_series`` series are left out (the band of a handful says little).
    """
    ax = _new_axes(ax, (8, 4.5))
    x = "position" if "position" in frame.columns else "turn"
    for i, role in enumerate(r for r in ROLES if r in set(frame["role"])):
        g = frame[(frame["role"] == role) & (frame["series"] >= min_series)]
        color = f"C{i}"
        ax.fill_between(g[x], g["low"], g["high"], color=color, alpha=0.2, linewidth=0)
        n = int(g["series"].max()) if len(g) else 0
        ax.plot(g[x], g["median"], color=color, label=f"{role} (median of up to {n})")
    ax.axhline(0, color="0.6", linewidth=0.8)
    where = "turn position in the chat" if x == "position" else "turns in the history"
    ax.set_xlabel(where)
    ax.set_ylabel("affinity gained (band: quartiles)" if x == "position" else "affinity")
    ax.set_title("Affinity across the corpus, aligned by turn")
    ax.legend(loc="best", fontsize="small")
    return ax


def turns_per_speaker(frame: pd.DataFrame, *, ax: Axes | None = None, top: int = 12) -> Axes:
    """Live turns of the ``top`` speakers (``Corpus.turns_per_speaker()``), largest on top."""
    ax = _new_axes(ax, (7, 0.35 * min(top, len(frame)) + 1.2))
    shown = frame.head(top).iloc[::-1]
    colors = ["C1" if role == "you" else "C0" for role in shown["role"]]
    y = np.arange(len(shown))
    ax.barh(y, shown["turns"], color=colors)
    ax.set_yticks(y, [str(s) for s in shown["speaker"]], parse_math=False)
    ax.set_xlabel("live turns")
    ax.set_title(f"Turns per speaker (top {len(shown)} of {len(frame)})")
    return ax


def revision_positions(frame: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Where in a chat turns were edited, regenerated or swiped (``Corpus.revision_positions()``)."""
    ax = _new_axes(ax, (8, 4))
    actions = sorted(frame["action"].unique())
    starts = np.sort(frame["start"].unique())
    width = (starts[1] - starts[0] if len(starts) > 1 else 1.0) / max(len(actions), 1) * 0.9
    for i, action in enumerate(actions):
        g = frame[frame["action"] == action].sort_values("start")
        ax.bar(g["start"] + (i + 0.5) * width, g["turns"], width=width, label=str(action))
    step = starts[1] - starts[0] if len(starts) > 1 else 1.0
    ax.set_xticks(starts + step / 2, [f"{s:.0%}–{s + step:.0%}" for s in starts])
    ax.set_xlabel("part of the chat (turn position / live turns)")
    ax.set_ylabel("retired turns")
    ax.set_title("Where in a chat people edit, regenerate and swipe")
    legend = ax.legend(loc="best", fontsize="small")
    for text in legend.get_texts():
        text.set_parse_math(False)
    return ax
