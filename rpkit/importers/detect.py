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
from .plan import FORMAT_NAMES, GROUP_DEFINITION, looks_like, refuse

# Keys that tell each format apart, for naming the nearest match of a file that fits none.
TELLTALES = {
    "sillytavern": {"mes", "is_user", "is_system", "send_date", "swipes", "user_name",
                    "character_name", "chat_metadata", "create_date", "name"},
    "chatgpt": {"mapping", "current_node", "title", "create_time", "update_time",
                "conversation_id", "message", "author", "parts"},
    "sharegpt": {"conversations", "from", "value", "id", "system"},
    "claude": {"chat_messages", "uuid", "name", "created_at", "sender", "content", "text"},
    "agnai": {"messages", "msg", "characterId", "userId", "handle", "greeting", "scenario"},
    "jsonl": {"messages", "role", "content", "id", "timestamp", "model"},
}  # fmt: skip
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
    scores = {fmt: keys & tells for fmt, tells in TELLTALES.items()}
    best = max(scores, key=lambda f: len(scores[f]) / len(TELLTALES[f]))
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
    first = _first_line(path)
    judged = _judge(first) if first is not None and not isinstance(first, list) else None
    if judged is not None and (path.suffix.lower() == ".jsonl" or _document(path) is None):
        return judged, first
    whole = _document(path)
    if whole is not None:
        return _judge(whole), whole
    return None, first


def _refuse(name: str, obj: Any, what: str) -> ImportFormatError:
    formats = ", ".join(f"{f} ({FORMAT_NAMES[f]})" for f in TELLTALES)
    if obj is None:
        return refuse(name, f"{what}, so rpkit cannot tell its format; the formats are {formats}")
    fmt, shared = nearest(obj)
    near = (
        f"; the nearest match is {fmt} ({FORMAT_NAMES[fmt]}: it has {', '.join(sorted(shared))}), "
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
    if fmt == "sillytavern-group":
        raise refuse(path.name, GROUP_DEFINITION)
    if fmt is None:
        raise _refuse(path.name, obj, "not an export rpkit reads" if obj is not None else
                      "neither JSON nor JSON lines")  # fmt: skip
    return fmt


def _detect_folder(path: Path) -> str:
    if (path / "conversations.json").is_file():
        fmt, obj = _sniff_file(path / "conversations.json")
        if fmt in ("chatgpt", "claude"):
            return fmt
    chats = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    for p in chats[:5]:
        fmt, _ = _sniff_file(p)
        if fmt == "sillytavern":
            return fmt
    if chats:
        raise refuse(
            path.name,
            "the folder's .jsonl files are not SillyTavern chats; a folder is imported as "
            "SillyTavern chats or as a ChatGPT/Claude export (conversations.json); pass a "
            "dataset's file itself",
        )
    raise refuse(
        path.name,
        "the folder holds no .jsonl chat files and no conversations.json; pass the export file",
    )
