"""Importing other apps' chat exports into an rpkit history.

>>> with rpkit.open_db("history.db") as conn:                       # doctest: +SKIP
...     report = import_sillytavern(conn, "chats/Megumin")
...     report.chats, report.turns, report.retired

Formats: SillyTavern/TavernAI chat files, ChatGPT and Claude.ai
``conversations.json``, ShareGPT datasets, Agnaistic chat exports,
JSON-lines conversation datasets, and the research datasets (PIPPA, WildChat,
LMSYS-Chat-1M, Chatbot Arena, preference pairs, HH-RLHF, text-generation-webui
logs, Character.AI; from Parquet, JSON lines or a JSON list, plain, ``.gz`` or
``.zst``: DESIGN §14). Each is one ``Format`` declaration in
``FORMATS`` (name -> Format), and ``register_format`` adds one;
``detect_format`` tells them apart. Each importer reads the whole export first (the JSON-lines one
streams it) and refuses a malformed one (``ImportFormatError`` naming the file, line or node and the reason) before
anything is written; with ``skip_bad=True`` it skips the bad records instead
and lists them in the report. It then writes in one transaction: ``you_set``
and ``bot_created`` where needed, a ``chat_created`` per conversation and the
turns with their original dates (converted to UTC; dates without a time zone
are taken as UTC). Alternatives (SillyTavern swipes, ChatGPT sibling replies)
are appended first and retired by the selected one; system messages become
hidden turns. Every event records its source, so importing the same file again
adds nothing.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from ..operations import open_db
from ..store.sqlite import sqlite3
from . import (
    agnai,
    arena,
    cai,
    chatgpt,
    claude,
    hh_rlhf,
    jsonl,
    lmsys,
    pippa,
    preference,
    sharegpt,
    sillytavern,
    textgen,
    wildchat,
)
from .detect import detect
from .format import FORMATS, Format, format_named, register_format
from .report import ImportReport
from .writer import write

PathArg = str | PathLike[str]

# The built-in formats, in the order detection tries them: the datasets' telltale
# keys first (none of the apps' records has them), then the apps' exports.
DATASETS = (arena, wildchat, lmsys, pippa, hh_rlhf, preference, textgen, cai)
for _module in (*DATASETS, chatgpt, claude, sharegpt, jsonl, agnai, sillytavern):
    register_format(_module.FORMAT)


def import_sillytavern(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a SillyTavern chat file (``.jsonl``) or a folder of them, so you can explore it.

    Swipes become assistant turns retired by the selected one, ``is_system``
    messages hidden turns; SillyTavern's Branch and Checkpoint files become
    forks of their main chat. SillyTavern wrote dates without a time zone: they are taken as UTC.
    """
    return write(conn, sillytavern.read(Path(path), skip_bad=skip_bad))


def import_chatgpt(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a ChatGPT ``conversations.json`` (or one conversation), its whole tree.

    The path to ``current_node`` is the visible transcript; edited questions and
    regenerated answers (sibling replies) are retired by the on-path sibling.
    """
    return write(conn, chatgpt.read(Path(path), skip_bad=skip_bad))


def import_sharegpt(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a ShareGPT dataset (``[{id, conversations: [{from, value}]}]``), a chat each.

    ShareGPT has no dates: the turns are stamped with the time of the import.
    """
    return write(conn, sharegpt.read(Path(path), skip_bad=skip_bad))


def import_claude(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a Claude.ai ``conversations.json``: a chat per conversation.

    The text of a turn is its ``text`` blocks; ``thinking`` blocks, tool use and
    attachments are kept in the turn's payload, not in the transcript.
    """
    return write(conn, claude.read(Path(path), skip_bad=skip_bad))


def import_agnai(
    conn: sqlite3.Connection,
    path: PathArg,
    *,
    skip_bad: bool = False,
    user: str | None = None,
) -> ImportReport:
    """Import an Agnaistic chat export (``{"messages": [...]}``) as one chat.

    The user is the message with a ``userId`` or without a ``characterId``, or
    whose name, handle or characterId is ``user``; exports without dates are
    stamped with the time of the import.
    """
    return write(conn, agnai.read(Path(path), skip_bad=skip_bad, user=user))


def import_jsonl(
    conn: sqlite3.Connection, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Import a JSON-lines dataset, one ``{"messages": [{"role", "content"}]}`` a line.

    The file is streamed (checked in one pass, written in a second), so its size
    is not limited by memory; each line becomes a chat.
    """
    return write(conn, jsonl.read(Path(path), skip_bad=skip_bad))


def detect_format(path: PathArg) -> str:
    """The format of an export file or folder (one of ``FORMATS``), as ``rpkit import`` sniffs it.

    Raises ImportFormatError, listing the formats and the nearest match, when none fits.
    """
    return detect(Path(path))


def import_file(
    db_path: PathArg, format: str | None, path: PathArg, *, skip_bad: bool = False
) -> ImportReport:
    """Read an export of ``format`` and import it into the history at ``db_path``.

    ``format`` None (or ``"auto"``) detects it (``detect_format``). The export
    is read before the history is opened, so a refused export leaves no new
    file behind (this is what ``rpkit import`` calls).
    """
    if format is None or format == "auto":
        format = detect_format(path)
    parsed = format_named(format).read(Path(path), skip_bad=skip_bad)
    with open_db(db_path) as conn:
        return write(conn, parsed)


__all__ = [
    "FORMATS",
    "Format",
    "ImportReport",
    "detect_format",
    "import_agnai",
    "import_chatgpt",
    "import_claude",
    "import_file",
    "import_jsonl",
    "import_sharegpt",
    "import_sillytavern",
    "register_format",
]
