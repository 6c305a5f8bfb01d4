"""HTML for result objects shown in a notebook: every string escaped, no ids or addresses.

Every ``_repr_html_`` in rpkit builds its HTML from these helpers, so text
from a history (titles, turns, names) is always shown as text.
"""

from __future__ import annotations

import html

import pandas as pd


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and its noun, plural unless ``n`` is 1: "1 event", "3 events", "2 histories"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def size_text(n: int) -> str:
    """A size in bytes as people read it: ``"41 KB"``, ``"1.6 GB"`` (powers of 1000)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return counted(n, "byte")


def bold_paragraph(text: str, rest: str = "") -> str:
    """A paragraph of bold text, then plain ``rest``, both escaped."""
    return f"<p><b>{html.escape(text)}</b>{html.escape(rest)}</p>"


def paragraph(text: str) -> str:
    """A paragraph of escaped text."""
    return f"<p>{html.escape(text)}</p>"


def bullet_list(items: list[str]) -> str:
    """An unordered list of escaped items."""
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def frame_table(frame: pd.DataFrame, *, index: bool = False) -> str:
    """A DataFrame as an HTML table, cells escaped."""
    return frame.to_html(index=index, escape=True)


def key_value_table(title: str, rows: list[tuple[str, str]]) -> str:
    """A titled two-column table of labels and values, every string escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"{bold_paragraph(title)}<table>{body}</table>"
