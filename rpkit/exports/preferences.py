"""``preferences``: one row per alternative a turn replaced, in TRL's conversational preference shape.

At one place of a chat, ``prompt`` is the live transcript before the place
(with the system messages an import kept, where they were),
``chosen`` the turn that stayed there and ``rejected`` one alternative it
replaced. ``source`` says why it is a pair: ``swipe`` (alternatives offered
side by side: SillyTavern swipes, ChatGPT and Claude siblings, Agnaistic
retries), ``regenerate``, or ``edit`` (chosen: the correction, rejected: the
original). Alternatives of your own turns (edits of what you wrote) are left
out unless ``include_user_edits``; a place whose live turn was hidden has no
chosen turn and gives no pair. ``context`` keeps only the last N messages of
each prompt (None: all of them).
"""

from __future__ import annotations

from os import PathLike

import numpy as np
import pandas as pd

from ..kinds import USER_TURN
from ..store import is_id
from ..store.sqlite import sqlite3
from .errors import ExportArgumentError
from .files import check_output, written
from .report import ExportReport
from .rows import MESSAGE_LIST, ROW_FORMATS, write_rows
from .tree import Tree, read_tree, source_of

KIND = "preferences"
COLUMNS = {
    "prompt": MESSAGE_LIST,
    "chosen": MESSAGE_LIST,
    "rejected": MESSAGE_LIST,
    "source": "str",
    "history": "str",
    "chat_id": "int",
    "position": "int",
    "chosen_event_id": "int",
    "rejected_event_id": "int",
    "chosen_affinity_delta": "float",
    "rejected_affinity_delta": "float",
}


def check_context(context: object) -> int | None:
    if context is None:
        return None
    if not is_id(context) or int(context) < 0:
        raise ExportArgumentError(
            f"context must be a number of prompt messages (0 or more) or None, not {context!r}"
        )
    return int(context)


def preference_rows(
    tree: Tree, *, include_user_edits: bool = False, context: int | None = None
) -> pd.DataFrame:
    """The ``preferences`` rows of a ``Tree`` (``COLUMNS``), chat by chat, place by place."""
    context = check_context(context)
    t = tree.turns
    retired = t["retired"].to_numpy(dtype=bool)
    how = tree.hows()
    kinds = t["kind"].astype(object).to_numpy()
    ids = t["event_id"].to_numpy(dtype=np.int64)
    position = t["position"].to_numpy(dtype=np.float64, na_value=np.nan)
    shown = tree.shown()
    rows: list[tuple] = []
    for chat, part in tree.chat_slices().items():
        live = np.flatnonzero(~retired[part]) + part.start  # in order: positions 1, 2, ...
        context_rows = np.flatnonzero(shown[part]) + part.start  # and system messages
        at = {int(position[i]): i for i in live}
        prompt_of: dict[int, list] = {}
        for i in range(part.start, part.stop):
            if not retired[i] or np.isnan(position[i]):
                continue
            source = source_of(how[i])
            if source is None or (kinds[i] == USER_TURN and not include_user_edits):
                continue
            place = int(position[i])
            if place not in at:
                continue
            if place not in prompt_of:
                before = context_rows[: np.searchsorted(context_rows, at[place])]
                if context is not None:
                    before = before[len(before) - context :] if context else before[:0]
                prompt_of[place] = before
            rows.append((prompt_of[place], at[place], i, source, chat, place))
    # Messages only for the turns the rows hold (with a short context, few of them).
    needed = [r[0] for r in rows] + [np.array([r[1], r[2]]) for r in rows]
    msgs = tree.messages_at(np.unique(np.concatenate(needed)) if needed else np.empty(0, np.int64))
    prompts = {id(p): [msgs[j] for j in p.tolist()] for p in (r[0] for r in rows)}
    deltas = tree.deltas
    return pd.DataFrame(
        {
            "prompt": [prompts[id(r[0])] for r in rows],
            "chosen": [[msgs[r[1]]] for r in rows],
            "rejected": [[msgs[r[2]]] for r in rows],
            "source": pd.array([r[3] for r in rows], dtype="string"),
            "history": pd.array([tree.history] * len(rows), dtype="string"),
            "chat_id": pd.array([r[4] for r in rows], dtype="Int64"),
            "position": pd.array([r[5] for r in rows], dtype="Int64"),
            "chosen_event_id": pd.array([int(ids[r[1]]) for r in rows], dtype="Int64"),
            "rejected_event_id": pd.array([int(ids[r[2]]) for r in rows], dtype="Int64"),
            "chosen_affinity_delta": pd.array(
                [deltas.get(int(ids[r[1]])) for r in rows], dtype="Float64"
            ),
            "rejected_affinity_delta": pd.array(
                [deltas.get(int(ids[r[2]])) for r in rows], dtype="Float64"
            ),
        }
    )


def preferences(
    conn: sqlite3.Connection,
    out: str | PathLike[str],
    *,
    include_user_edits: bool = False,
    context: int | None = None,
    names: object = None,
    replace: bool = False,
    durable: bool = False,
) -> ExportReport:
    """Write the history's preference pairs to ``out`` (``.jsonl`` or ``.parquet``).

    One row per rejected alternative (see the module's docstring); ``names``
    maps speaker names. ``out`` must not exist unless ``replace``; it is written
    under a temporary name and renamed.
    """
    check_context(context)
    path, fmt = check_output(out, KIND, ROW_FORMATS, replace=replace)
    tree = read_tree(conn, names=names, lineage=False)
    rows = preference_rows(tree, include_user_edits=include_user_edits, context=context)
    with written(path, durable=durable) as temp:
        write_rows(rows, COLUMNS, temp, fmt)
    return ExportReport(KIND, path, len(rows))
