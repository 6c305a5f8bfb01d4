"""``messages``: one row per conversation path, as ``[{role, content, name}]`` with its lineage.

A path runs through visible turns from a chat's first turn to a leaf: the
chat's live transcript, each fork (a chat of its own), and with
``paths="all"`` each retired alternative as the path that ends in it (the live
transcript before its place, then the alternative). Hidden turns are left out
unless ``include_retired``. The rows are Hugging Face / TRL's conversational
format; ``write`` chooses JSON lines or Parquet by the output's suffix.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from ..store.sqlite import sqlite3
from .errors import ExportArgumentError
from .files import check_output, written
from .report import ExportReport
from .rows import MESSAGE_LIST, ROW_FORMATS, write_rows
from .tree import HIDE, Tree, read_tree, source_of

KIND = "messages"
PATHS = ("live", "all")
COLUMNS = {
    "messages": MESSAGE_LIST,
    "history": "str",
    "chat_id": "int",
    "title": "str",
    "leaf_event_id": "int",
    "leaf_retired": "bool",
    "parent_chat_id": "int",
    "forked_from_event_id": "int",
    "first_ts": "ts",
    "last_ts": "ts",
    "model": "str",
}


def check_paths(paths: object) -> str:
    if paths not in PATHS:
        raise ExportArgumentError(f"paths must be 'live' or 'all', not {paths!r}")
    return str(paths)


def _optional(value: object) -> Any:
    return None if value is None or pd.isna(value) else int(value)


def message_rows(tree: Tree, *, paths: str = "live", include_retired: bool = False) -> pd.DataFrame:
    """The ``messages`` rows of a ``Tree`` (``COLUMNS``), chat by chat in id order."""
    paths = check_paths(paths)
    t = tree.turns
    msgs = tree.messages()
    retired = t["retired"].to_numpy(dtype=bool)
    how = tree.hows()
    shown = tree.shown(include_retired)
    ids = t["event_id"].to_numpy(dtype=np.int64)
    ts = t["ts"]
    lineage = tree.chats.set_index("chat_id")
    rows: list[tuple] = []
    for chat, part in tree.chat_slices().items():
        c = lineage.loc[chat]
        about = (
            tree.history,
            chat,
            None if pd.isna(c["title"]) else str(c["title"]),
            _optional(c["parent_chat_id"]),
            _optional(c["forked_from_event_id"]),
            tree.models.get(chat),
        )
        live = np.flatnonzero(shown[part]) + part.start
        if len(live):
            rows.append((live, live[-1], False, about))
        if paths == "all":
            alts = np.flatnonzero(retired[part] & (how[part] != HIDE)) + part.start
            for i in alts:
                if source_of(how[i]) is None:
                    continue
                before = live[: np.searchsorted(live, i)]
                rows.append((np.append(before, i), i, True, about))
    return pd.DataFrame(
        {
            "messages": [[msgs[i] for i in path] for path, *_ in rows],
            "history": pd.array([r[3][0] for r in rows], dtype="string"),
            "chat_id": pd.array([r[3][1] for r in rows], dtype="Int64"),
            "title": pd.array([r[3][2] for r in rows], dtype="string"),
            "leaf_event_id": pd.array([int(ids[r[1]]) for r in rows], dtype="Int64"),
            "leaf_retired": np.array([r[2] for r in rows], dtype=bool),
            "parent_chat_id": pd.array([r[3][3] for r in rows], dtype="Int64"),
            "forked_from_event_id": pd.array([r[3][4] for r in rows], dtype="Int64"),
            "first_ts": pd.DatetimeIndex([ts.iat[r[0][0]] for r in rows], tz="UTC"),
            "last_ts": pd.DatetimeIndex([ts.iat[r[0][-1]] for r in rows], tz="UTC"),
            "model": pd.array([r[3][5] for r in rows], dtype="string"),
        }
    )


def messages(
    conn: sqlite3.Connection,
    out: str | PathLike[str],
    *,
    paths: str = "live",
    include_retired: bool = False,
    names: object = None,
    replace: bool = False,
    durable: bool = False,
) -> ExportReport:
    """Write the history's conversation paths to ``out`` (``.jsonl`` or ``.parquet``).

    ``paths="all"`` adds a row for each retired alternative (the path that ends
    in it); ``include_retired`` shows hidden turns; ``names`` maps speaker names
    (``{"Alice": "user"}``). ``out`` must not exist unless ``replace``; it is
    written under a temporary name and renamed, so nothing is left half written.
    """
    check_paths(paths)
    path, fmt = check_output(out, KIND, ROW_FORMATS, replace=replace)
    tree = read_tree(conn, names=names, deltas=False)
    rows = message_rows(tree, paths=paths, include_retired=include_retired)
    with written(path, durable=durable) as temp:
        write_rows(rows, COLUMNS, temp, fmt)
    return ExportReport(KIND, path, len(rows))
