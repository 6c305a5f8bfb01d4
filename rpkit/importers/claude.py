"""Reading Claude.ai exports: ``conversations.json`` from Claude's data export.

A conversation has ``uuid``, ``name``, ``created_at`` and ``chat_messages``, each
with ``sender`` (``human`` or ``assistant``), ``created_at`` and ``content``
blocks. The text of a turn is its ``text`` blocks; ``thinking`` blocks go to the
payload (``thinking``), not the transcript; tool calls and their results are
named in the payload (``tools``); attachments and files are listed in the
payload by name, type and size. Older exports have only the flat ``text``
field, which is used when there are no blocks. When messages name their
``parent_message_uuid`` and a message has several children (an edited question,
a retried answer), the newest message's line is the transcript and the other
branches are retired by the sibling on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .format import Format
from .plan import (
    Chat,
    Notes,
    Parsed,
    Problems,
    Turn,
    fill_dates,
    parse_date,
    read_conversations,
)

NAME = "claude"
BOT = "Claude"
SENDERS = {"human": "user", "user": "user", "assistant": "bot"}


def _blocks(content: list, extra: dict[str, Any], notes: Notes, where: str) -> str | None:
    """The text of ``content`` blocks; thinking and tool use go into ``extra``."""
    texts, thinking, tools = [], [], []
    for block in content:
        if not isinstance(block, dict):
            raise ValueError(f"a content block must be an object, not {type(block).__name__}")
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking.append(block["thinking"])
        elif kind in ("tool_use", "tool_result"):
            tools.append({"type": kind, "name": str(block.get("name") or "")})
        else:
            notes.warn(f"content blocks of type {kind!r} have no text; left out", where)
    if thinking:
        extra["thinking"] = "\n\n".join(thinking)
    if tools:
        extra["tools"] = tools
    return "".join(texts) if texts or thinking or tools else None


def _files(message: dict, extra: dict[str, Any]) -> None:
    """Note the message's attachments and files (names, types, sizes) in ``extra``."""
    for key in ("attachments", "files"):
        items = message.get(key)
        if not isinstance(items, list) or not items:
            continue
        noted = []
        for item in items:
            if isinstance(item, dict):
                noted.append(
                    {
                        k: item[k]
                        for k in ("file_name", "file_type", "file_size", "file_kind", "file_uuid")
                        if isinstance(item.get(k), str | int) and not isinstance(item[k], bool)
                    }
                )
            elif isinstance(item, str):
                noted.append({"file_name": item})
        if noted:
            extra[key] = noted


def _turn(message: Any, k: int, file: str, parsed: Parsed, problems: Problems, where: str):
    """(uuid, parent uuid, turn) of one message, or None when skipped."""
    at = f"{where}, message {k}"
    if not isinstance(message, dict):
        problems.bad(file, at, f"a message must be an object, not {type(message).__name__}")
        return None
    sender = message.get("sender")
    if not isinstance(sender, str) or sender not in SENDERS:
        problems.bad(file, at, f"unknown sender {sender!r}; expected human or assistant")
        return None
    extra: dict[str, Any] = {}
    content = message.get("content")
    try:
        if content is not None and not isinstance(content, list):
            raise ValueError(f"content must be a list of blocks, not {type(content).__name__}")
        text = _blocks(content or [], extra, parsed.notes, f"{file} {at}")
    except ValueError as exc:
        problems.bad(file, at, str(exc))
        return None
    if text is None:
        flat = message.get("text")
        text = flat if isinstance(flat, str) else ""
    _files(message, extra)
    if not text.strip() and not extra:
        parsed.skip("empty message")
        return None
    try:
        ts = parse_date(message.get("created_at"))
    except ValueError:
        parsed.notes.warn("unrecognised created_at, took the date of the message before", at)
        ts = None
    uuid = message.get("uuid")
    ref = uuid if isinstance(uuid, str) and uuid else str(k)
    parent = message.get("parent_message_uuid")
    role = SENDERS[sender]
    turn = Turn(ref=ref, role=role, text=text, speaker=BOT if role == "bot" else None, ts=ts)
    turn.extra = extra
    return ref, parent if isinstance(parent, str) else None, turn


def _arrange(nodes: list[tuple[str, str | None, Turn]], notes: Notes, where: str) -> list[Turn]:
    """Turns in transcript order; branches off the newest line become alternatives."""
    by_ref = {ref: (parent, turn) for ref, parent, turn in nodes}
    if not any(p in by_ref for _, p, _ in nodes):
        return [t for _, _, t in nodes]  # a flat list: the export's order is the transcript
    path, seen, ref = [], set(), nodes[-1][0]
    while ref in by_ref and ref not in seen:
        seen.add(ref)
        path.append(ref)
        ref = by_ref[ref][0]
    path.reverse()
    on_path = set(path)

    def retirer(ref: str) -> str | None:
        """The path message that retires ``ref``: the path child of its last path ancestor."""
        child, hops = ref, 0
        while hops <= len(nodes):
            parent = by_ref[child][0]
            if parent not in by_ref or parent in on_path:
                if parent in on_path:
                    k = path.index(parent) + 1
                    return path[k] if k < len(path) else None
                return path[0]
            child, hops = parent, hops + 1
        return None

    pending: dict[str, list[Turn]] = {}
    leftovers = []
    for ref, _, turn in nodes:
        if ref not in on_path:
            target = retirer(ref)
            if target is None:
                turn.hidden = True
                leftovers.append(turn)
            else:
                pending.setdefault(target, []).append(turn)
    if leftovers:
        notes.warn("messages after the newest one imported as hidden turns", where)
    turns = []
    for ref in path:
        turn = by_ref[ref][1]
        turn.alternatives = pending.get(ref, [])
        turns.append(turn)
    return turns + leftovers


def _conversation(i: int, conv: Any, file: str, parsed: Parsed, problems: Problems) -> Chat | None:
    if not isinstance(conv, dict) or not isinstance(conv.get("chat_messages"), list):
        what = "no 'chat_messages' list" if isinstance(conv, dict) else type(conv).__name__
        problems.bad(file, f"conversation {i}", f"not a Claude conversation ({what})")
        return None
    uuid = conv.get("uuid")
    ref = uuid if isinstance(uuid, str) and uuid else f"#{i}"
    where = f"conversation {ref}"
    nodes, refs = [], set()
    for k, message in enumerate(conv["chat_messages"]):
        node = _turn(message, k, file, parsed, problems, where)
        if node is not None:
            if node[0] in refs:  # a uuid twice: keep both, each with a ref of its own
                node[2].ref = f"{node[0]}#{k}"
                node = (node[2].ref, node[1], node[2])
            refs.add(node[0])
            nodes.append(node)
    try:
        created = parse_date(conv.get("created_at"))
    except ValueError:
        created = None
    name = conv.get("name")
    chat = Chat(
        file=file,
        ref=ref,
        title=name if isinstance(name, str) and name.strip() else "Untitled conversation",
        bots=[BOT],
        user_name=None,
        created=created,
        turns=_arrange(nodes, parsed.notes, f"{file} {where}"),
        extra={"conversation_id": ref},
    )
    if isinstance(conv.get("summary"), str) and conv["summary"].strip():
        chat.extra["summary"] = conv["summary"]
    fill_dates(chat, parsed.notes, datetime.now(UTC))
    return chat


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a Claude.ai ``conversations.json`` (or its unpacked export folder) into a plan."""
    return read_conversations(path, NAME, "chat_messages", _conversation, skip_bad=skip_bad)


def _looks(record: dict[str, Any]) -> bool:
    return "chat_messages" in record


FORMAT = Format(
    name=NAME,
    title="Claude.ai",
    help="a Claude.ai conversations.json",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"chat_messages", "uuid", "name", "created_at", "sender", "content", "text"}
    ),  # fmt: skip
    example='[{"uuid": "c1", "name": "Trip", "chat_messages": [{"sender": "human", "text": "Hi"}]}]',
    revision="sibling",
    export_file="conversations.json",
)
