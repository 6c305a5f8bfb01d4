"""Importing other apps' chat exports into an rpkit history.

>>> with rpkit.open_db("history.db") as conn:                       # doctest: +SKIP
...     report = import_sillytavern(conn, "chats/Megumin")
...     report.chats, report.turns, report.retired

Each importer reads the whole export first and refuses a malformed one
(``ImportFormatError`` naming the file, line or node and the reason) before
anything is written; with ``skip_bad=True`` it skips the bad records instead
and lists them in the report. It then writes in one transaction: ``you_set``
and ``bot_created`` where needed, a ``chat_created`` per conversation and the
turns with their original dates (converted to UTC; dates without a time zone
are taken as UTC). Alternatives (SillyTavern swipes, ChatGPT sibling branches)
are appended first and retired by the selected one; system messages become
hidden turns. Every event records its source, so importing the same file again
adds nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from os import PathLike
from pathlib import Path

from ..errors import ImportFormatError
from ..operations import open_db
from . import chatgpt, sharegpt, sillytavern
from .plan import Parsed
from .report import ImportReport
from .writer import write

PathArg = str | PathLike[str]

READERS: dict[str, Callable[..., Parsed]] = {
    "sillytavern": sillytavern.read,
    "chatgpt": chatgpt.read,
    "sharegpt": sharegpt.read,
}
FORMATS = tuple(READERS)


def import_sillytavern(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a SillyTavern chat file (``.jsonl``) or a folder of them, so you can explore it.

    Swipes become assistant turns retired by the selected one, ``is_system``
    messages hidden turns; branch and checkpoint files become chats of their
    own. SillyTavern wrote dates without a time zone: they are taken as UTC.
    """
    return write(conn, sillytavern.read(Path(path), skip_bad=skip_bad))


def import_chatgpt(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a ChatGPT ``conversations.json`` (or one conversation), branches included.

    The path to ``current_node`` is the visible transcript; edited questions and
    regenerated answers (sibling branches) are retired by the on-path sibling.
    """
    return write(conn, chatgpt.read(Path(path), skip_bad=skip_bad))


def import_sharegpt(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a ShareGPT dataset (``[{id, conversations: [{from, value}]}]``), a chat each.

    ShareGPT has no dates: the turns are stamped with the time of the import.
    """
    return write(conn, sharegpt.read(Path(path), skip_bad=skip_bad))


def import_file(
    db_path: PathArg, format: str, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Read an export of ``format`` and import it into the history at ``db_path``.

    The export is read before the history is opened, so a refused export
    leaves no new file behind (this is what ``rpkit import`` calls).
    """
    if format not in READERS:
        raise ImportFormatError(
            f"unknown export format {format!r}; use one of: {', '.join(FORMATS)}"
        )
    parsed = READERS[format](Path(path), skip_bad=skip_bad)
    with open_db(db_path) as conn:
        return write(conn, parsed)


__all__ = [
    "FORMATS",
    "ImportReport",
    "import_chatgpt",
    "import_file",
    "import_sharegpt",
    "import_sillytavern",
]
