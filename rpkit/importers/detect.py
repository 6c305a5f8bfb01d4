"""Which export a file (or a folder's files) is: ``rpkit import PATH DB`` without a format.

A JSON-lines file is judged by its first line, a JSON document by its content
(the same test the importers use to say "this looks like ..."), a folder by its
chat files or its ``conversations.json``. A file that matches no format is
refused with the list of formats and the nearest match: the format whose
telltale keys it shares most.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ImportFormatError
from .containers import first_record, is_container
from .format import FORMATS, looks_like, refusal
from .plan import refuse

MAX_SNIFF = 256_000_000  # bytes of a JSON document read whole to judge it


def _keys(obj: Any, depth: int = 0) -> set[str]:
    """Keys of ``obj`` and of the first few records and values below it."""
    out: set[str] = set()
    if depth > 3:
        return out
    if isinstance(obj, list):
        for item in obj[:3]:
            out |= _keys(item, depth + 1)
    elif isinstance(obj, dict):
        out |= {k for k in obj if isinstance(k, str)}
        for value in list(obj.values())[:20]:
            if isinstance(value, list | dict):
                out |= _keys(value, depth + 1)
    return out


def nearest(obj: Any) -> tuple[str, set[str]]:
    """The format whose telltale keys ``obj`` shares most, and the keys it shares."""
    keys = _keys(obj)
    scores = {f.name: keys & f.telltales for f in FORMATS.values()}
    best = max(scores, key=lambda f: len(scores[f]) / len(FORMATS[f].telltales))
    return best, scores[best]


def _first_line(path: Path) -> Any:
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                try:
                    return json.loads(raw.decode("utf-8-sig"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    return None
    return None


def _document(path: Path) -> Any:
    if path.stat().st_size > MAX_SNIFF:
        return None
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _judge(obj: Any) -> str | None:
    fmt = looks_like(obj)
    if fmt == "sharegpt" and isinstance(obj, dict) and not isinstance(obj["conversations"], list):
        return None
    return fmt


def _sniff_file(path: Path) -> tuple[str | None, Any]:
    if is_container(path):  # Parquet or compressed: its first record
        first = first_record(path)
        return (_judge(first) if isinstance(first, dict) else None), first
    first = _first_line(path)
    judged = _judge(first) if first is not None and not isinstance(first, list) else None
    if judged is not None and (path.suffix.lower() == ".jsonl" or _document(path) is None):
        return judged, first
    whole = _document(path)
    if whole is not None:
        return _judge(whole), whole
    return None, first


def _refuse(name: str, obj: Any, what: str) -> ImportFormatError:
    formats = ", ".join(f"{f.name} ({f.title})" for f in FORMATS.values())
    if obj is None:
        return refuse(name, f"{what}, so rpkit cannot tell its format; the formats are {formats}")
    fmt, shared = nearest(obj)
    near = (
        f"; the nearest match is {fmt} ({FORMATS[fmt].title}: it has {', '.join(sorted(shared))}), "
        f"try `rpkit import {fmt} PATH DB` to see what it lacks"
        if shared
        else ""
    )
    return refuse(name, f"{what}: it matches none of the formats {formats}{near}")


def detect(path: Path) -> str:
    """The import format of a file or folder; ImportFormatError when none fits."""
    if path.is_dir():
        return _detect_folder(path)
    if not path.is_file():
        raise refuse(str(path), "no such file or folder")
    fmt, obj = _sniff_file(path)
    why = refusal(obj)
    if why is not None:
        raise refuse(path.name, why)
    if fmt is None:
        raise _refuse(path.name, obj, "not an export rpkit reads" if obj is not None else
                      "neither JSON nor JSON lines")  # fmt: skip
    return fmt


def _detect_folder(path: Path) -> str:
    if any(path.glob("*.parquet")):  # a folder of Parquet shards
        fmt, obj = _sniff_file(path)
        if fmt is None:
            raise _refuse(path.name, obj, "its Parquet rows are not records rpkit reads")
        return fmt
    for f in FORMATS.values():
        if f.export_file and (path / f.export_file).is_file():
            fmt, _ = _sniff_file(path / f.export_file)
            if fmt is not None and FORMATS[fmt].export_file == f.export_file:
                return fmt
    by_files = [f for f in FORMATS.values() if f.chat_files]
    for f in by_files:
        files = sorted(p for p in path.rglob(f"*{f.chat_files}") if p.is_file())
        if any(_sniff_file(p)[0] == f.name for p in files[:5]):
            return f.name
    folders = " or ".join(
        [f"{f.title} chats" for f in by_files]
        + [f"a {f.title} export ({f.export_file})" for f in FORMATS.values() if f.export_file]
    )
    suffixes = sorted({f.chat_files for f in by_files})
    if any(p.is_file() for s in suffixes for p in path.rglob(f"*{s}")):
        raise refuse(
            path.name,
            f"the folder's {', '.join(suffixes)} files are not chats rpkit reads; a folder is "
            f"imported as {folders}; pass a dataset's file itself",
        )
    raise refuse(
        path.name,
        f"the folder holds no chat files and no export file; a folder is imported as {folders}; "
        "pass the export file",
    )
