"""HTML for result objects shown in a notebook: escaped, with no ids or addresses."""

from __future__ import annotations

import html


def key_value_table(title: str, rows: list[tuple[str, str]]) -> str:
    """A titled two-column table of labels and values, every string escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<p><b>{html.escape(title)}</b></p><table>{body}</table>"
