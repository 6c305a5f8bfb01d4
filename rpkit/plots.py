"""Charts of a history: affinity over time, the effect of a rewind, chats as a tree.

Every function follows matplotlib's convention: it draws on ``ax`` (a new figure
when ``ax`` is None) and returns the Axes, so charts compose in subplots and
tests can inspect the lines they drew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .extras import require
from .store.sqlite import sqlite3

require("notebook", "matplotlib", part=__name__)

from matplotlib.axes import Axes  # noqa: E402

from .errors import FrameError  # noqa: E402
from .frames import RewindDiff, chats, parse_pairs, tree_order, turns  # noqa: E402
from .frames import affinity as affinity_frame  # noqa: E402

X_AXES = {
    "turn": ("turn", "turn (visible turns so far, all chats)"),
    "event": ("place_id", "event id"),
    "time": ("ts", "time (UTC)"),
}
MARK_STYLE = {"color": "0.35", "linestyle": "--", "linewidth": 1.0}


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when we make the figure ourselves

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _pair_styles(labels: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """One colour per pair of entities; the two directions differ by line style."""
    palette = plt_colors()
    colors, styles, seen = {}, {}, {}
    for label in sorted(labels):
        ends = frozenset(part.strip() for part in label.split("→"))
        if ends not in seen:
            seen[ends] = palette[len(seen) % len(palette)]
            styles[label] = "-"
        else:
            styles[label] = (0, (5, 1.5, 1, 1.5))
        colors[label] = seen[ends]
    return colors, styles


def plt_colors() -> list[str]:
    """The colours of the current matplotlib style's cycle."""
    import matplotlib as mpl

    return mpl.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])


def _literal(texts: Any) -> None:
    """Draw history text as written: a bot called ``$x$`` is a name, not a formula."""
    for text in texts:
        text.set_parse_math(False)


def _x_values(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _mark_value(value: Any, x: str) -> Any:
    if x == "time":
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise FrameError(
                f"mark {value!r} is not a time; on x='time' marks are timestamps"
            ) from exc
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.to_datetime64()
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise FrameError(
            f"mark {value!r} must be a number on x={x!r} (a {X_AXES[x][1]}); "
            "for a rewind point use x='event'"
        )
    return float(value)


def _marks(mark: Any, x: str) -> list[tuple[str, Any]]:
    if mark is None:
        return []
    if isinstance(mark, Mapping):
        items = list(mark.items())
    elif isinstance(mark, list | tuple | set | np.ndarray | pd.Series | pd.Index):
        items = [(f"{x} {v}", v) for v in mark]
    else:
        items = [(f"{x} {mark}", mark)]
    return [(str(label), _mark_value(v, x)) for label, v in items]


def _pairs_of(timeline: pd.DataFrame) -> list[str]:
    """The timeline's pairs, in its category order when it has one."""
    known = [str(p) for p in pd.unique(timeline["pair"].astype(object))]
    if isinstance(timeline["pair"].dtype, pd.CategoricalDtype):
        known = [str(p) for p in timeline["pair"].cat.categories if p in set(known)]
    return known


def _draw_marks(ax: Axes, marks: list[tuple[str, Any]]) -> None:
    """Dashed vertical lines, each labelled along its top."""
    for label, value in marks:
        ax.axvline(value, label=label, gid="mark", **MARK_STYLE)
        ax.annotate(
            f" {label}",
            xy=(value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            rotation=90,
            ha="left",
            va="top",
            fontsize="small",
            color=MARK_STYLE["color"],
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            parse_math=False,
        )


def affinity(
    timeline: pd.DataFrame | sqlite3.Connection,
    *,
    ax: Axes | None = None,
    x: str = "turn",
    pairs: Any = None,
    mark: Any = None,
    title: str | None = "Affinity over time",
) -> Axes:
    """Draw each pair's running affinity as a step line; return the Axes.

    ``timeline`` is ``rpkit.frames.affinity(conn)`` (or a connection, read for
    you). ``x`` is ``"turn"`` (visible turns so far), ``"event"`` (event id) or
    ``"time"``. ``pairs`` keeps some pairs (as in ``frames.affinity``). ``mark``
    draws dashed vertical lines in the x axis' units: a value, a list, or a
    ``{label: value}`` dict (e.g. ``{"rewind point": 283}`` with ``x="event"``).
    """
    if isinstance(timeline, sqlite3.Connection):
        timeline = affinity_frame(timeline)
    if x not in X_AXES:
        raise FrameError(f"x={x!r} is not an axis; use one of {list(X_AXES)}")
    column, xlabel = X_AXES[x]
    missing = {column, "pair", "affinity"} - set(timeline.columns)
    if missing:
        raise FrameError(
            f"the timeline has no column(s) {sorted(missing)}; pass rpkit.frames.affinity(conn)"
        )
    known = _pairs_of(timeline)
    shown = known if pairs is None else parse_pairs(pairs, known)
    marks = _marks(mark, x)
    ax = _new_axes(ax, (9, 4.5))
    ax.axhline(0.0, color="0.8", linewidth=0.8, label="_zero")
    colors, styles = _pair_styles(known)  # the same colours whichever pairs are shown
    handles = []
    for label in shown:
        rows = timeline[timeline["pair"] == label]
        (line,) = ax.step(
            _x_values(rows[column]),
            rows["affinity"].to_numpy(dtype=np.float64),
            where="post",
            label=label,
            color=colors[label],
            linestyle=styles[label],
            linewidth=1.6,
            gid="pair",
        )
        handles.append(line)
    _draw_marks(ax, marks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("affinity (running sum of deltas)")
    if title:
        ax.set_title(title)
    if handles:
        legend = ax.legend(
            handles=handles, title="src → dst", fontsize="small", loc="best", frameon=False
        )
        _literal(legend.get_texts())
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def rewind_effect(
    diff: RewindDiff | pd.DataFrame, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Horizontal bars per pair: affinity now and after the rewind; return the Axes.

    ``diff`` is ``rpkit.frames.rewind_diff(conn, n)`` (or its ``.affinity``
    frame). A pair the rewind removes shows no "after" bar.
    """
    frame = diff.affinity if isinstance(diff, RewindDiff) else diff
    missing = {"pair", "now", "after"} - set(frame.columns)
    if missing:
        raise FrameError(
            f"the frame has no column(s) {sorted(missing)}; pass rpkit.frames.rewind_diff(conn, n)"
        )
    ax = _new_axes(ax, (7, 0.5 + 0.6 * max(len(frame), 1)))
    y = np.arange(len(frame))
    height = 0.38
    now = frame["now"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    after = frame["after"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    bars_now = ax.barh(y - height / 2, np.nan_to_num(now), height, label="now", color="0.6")
    bars_after = ax.barh(
        y + height / 2, np.nan_to_num(after), height, label="after rewind", color="tab:blue"
    )
    ax.bar_label(bars_now, labels=[_fmt(v) for v in now], padding=3, fontsize="small")
    ax.bar_label(bars_after, labels=[_fmt(v) for v in after], padding=3, fontsize="small")
    ax.axvline(0.0, color="0.3", linewidth=0.8, label="_zero")
    ax.set_yticks(y, [str(p) for p in frame["pair"]], parse_math=False)
    ax.invert_yaxis()
    ax.set_xlabel("affinity")
    if title is None and isinstance(diff, RewindDiff):
        title = f"Affinity now and after rewinding to event {diff.after_event_id}"
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", frameon=False, loc="best")
    ax.margins(x=0.15)
    return ax


def _fmt(value: float) -> str:
    return "none" if np.isnan(value) else f"{value:+.2f}"


SHOOT_COLORS = {"edit": "tab:orange", "regenerate": "tab:purple", "hide": "0.45"}
CHAT_COLORS = ["tab:blue", "tab:green", "tab:red", "tab:brown", "tab:cyan", "tab:olive", "tab:pink"]


def _shoots(transcript: pd.DataFrame) -> list[tuple[float, str]]:
    """Each retired turn's x (its place; a hidden one just after the turn before it)."""
    out, last = [], 0.0
    for position, retired, how in zip(
        transcript["position"], transcript["retired"], transcript["replaced_how"], strict=True
    ):
        if retired:
            out.append((last + 0.5 if pd.isna(position) else float(position), str(how)))
        elif not pd.isna(position):
            last = float(position)
    return out


def chat_tree(
    conn: sqlite3.Connection, *, ax: Axes | None = None, title: str | None = "Chats as a tree"
) -> Axes:
    """Draw a history's chats as a tree along the transcript position; return the Axes.

    A chat is a horizontal line of its turns; a fork starts below its parent at
    the place it was forked at, joined to it by a slanted line. Each retired
    alternative (an edit, a regeneration, a hide, an imported swipe) is a short
    side shoot at its turn, so one sees where the story forked.
    """
    tree = chats(conn)
    if tree.empty:
        raise FrameError("this history has no chats to draw; create one with a chat_created event")
    order = tree_order(tree)
    row = {int(r.chat_id): r for r in tree.itertuples()}
    lane = {chat: -i for i, chat in enumerate(order)}
    ax = _new_axes(ax, (9, 1.2 + 0.7 * len(order)))
    colors = CHAT_COLORS
    labels, seen_how = [], set()
    for i, chat in enumerate(order):
        r, y = row[chat], lane[chat]
        start = 1 if pd.isna(r.fork_position) else int(r.fork_position)
        end = max(start, int(r.turns))
        color = colors[i % len(colors)]
        ax.plot([start, end], [y, y], color=color, linewidth=2.2, gid="chat", label=f"chat {chat}")
        ax.plot([start, end], [y, y], "o", color=color, markersize=3, gid="_ends")
        parent = r.parent_chat_id
        if not pd.isna(parent) and int(parent) in lane:
            ax.plot(
                [max(start - 1, 1), start], [lane[int(parent)], y], color=color,
                linewidth=1.2, linestyle=":", gid="fork",
            )  # fmt: skip
        for x, how in _shoots(turns(conn, chat)):
            shoot = SHOOT_COLORS.get(how, "black")
            name = how if how not in seen_how else f"_{how}"
            seen_how.add(how)
            ax.plot([x, x + 0.35], [y, y + 0.28], color=shoot, linewidth=1.4, gid="shoot",
                    label=name)  # fmt: skip
        name = str(r.title)
        labels.append(f"{chat}: {name if len(name) <= 44 else name[:43] + '…'}")
    ax.set_yticks([lane[c] for c in order], labels, parse_math=False)
    ax.set_ylim(-len(order) + 0.4, 0.7)
    ax.set_xlabel("place in the transcript (turn)")
    if title:
        ax.set_title(title)
    shoots = [
        h for h in ax.get_lines() if h.get_gid() == "shoot" and not h.get_label().startswith("_")
    ]
    if shoots:
        ax.legend(handles=shoots, title="retired alternatives", fontsize="small", frameon=False,
                  loc="upper left", bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def compare_affinity(
    frame: pd.DataFrame, *, ax: Axes | None = None, pairs: Any = None, title: str | None = None
) -> Axes:
    """Affinity along each chat (``frames.compare_affinity``), by transcript place.

    One step line per chat and pair: the colour is the chat, the line style the
    pair. Where chats share their turns their lines coincide, so each later
    chat is drawn thinner, on top of the one before.
    """
    missing = {"chat_id", "position", "pair", "affinity"} - set(frame.columns)
    if missing:
        raise FrameError(
            f"the frame has no column(s) {sorted(missing)}; pass "
            "rpkit.frames.compare_affinity(conn, [a, b])"
        )
    known = sorted(str(p) for p in pd.unique(frame["pair"].astype(object)))
    shown = known if pairs is None else parse_pairs(pairs, known)
    ax = _new_axes(ax, (9, 4.5))
    colors, dashes = plt_colors(), ["-", "--", ":", "-."]
    for i, chat in enumerate(pd.unique(frame["chat_id"])):
        for j, label in enumerate(shown):
            rows = frame[(frame["chat_id"] == chat) & (frame["pair"] == label)]
            if rows.empty:
                continue
            ax.step(rows["position"].to_numpy(dtype=np.float64),
                    rows["affinity"].to_numpy(dtype=np.float64), where="post",
                    color=colors[i % len(colors)], linestyle=dashes[j % len(dashes)],
                    linewidth=max(1.2, 3.4 - 1.1 * i), alpha=0.85,
                    label=f"chat {chat}: {label}", gid="compare")  # fmt: skip
    ax.axhline(0.0, color="0.8", linewidth=0.8, label="_zero")
    ax.set_xlabel("place in the transcript (turn)")
    ax.set_ylabel("affinity along the chat")
    ax.set_title(title or "Affinity along each chat")
    _literal(ax.legend(fontsize="small", frameon=False, loc="best").get_texts())
    ax.grid(True, axis="y", alpha=0.3)
    return ax
