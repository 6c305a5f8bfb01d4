"""SillyTavern group definitions (``groups/<id>.json``): a group chat's title and members.

A group chat file (``group chats/<chat id>.jsonl``) has no header: its name and
members live in the group's definition, which lists the chats it owns
(``chat_id``, ``chats``). A definition is found next to the chats it names
(passed in the same folder) or in the usual layout, ``../groups/`` beside the
``group chats`` folder. A definition is not a chat: passed alone it is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GROUP_DEFINITION = (
    "this is a SillyTavern group definition (groups/*.json: its name, members and the "
    "names of its chats), not a chat; import the group's chat files (group chats/"
    "<chat id>.jsonl) or a folder holding both, and the definition names the chats"
)
MAX_DEFINITION = 4_000_000  # bytes; a definition is a few KB, bigger JSON is something else


@dataclass(frozen=True)
class Group:
    """A group definition: its id, display name and members (character names)."""

    id: str
    name: str
    members: tuple[str, ...]
    file: str


def is_definition(obj: Any) -> bool:
    """Whether a parsed JSON document is a SillyTavern group definition."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("members"), list)
        and ("chats" in obj or "chat_id" in obj)
    )


def definition_refused(obj: dict[str, Any]) -> str | None:
    """Why a group definition is refused as an export (None: ``obj`` is not one)."""
    return GROUP_DEFINITION if is_definition(obj) else None


def _member(avatar: object) -> str | None:
    """A member's name from its avatar file name (``"John Milton.png"`` -> John Milton)."""
    if not isinstance(avatar, str) or not avatar.strip():
        return None
    stem = avatar.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def _read(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_DEFINITION:
            return None
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def groups_in(paths: list[Path]) -> dict[str, Group]:
    """The groups these files define, keyed by the name (stem) of each chat they list."""
    out: dict[str, Group] = {}
    for path in sorted(paths):
        obj = _read(path)
        if not is_definition(obj):
            continue
        name = obj.get("name") if isinstance(obj.get("name"), str) else None
        members = tuple(m for m in map(_member, obj["members"]) if m)
        group = Group(str(obj.get("id", path.stem)), name or path.stem, members, path.name)
        chats = obj.get("chats") if isinstance(obj.get("chats"), list) else []
        for chat in [obj.get("chat_id"), *chats]:
            if isinstance(chat, str) and chat:
                out.setdefault(chat, group)
    return out


def groups_near(chat: Path) -> dict[str, Group]:
    """Definitions in the usual layout: ``<user>/groups/`` beside ``<user>/group chats/``."""
    folder = chat.parent.parent / "groups"
    if chat.parent.name != "group chats" or not folder.is_dir():
        return {}
    return groups_in([p for p in folder.glob("*.json") if p.is_file()])
