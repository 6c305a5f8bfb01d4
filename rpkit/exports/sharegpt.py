"""``sharegpt``: each chat's live transcript as ``{id, conversations: [{from, value}]}``.

The format Axolotl, LLaMA-Factory and FastChat take: ``from`` is ``human``
for your turns and ``gpt`` for a bot's (``system`` for an imported system
message, where it was). A ``.json`` output is one list, a
``.jsonl`` output one conversation a line (both are what ``rpkit import
sharegpt`` reads back). ``id`` is ``<history>/<chat id>``.
"""

from __future__ import annotations

from os import PathLike

import orjson

from ..store.sqlite import sqlite3
from .files import check_output, written
from .messages import message_rows
from .report import ExportReport
from .tree import ASSISTANT, SYSTEM, USER, read_tree

KIND = "sharegpt"
FORMATS = {".json": "json", ".jsonl": "jsonl"}
FROM = {USER: "human", ASSISTANT: "gpt", SYSTEM: "system"}


def conversations(rows) -> list[dict]:
    """``messages`` rows as ShareGPT conversations."""
    return [
        {
            "id": f"{history}/{chat}",
            "conversations": [{"from": FROM[m["role"]], "value": m["content"]} for m in msgs],
        }
        for history, chat, msgs in zip(
            rows["history"], rows["chat_id"], rows["messages"], strict=True
        )
    ]


def sharegpt(
    conn: sqlite3.Connection,
    out: str | PathLike[str],
    *,
    include_retired: bool = False,
    names: object = None,
    replace: bool = False,
    durable: bool = False,
) -> ExportReport:
    """Write every chat's live transcript to ``out`` as ShareGPT (``.json`` or ``.jsonl``).

    ``names`` maps speaker names in the texts (ShareGPT has no name field; see
    ``rpkit.exports.names``).
    """
    path, fmt = check_output(out, KIND, FORMATS, replace=replace)
    tree = read_tree(conn, names=names, deltas=False)
    convs = conversations(message_rows(tree, include_retired=include_retired))
    with written(path, durable=durable) as temp, open(temp, "wb") as f:
        if fmt == "json":
            f.write(orjson.dumps(convs, option=orjson.OPT_INDENT_2))
        else:
            for conv in convs:
                f.write(orjson.dumps(conv) + b"\n")
    return ExportReport(KIND, path, len(convs), "conversation")
