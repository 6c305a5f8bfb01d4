"""Reading ChatGPT exports: ``conversations.json`` (a list) or one conversation object.

A conversation is a tree: ``mapping`` holds nodes (``message``, ``parent``,
``children``) and the path from the root to ``current_node`` is the transcript
the user last saw. Every other branch (an edited question, a regenerated
answer, and whatever followed them) is imported too, retired by the sibling on
the path. Nodes without a message and empty system messages are skipped;
non-empty system messages, tool output and tool calls become hidden turns;
``multimodal_text`` parts are reduced to their text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .format import Format
from .plan import (
    Chat,
    Parsed,
    Problems,
    Turn,
    fill_dates,
    parse_date,
    read_conversations,
)

NAME = "chatgpt"
BOT = "ChatGPT"
ROLES = {"user", "assistant", "system", "tool"}


class _BadTree(Exception):
    """The conversation's tree is broken; the message says where."""


def _text(content: Any, notes, where: str) -> str:
    """The readable text of a message's ``content``."""
    if not isinstance(content, dict):
        raise ValueError(f"content must be an object, not {type(content).__name__}")
    ctype = content.get("content_type")
    parts = content.get("parts")
    if parts is not None:
        if not isinstance(parts, list):
            raise ValueError(f"content.parts must be a list, not {type(parts).__name__}")
        texts, dropped = [], 0
        for part in parts:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part is not None:
                dropped += 1
        if dropped:
            notes.warn("image or file parts dropped (only text is imported)", where)
        return "\n".join(t for t in texts if t)
    for key in ("text", "result", "content"):
        if isinstance(content.get(key), str):
            return content[key]
    if ctype == "thoughts" and isinstance(content.get("thoughts"), list):
        return "\n".join(t.get("content", "") for t in content["thoughts"] if isinstance(t, dict))
    if ctype == "user_editable_context":
        return "\n".join(
            content[k]
            for k in ("user_profile", "user_instructions")
            if isinstance(content.get(k), str)
        )
    notes.warn(f"content type {ctype!r} has no text; the message was skipped", where)
    return ""


def _turn(
    node_id: str, message: Any, conv_time, parsed: Parsed, problems: Problems, file: str
) -> Turn | None:
    """The turn of one node, or None (no message, empty, or a bad record skipped)."""
    where = f"node {node_id}"
    if message is None:
        parsed.skip("node without a message")
        return None
    if not isinstance(message, dict):
        problems.bad(file, where, f"message must be an object, not {type(message).__name__}")
        return None
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if role not in ROLES:
        problems.bad(
            file, where, f"unknown author role {role!r}; expected one of {', '.join(sorted(ROLES))}"
        )
        return None
    try:
        text = _text(message.get("content"), parsed.notes, f"{file} {where}")
    except ValueError as exc:
        problems.bad(file, where, str(exc))
        return None
    if not text.strip():
        parsed.skip(f"empty {role} message")
        return None
    try:
        ts = parse_date(message.get("create_time"), unit="s")
    except ValueError:
        parsed.notes.warn(
            "unrecognised create_time, took the date of the message before", f"{file} {where}"
        )
        ts = None
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    recipient = message.get("recipient")
    hidden = (
        role in {"system", "tool"}
        or bool(metadata.get("is_visually_hidden_from_conversation"))
        or (role == "assistant" and recipient not in (None, "all"))
    )
    extra: dict[str, Any] = {}
    if role in {"system", "tool"}:
        extra["role"] = role
    if isinstance(metadata.get("model_slug"), str):
        extra["model"] = metadata["model_slug"]
    return Turn(
        ref=node_id,
        role="user" if role in {"user", "system"} else "bot",
        text=text,
        speaker=None if role in {"user", "system"} else BOT,
        ts=ts or conv_time,
        hidden=hidden,
        extra=extra,
    )


def _check_tree(mapping: dict) -> dict[str, list[str]]:
    """Children per node, after checking that the nodes form a forest."""
    children: dict[str, list[str]] = {}
    for node_id, node in mapping.items():
        if not isinstance(node, dict):
            raise _BadTree(f"node {node_id} is not an object")
        kids = node.get("children", [])
        if not isinstance(kids, list) or not all(isinstance(k, str) for k in kids):
            raise _BadTree(f"node {node_id}: children must be a list of node ids")
        for kid in kids:
            if kid not in mapping:
                raise _BadTree(f"node {node_id} lists child {kid}, which is not in the mapping")
            parent = mapping[kid].get("parent") if isinstance(mapping[kid], dict) else None
            if parent != node_id:
                raise _BadTree(f"node {kid} is a child of {node_id} but names {parent!r} as parent")
        parent = node.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise _BadTree(f"node {node_id}: parent must be a node id, not {parent!r}")
        if parent is not None and parent not in mapping:
            raise _BadTree(f"node {node_id} names parent {parent}, which is not in the mapping")
        children[node_id] = list(kids)
    for node_id, node in mapping.items():
        parent = node.get("parent")
        if parent is not None and node_id not in children[parent]:
            children[parent].append(node_id)  # a link only the child records: keep it
    return children


def _path(
    mapping: dict, children: dict[str, list[str]], current: str | None, notes, file: str, conv: str
) -> list[str]:
    """Node ids from the root to ``current`` (or along the newest children if none)."""
    if current is None:
        roots = [n for n, node in mapping.items() if node.get("parent") is None]
        if not roots:
            raise _BadTree("no root node (every node has a parent)")
        node, path = roots[0], [roots[0]]
        while children[node]:
            node = children[node][-1]
            path.append(node)
        notes.warn("no current_node; followed the newest branch", f"{file} {conv}")
        return path
    if current not in mapping:
        raise _BadTree(f"current_node {current} is not in the mapping")
    path, seen, node = [], set(), current
    while node is not None:
        if node in seen:
            raise _BadTree(f"the parents of node {current} go round in a cycle at {node}")
        seen.add(node)
        path.append(node)
        node = mapping[node].get("parent")
    return path[::-1]


def _branches(
    mapping: dict[str, Any], children: dict[str, list[str]], path: list[str]
) -> dict[str, list[str]]:
    """The nodes off the path, keyed by the path node that retires them ("": none does)."""

    def subtree(root: str, seen: set[str]) -> list[str]:
        order, stack = [], [root]
        while stack:
            node = stack.pop()
            if node in seen:
                raise _BadTree(f"node {node} is reached twice (the tree has a cycle)")
            seen.add(node)
            order.append(node)
            stack.extend(reversed(children[node]))
        return order

    seen: set[str] = set(path)
    branches: dict[str, list[str]] = {}
    for k, node in enumerate(path):
        nxt = path[k + 1] if k + 1 < len(path) else None
        for kid in children[node]:
            if kid != nxt:
                branches.setdefault(nxt or "", []).extend(subtree(kid, seen))
    roots = [n for n, node in mapping.items() if node.get("parent") is None and n != path[0]]
    for root in roots:
        branches.setdefault(path[0], [])[:0] = subtree(root, seen)
    return branches


def _conversation(i: int, conv: Any, file: str, parsed: Parsed, problems: Problems) -> Chat | None:
    if not isinstance(conv, dict) or not isinstance(conv.get("mapping"), dict):
        what = "no 'mapping' object" if isinstance(conv, dict) else type(conv).__name__
        problems.bad(file, f"conversation {i}", f"not a ChatGPT conversation ({what})")
        return None
    conv_id = conv.get("id") or conv.get("conversation_id") or f"#{i}"
    label = f"conversation {conv_id}"
    mapping = conv["mapping"]
    notes = parsed.notes
    try:
        conv_time = parse_date(conv.get("create_time"), unit="s")
    except ValueError:
        conv_time = None
    current = conv.get("current_node")
    try:
        if current is not None and not isinstance(current, str):
            raise _BadTree(f"current_node must be a node id, not {current!r}")
        children = _check_tree(mapping)
        path = _path(mapping, children, current, notes, file, label)
        branches = _branches(mapping, children, path)
    except _BadTree as exc:
        problems.bad(file, label, str(exc))
        return None

    def turn_of(node: str) -> Turn | None:
        return _turn(node, mapping[node].get("message"), conv_time, parsed, problems, file)

    turns: list[Turn] = []
    pending: list[Turn] = []
    for node in path:
        pending.extend(t for n in branches.get(node, []) if (t := turn_of(n)) is not None)
        turn = turn_of(node)
        if turn is None:
            continue
        turn.alternatives, pending = pending, []
        turns.append(turn)
    leftovers = pending + [t for n in branches.get("", []) if (t := turn_of(n)) is not None]
    if leftovers:
        notes.warn("messages past current_node imported as hidden turns", f"{file} {label}")
        for t in leftovers:
            t.hidden = True
        turns.extend(leftovers)
    title = conv.get("title") if isinstance(conv.get("title"), str) and conv["title"] else None
    chat = Chat(
        file=file,
        ref=str(conv_id),
        title=title or "Untitled conversation",
        bots=[BOT],
        user_name=None,
        created=conv_time,
        turns=turns,
        extra={"conversation_id": str(conv_id)},
    )
    fill_dates(chat, notes, datetime.now(UTC))
    return chat


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a ChatGPT ``conversations.json`` or a single conversation into a plan."""
    return read_conversations(path, NAME, "mapping", _conversation, skip_bad=skip_bad)


def _looks(record: dict[str, Any]) -> bool:
    return "mapping" in record


FORMAT = Format(
    name=NAME,
    title="ChatGPT",
    help="a ChatGPT conversations.json (or one conversation)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {
            "mapping",
            "current_node",
            "title",
            "create_time",
            "update_time",
            "conversation_id",
            "message",
            "author",
            "parts",
        }
    ),  # fmt: skip
    example='[{"title": "Trip", "mapping": {"a": {"message": {"author": {"role": "user"}}}}, "current_node": "a"}]',
    revision="sibling",
    export_file="conversations.json",
)
