"""``transcript``: one chat and its forks as Markdown or HTML (by suffix), for people to read.

Each chat is a section: its live turns in order; under a turn, the
alternatives it replaced (swipes, regenerations, edits), struck through and,
in HTML, collapsed; a hidden turn struck through at its place; after the turn
a fork started from, a link to the fork's section below. HTML is one
self-contained file: no script, no style sheet or font from elsewhere, every
text escaped. Markdown escapes ``<``, ``>`` and ``&`` too, so a turn's text
never becomes markup.
"""

from __future__ import annotations

import html
from os import PathLike

import numpy as np
import pandas as pd

from ..log import check_chat
from ..store.sqlite import sqlite3
from .files import check_output, written
from .report import ExportReport
from .tree import HIDE, Tree, read_tree, speaker_label

KIND = "transcript"
FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;line-height:1.5}"
    ".turn{margin:1rem 0}.speaker{font-weight:bold}.alt{color:#666}"
    ".fork{font-style:italic}details{margin-left:1.5rem}"
)


def subtree(tree: Tree, chat_id: int) -> list[int]:
    """``chat_id`` and its forks, forks of forks, depth first (each before its forks)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for r in tree.chats.itertuples():
        if not pd.isna(r.parent_chat_id):
            place = 0 if pd.isna(r.fork_position) else int(r.fork_position)
            children.setdefault(int(r.parent_chat_id), []).append((place, int(r.chat_id)))
    order, stack = [], [chat_id]
    while stack:
        chat = stack.pop()
        order.append(chat)
        stack.extend(c for _, c in sorted(children.get(chat, []), reverse=True))
    return order


def _places(tree: Tree, chat: int) -> list[tuple[int | None, list[int], list[int]]]:
    """A chat's places in reading order: (position, shown rows, retired rows) of ``turns``.

    Shown are the live turns and the system messages an import kept (``Tree.shown``).
    """
    part = tree.chat_slices().get(chat)
    if part is None:
        return []
    t = tree.turns
    position = t["position"].to_numpy(dtype=np.float64, na_value=np.nan)[part]
    retired = ~tree.shown()[part]
    ids = t["event_id"].to_numpy(dtype=np.int64)[part]
    places: list[tuple[int | None, list[int], list[int]]] = []
    last = None
    for k in range(len(ids)):
        key = ("p", position[k]) if not np.isnan(position[k]) else ("h", ids[k])
        if key != last:
            places.append((None if np.isnan(position[k]) else int(position[k]), [], []))
            last = key
        places[-1][2 if retired[k] else 1].append(part.start + k)
    return places


def render(tree: Tree, chat_id: int, fmt: str) -> tuple[str, int]:
    """The transcript text of ``chat_id`` and its forks, and how many turns it shows."""
    msgs = tree.messages()
    how = tree.hows()
    chats = tree.chats.set_index("chat_id")
    forks_at: dict[tuple[int, int], list[int]] = {}
    for r in tree.chats.itertuples():
        if not pd.isna(r.parent_chat_id) and not pd.isna(r.fork_position):
            forks_at.setdefault((int(r.parent_chat_id), int(r.fork_position)), []).append(
                int(r.chat_id)
            )
    md = fmt == "markdown"

    def esc(text: str) -> str:
        return html.escape(text, quote=not md)

    def title(chat: int) -> str:
        t = chats.loc[chat, "title"]
        return f"chat {chat}" + ("" if pd.isna(t) else f": {t}")

    out: list[str] = []
    shown = 0
    for chat in subtree(tree, chat_id):
        parent = chats.loc[chat, "parent_chat_id"]
        if md:
            out.append(f'<a id="chat-{chat}"></a>\n\n# {esc(title(chat))}\n')
            if not pd.isna(parent):
                out.append(f"*A fork of [chat {int(parent)}](#chat-{int(parent)}).*\n")
        else:
            out.append(f'<section id="chat-{chat}"><h1>{esc(title(chat))}</h1>')
            if not pd.isna(parent):
                out.append(
                    f'<p class="fork">A fork of <a href="#chat-{int(parent)}">chat {int(parent)}</a>.</p>'
                )
        for position, live, gone in _places(tree, chat):
            for i in live:
                m = msgs[i]
                shown += 1
                if md:
                    text = esc(m["content"]).replace("\n", "  \n")
                    out.append(f"**{esc(speaker_label(m))}:** {text}\n")
                else:
                    text = esc(m["content"]).replace("\n", "<br>")
                    out.append(
                        f'<div class="turn"><span class="speaker">{esc(speaker_label(m))}:</span> {text}'
                    )
            alts = []
            for i in gone:
                shown += 1
                why = "hidden" if how[i] == HIDE else str(how[i])
                m = msgs[i]
                if md:
                    struck = " ".join(
                        f"~~{line}~~" for line in esc(m["content"]).splitlines() if line.strip()
                    )
                    alts.append(f"> {esc(speaker_label(m))} ({esc(why)}): {struck}\n")
                else:
                    alts.append(
                        f'<div class="alt"><del>{esc(m["content"]).replace(chr(10), "<br>")}</del> '
                        f"<small>({esc(speaker_label(m))}, {esc(why)})</small></div>"
                    )
            if alts:
                if md:
                    out.append("\n".join(alts))
                else:
                    n = len(alts)
                    out.append(
                        f"<details><summary>{n} alternative{'s' if n != 1 else ''}</summary>"
                        + "".join(alts)
                        + "</details>"
                    )
            for fork in forks_at.get((chat, position), []) if position is not None else []:
                if md:
                    out.append(f"*Forked here: [{esc(title(fork))}](#chat-{fork}).*\n")
                else:
                    out.append(
                        f'<p class="fork">Forked here: <a href="#chat-{fork}">{esc(title(fork))}</a></p>'
                    )
            if not md and live:
                out.append("</div>")
        if not md:
            out.append("</section>")
    if md:
        return "\n".join(out), shown
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title(chat_id))}</title><style>{STYLE}</style></head><body>"
    )
    return head + "\n".join(out) + "</body></html>\n", shown


def transcript(
    conn: sqlite3.Connection,
    out: str | PathLike[str],
    chat_id: int,
    *,
    names: object = None,
    replace: bool = False,
    durable: bool = False,
) -> ExportReport:
    """Write chat ``chat_id`` and its forks to ``out`` as Markdown (``.md``) or HTML (``.html``)."""
    chat_id = check_chat(conn, chat_id)
    path, fmt = check_output(out, KIND, FORMATS, replace=replace)
    text, shown = render(read_tree(conn, names=names, deltas=False, roles=True), chat_id, fmt)
    with written(path, durable=durable) as temp:
        temp.write_text(text, encoding="utf-8")
    return ExportReport(KIND, path, shown, "turn")
