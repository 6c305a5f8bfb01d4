"""Imported forks: a chat file that names its main chat becomes a fork of that chat.

SillyTavern's Branch and Checkpoint copy messages 0..N of a chat into a new
file whose header names the original (``chat_metadata.main_chat``). Such a
chat is imported with its lineage (``parent_chat_id``, ``forked_from_event_id``:
the last message the two share), and its shared messages name the turns they
copy (``forked_from``), so ``classify`` does not derive them twice. The file
name is not trusted: only ``main_chat`` makes a fork. A reader puts the main
chat's name in the chat's ``extra`` under ``MAIN_CHAT``.
"""

from __future__ import annotations

from pathlib import Path

from .. import frames
from ..kinds import CHAT_CREATED, YOU
from ..store.sqlite import sqlite3
from .plan import Chat

MAIN_CHAT = "main_chat"  # the key of a chat's extra naming the chat file it forks
FORK_OF = "fork_of"  # the key of a chat's extra naming the chat (ref) of the same file it forks


def stem(chat: Chat) -> str:
    """The name other chat files use for this one (its file name without the extension)."""
    return Path(chat.file).stem


def parents_first(chats: list[Chat]) -> list[Chat]:
    """``chats`` reordered so that each fork comes after the chat it forks."""
    by_stem = {stem(c): c for c in chats}
    ordered: list[Chat] = []
    placed: set[int] = set()

    def place(chat: Chat, path: frozenset[int]) -> None:
        if id(chat) in placed:
            return
        parent = by_stem.get(chat.extra.get(MAIN_CHAT))
        if parent is not None and id(parent) not in path:  # a circle of forks: stop
            place(parent, path | {id(chat)})
        placed.add(id(chat))
        ordered.append(chat)

    for chat in chats:
        place(chat, frozenset())
    return ordered


def find_parent(conn: sqlite3.Connection, fmt: str, name: str, known: dict[str, int]) -> int | None:
    """The chat id of the chat file ``name``: imported just now, or earlier into the history."""
    if name in known:
        return known[name]
    for chat_id, file in conn.execute(
        "SELECT chat_id, json_extract(payload, '$.source.file') FROM event_log "
        "WHERE kind = ? AND json_extract(payload, '$.source.format') = ? ORDER BY id",
        (CHAT_CREATED, fmt),
    ):
        if isinstance(file, str) and Path(file).stem == name:
            return chat_id
    return None


def shared_turns(conn: sqlite3.Connection, parent: int, chat: Chat) -> list[int]:
    """The parent's live turns the fork starts with (same side, same text), in reading order."""
    transcript = frames.turns(conn, parent, include_retired=False).sort_values("position")
    shared = []
    for row, turn in zip(transcript.itertuples(), chat.turns, strict=False):
        same_side = (row.speaker == YOU) == (turn.role == "user")
        if turn.hidden or not same_side or row.text != turn.text:
            break
        shared.append(int(row.event_id))
    return shared
