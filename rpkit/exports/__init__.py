"""Out of rpkit: a history's tree as training and analysis data.

Each export reads the history through ``rpkit.frames`` (``read_tree``) and
writes under a temporary name, then renames, so an output is whole or absent:

* ``messages``: conversation paths as ``[{role, content, name}]`` (JSON lines or Parquet);
* ``preferences``: (``prompt``, ``chosen``, ``rejected``) pairs from swipes,
  regenerations and edits (JSON lines or Parquet);
* ``convokit``: a ConvoKit corpus folder, every alternative a sibling utterance;
* ``sharegpt``: the live transcripts as ShareGPT (``.json`` or ``.jsonl``);
* ``transcript``: one chat and its forks as Markdown or HTML, to read.

``export(kind, conn, out, **options)`` calls one by name (``rpkit export KIND
DB OUT``); ``message_rows`` and ``preference_rows`` give the rows as frames
without writing them.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

from ..store.sqlite import sqlite3
from .convokit import convokit
from .errors import (
    ExportArgumentError,
    ExportError,
    ExportExistsError,
    ExportFormatError,
    ExportNamesError,
    ExportPathError,
    UnknownExportError,
)
from .messages import message_rows, messages
from .preferences import preference_rows, preferences
from .report import ExportReport
from .sharegpt import sharegpt
from .transcript import transcript
from .tree import Tree, check_names, read_tree

EXPORTS = {
    "messages": messages,
    "preferences": preferences,
    "convokit": convokit,
    "sharegpt": sharegpt,
    "transcript": transcript,
}


def export_named(kind: object):
    """The export called ``kind``; refuse an unknown one, listing those there are."""
    if isinstance(kind, str) and kind in EXPORTS:
        return EXPORTS[kind]
    raise UnknownExportError(f"unknown export {kind!r}; use one of: {', '.join(EXPORTS)}")


def export(
    kind: str, conn: sqlite3.Connection, out: str | PathLike[str], **options: Any
) -> ExportReport:
    """Run the export ``kind`` (a name of ``EXPORTS``) of the history ``conn`` into ``out``."""
    return export_named(kind)(conn, out, **options)


__all__ = [
    "EXPORTS",
    "ExportArgumentError",
    "ExportError",
    "ExportExistsError",
    "ExportFormatError",
    "ExportNamesError",
    "ExportPathError",
    "ExportReport",
    "Tree",
    "UnknownExportError",
    "check_names",
    "convokit",
    "export",
    "export_named",
    "message_rows",
    "messages",
    "preference_rows",
    "preferences",
    "read_tree",
    "sharegpt",
    "transcript",
]
