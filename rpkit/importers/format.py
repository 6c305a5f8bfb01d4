"""An import format, declared once: what the CLI, detection, the writer and corpus builds read.

Each reader module declares its ``FORMAT = Format(...)`` beside its ``read``;
``register_format`` adds it to ``FORMATS``, which is all the rest consults:

* ``rpkit import`` has a subcommand per format, with its ``help`` line, and
  ``--list-formats`` lists them;
* detection asks each format in turn whether a record ``looks`` like it, and
  names the nearest match by ``telltales`` when none does;
* the writer marks a retired alternative with the format's ``revision`` word;
* ``rpkit corpus build`` cuts a format that ``shards`` into pieces: a folder of
  ``chat_files`` a file at a time, anything else a record at a time.

Adding a format is one module (a reader and its declaration) and one
``register_format`` call (``rpkit.importers`` makes it for the built-ins). A
corpus build runs readers in worker processes: a format registered at run time
is known there once its module is imported there too (at import of a package
the workers load, or with a Dask worker plugin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ImportFormatError


@dataclass(frozen=True)
class Format:
    """One import format.

    ``name`` is what ``rpkit import NAME`` and ``format=`` take; ``title`` how
    messages call it; ``help`` one line on what a file of it is; ``example`` one
    record of it, as ``--list-formats`` shows. ``read(path, *, skip_bad)``
    returns the plan of an export. ``looks(record)`` says whether a parsed
    record (a dict) is one of this format's, and ``refuses(record)`` gives the
    reason to refuse a file of this app that is not a chat (None: no reason).
    ``telltales`` are keys that tell it apart. ``revision`` names what a retired
    alternative of an import is (``swipe``, ``retry``). ``streams``: the reader
    takes the file record by record and never holds it whole. ``shards``:
    ``rpkit corpus build`` can cut it. ``chat_files``: the suffix of its chat
    files when a folder holds them a chat a file (a build cuts such a folder by
    files); ``chat_folders``: how many of a chat file's enclosing folders name
    something (text-generation-webui's ``chat/<character>/``: 2), which a build's
    shard keeps around the file; ``export_file``: the file an export folder of it holds.
    """

    name: str
    title: str
    help: str
    read: Callable[..., Any]  # -> plan.Parsed
    looks: Callable[[dict[str, Any]], bool]
    telltales: frozenset[str]
    example: str = ""
    revision: str = "alternative"
    refuses: Callable[[dict[str, Any]], str | None] | None = None
    streams: bool = False
    shards: bool = True
    chat_files: str | None = None
    chat_folders: int = 0
    export_file: str | None = None


FORMATS: dict[str, Format] = {}


def register_format(fmt: Format) -> Format:
    """Add ``fmt`` to ``FORMATS`` (detection tries formats in the order they were added)."""
    if not isinstance(fmt, Format):
        raise ImportFormatError(f"register_format takes a Format, not {type(fmt).__name__}")
    if not fmt.name.isidentifier():
        raise ImportFormatError(f"format name {fmt.name!r} must be an identifier such as 'pippa'")
    FORMATS[fmt.name] = fmt
    return fmt


def format_named(name: object) -> Format:
    """The format called ``name``; refuse one no declaration has, listing those there are."""
    if isinstance(name, str) and name in FORMATS:
        return FORMATS[name]
    raise ImportFormatError(f"unknown export format {name!r}; use one of: {', '.join(FORMATS)}")


def looks_like(obj: object) -> str | None:
    """The format a parsed record (or the first of a list of them) looks like, if any."""
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if not isinstance(obj, dict):
        return None
    return next((f.name for f in FORMATS.values() if f.looks(obj)), None)


def refusal(obj: object) -> str | None:
    """Why a record of some app is not an export to import (a group definition), if it is so."""
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if not isinstance(obj, dict):
        return None
    reasons = (f.refuses(obj) for f in FORMATS.values() if f.refuses is not None)
    return next((r for r in reasons if r), None)


def is_foreign(obj: object, name: str) -> bool:
    """Whether a record read as format ``name`` is another format's, or no export at all."""
    return refusal(obj) is not None or looks_like(obj) not in (None, name)
