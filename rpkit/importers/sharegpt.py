"""Reading ShareGPT JSON: ``[{"id": ..., "conversations": [{"from": ..., "value": ...}]}]``.

The format of many chat datasets (FastChat, Vicuna, ...). It has no dates and
no branches: each conversation becomes a chat of turns between you and one bot,
"Assistant". ``from`` is ``human``/``user`` for you, ``gpt``/``assistant``/
``chatgpt``/``bing``/``bard``/``model`` for the bot; ``system`` messages (and a
conversation-level ``"system"`` prompt) and tool messages become hidden turns.
A ``.jsonl`` file with one conversation per line is read too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .containers import BadRecord, is_container, records
from .format import Format, is_foreign
from .plan import (
    Chat,
    Parsed,
    Problems,
    Turn,
    decode,
    fill_dates,
    load_document,
    refuse,
    wrong_format,
)

NAME = "sharegpt"
BOT = "Assistant"
USER_ROLES = {"human", "user"}
BOT_ROLES = {"gpt", "assistant", "chatgpt", "bing", "bard", "model", "bot"}
SYSTEM_ROLES = {"system"}
TOOL_ROLES = {"tool", "function", "function_call", "function_response", "observation"}
ROLES = USER_ROLES | BOT_ROLES | SYSTEM_ROLES | TOOL_ROLES


def _message(
    i: int, j: int, msg: Any, at: str, file: str, parsed: Parsed, problems: Problems
) -> Turn | None:
    """One message as a turn; None (listed, or counted as skipped) when it cannot be one."""
    if not isinstance(msg, dict):
        problems.bad(file, at, f"a message must be an object, not {type(msg).__name__}")
        return None
    role, value = msg.get("from"), msg.get("value")
    if not isinstance(role, str) or role.lower() not in ROLES:
        problems.bad(
            file,
            at,
            f"unknown 'from' {role!r}; expected human/user, gpt/assistant, system or tool",
        )
        return None
    if not isinstance(value, str):
        problems.bad(file, at, f"'value' must be a string, not {type(value).__name__}")
        return None
    role = role.lower()
    if not value.strip():
        parsed.skip("empty message")
        return None
    is_user = role in USER_ROLES | SYSTEM_ROLES
    extra = {} if role in USER_ROLES | BOT_ROLES else {"role": role}
    if role not in {"human", "gpt"}:
        extra["from"] = role
    return Turn(
        ref=f"{i}/{j}",
        role="user" if is_user else "bot",
        text=value,
        speaker=None if is_user else BOT,
        hidden=role in SYSTEM_ROLES | TOOL_ROLES,
        extra=extra,
    )


def _conversation(
    i: int, conv: Any, file: str, now: datetime, parsed: Parsed, problems: Problems
) -> Chat | None:
    where = f"conversation {i}"
    if not isinstance(conv, dict) or not isinstance(conv.get("conversations"), list):
        what = "no 'conversations' list" if isinstance(conv, dict) else type(conv).__name__
        problems.bad(file, where, f"not a ShareGPT conversation ({what})")
        return None
    conv_id = conv.get("id")
    if conv_id is not None:
        where = f"conversation {i} (id {conv_id!r})"
    turns: list[Turn] = []
    system = conv.get("system")
    if isinstance(system, str) and system.strip():
        turns.append(
            Turn(ref=f"{i}/system", role="user", text=system, hidden=True, extra={"role": "system"})
        )
    for j, msg in enumerate(conv["conversations"]):
        turn = _message(i, j, msg, f"{where}, message {j}", file, parsed, problems)
        if turn is not None:
            turns.append(turn)
    first = next((t.text for t in turns if t.role == "user" and not t.hidden), "")
    snippet = " ".join(first.split())
    snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
    title = (
        f"{conv_id}: {snippet}"
        if conv_id is not None and snippet
        else (str(conv_id) if conv_id is not None else snippet or f"conversation {i}")
    )
    chat = Chat(
        file=file,
        ref=str(i),
        title=title,
        bots=[BOT],
        user_name=None,
        created=None,
        turns=turns,
        extra={"conversation_id": str(conv_id)} if conv_id else {},
    )
    fill_dates(chat, _Quiet(), now)
    return chat


class _Quiet:
    """ShareGPT has no dates at all: one warning for the file, not one per conversation."""

    def warn(self, what: str, where: str) -> None:
        pass


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a ShareGPT ``.json`` (a list of conversations) or ``.jsonl`` into a plan."""
    if path.is_dir() and not is_container(path):
        raise refuse(path.name, "is a folder; pass the ShareGPT .json or .jsonl file in it")
    if not path.exists():
        raise refuse(str(path), "no such file")
    file = path.name
    parsed = Parsed(format=NAME, files=[file])
    problems = Problems(parsed, skip_bad)
    if is_container(path):  # Parquet, or compressed JSON (lines)
        data = []
        for where, obj in records(path):
            if isinstance(obj, BadRecord):
                problems.bad(file, where, obj.reason)
            else:
                data.append(obj)
    elif path.suffix.lower() == ".jsonl":
        data: list[Any] = []
        text = decode(path.read_bytes(), file)
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data.append(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.bad(file, f"line {n}", f"not JSON ({exc.msg} at column {exc.colno})")
    else:
        data = load_document(path.read_bytes(), file, NAME)
        if isinstance(data, dict) and "conversations" in data:
            data = [data]
        if not isinstance(data, list):
            if is_foreign(data, NAME):
                raise wrong_format(file, NAME, data)
            raise refuse(file, f"expected a list of conversations, got a {type(data).__name__}")
    if data and not any(isinstance(c, dict) and "conversations" in c for c in data):
        raise wrong_format(file, NAME, data)
    now = datetime.now(UTC)
    for i, conv in enumerate(data):
        chat = _conversation(i, conv, file, now, parsed, problems)
        if chat is not None:
            parsed.chats.append(chat)
    if parsed.chats:
        parsed.notes.warn(
            "ShareGPT has no dates: every turn is stamped with the time of the import", file
        )
    return parsed


def _looks(record: dict[str, Any]) -> bool:
    return "conversations" in record


FORMAT = Format(
    name=NAME,
    title="ShareGPT",
    help="a ShareGPT dataset (.json or .jsonl)",
    read=read,
    looks=_looks,
    telltales=frozenset({"conversations", "from", "value", "id", "system"}),  # fmt: skip
    example='[{"id": "1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}]',
)
