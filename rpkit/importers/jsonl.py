"""Reading JSON-lines conversation datasets: one ``{"messages": [{"role", "content"}]}`` a line.

The shape of OpenAI fine-tuning sets and of public datasets of a million
conversations. Each line is a chat between you and one bot, "Assistant".
``content`` is a string or a list of parts (strings or ``{"type": "text",
"text": ...}``; images and other parts are left out, with a warning).
``system``/``developer`` messages and ``tool``/``function`` messages become
hidden turns, as do assistant messages that only call tools. A line's optional
``id``, ``timestamp`` and ``model`` are kept (``model`` in the chat and on the
bot's turns); a line without a ``timestamp`` is stamped with the time of the
import, with one warning for the file.

The file is streamed: it is read once to check it (nothing kept but counts and
warnings), then again while writing, so a 1 GB file never sits in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .containers import BadRecord, is_container, records
from .format import Format, is_foreign
from .plan import (
    Chat,
    Notes,
    Parsed,
    Problems,
    Turn,
    fill_dates,
    parse_date,
    refuse,
    wrong_format,
)

NAME = "jsonl"
BOT = "Assistant"
USER, BOT_ROLE = {"user", "human"}, {"assistant", "model", "gpt"}
SYSTEM, TOOL = {"system", "developer"}, {"tool", "function", "ipython"}
ROLES = USER | BOT_ROLE | SYSTEM | TOOL
TEXT_PARTS = {"text", "input_text", "output_text"}
MAX_DOCUMENT = 64_000_000  # bytes: a bigger file that is not JSON lines is not parsed whole


def content_text(content: Any, notes: Notes, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ValueError(f"content must be a string or a list of parts, not {content!r}")
    texts, dropped = [], 0
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and str(part.get("type", "text")) in TEXT_PARTS:
            if not isinstance(part.get("text"), str):
                raise ValueError(f"a text part must have a string 'text', not {part!r}")
            texts.append(part["text"])
        else:
            dropped += 1
    if dropped:
        notes.warn("image and other non-text parts left out (only text is imported)", where)
    return "\n".join(t for t in texts if t)


def _tool_calls(msg: dict) -> list[str]:
    calls = msg.get("tool_calls") or ([msg["function_call"]] if msg.get("function_call") else [])
    if not isinstance(calls, list):
        return ["?"]
    names = []
    for call in calls:
        fn = call.get("function", call) if isinstance(call, dict) else None
        names.append(str(fn.get("name") or "?") if isinstance(fn, dict) else "?")
    return names


def _turn(n: int, j: int, msg: Any, model: Any, file: str, parsed: Parsed, problems: Problems):
    where = f"line {n}, message {j}"
    if not isinstance(msg, dict):
        problems.bad(file, where, f"a message must be an object, not {type(msg).__name__}")
        return None
    role = msg.get("role")
    if not isinstance(role, str) or role.lower() not in ROLES:
        problems.bad(
            file, where, f"unknown role {role!r}; expected user, assistant, system or tool"
        )
        return None
    role = role.lower()
    try:
        text = content_text(msg.get("content"), parsed.notes, f"{file} {where}")
    except ValueError as exc:
        problems.bad(file, where, str(exc))
        return None
    calls = _tool_calls(msg) if role in BOT_ROLE else []
    if not text.strip() and not calls:
        parsed.skip("empty message")
        return None
    is_user = role in USER | SYSTEM
    extra: dict[str, Any] = {} if role in USER | BOT_ROLE else {"role": role}
    if calls:
        extra["tool_calls"] = calls
    if isinstance(msg.get("name"), str) and msg["name"]:
        extra["name"] = msg["name"]
    if not is_user and isinstance(model, str) and model:
        extra["model"] = model
    return Turn(
        ref=f"{n}/{j}",
        role="user" if is_user else "bot",
        text=text,
        speaker=None if is_user else BOT,
        hidden=role in SYSTEM | TOOL or (bool(calls) and not text.strip()),
        extra=extra,
    )


def _title(conv_id: object, turns: list[Turn], n: int) -> str:
    first = next((t.text for t in turns if t.role == "user" and not t.hidden), "")
    snippet = " ".join(first.split())
    snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
    if conv_id is not None and snippet:
        return f"{conv_id}: {snippet}"
    return str(conv_id) if conv_id is not None else snippet or f"line {n}"


def conversation(
    n: int, obj: Any, file: str, now: datetime, parsed: Parsed, problems: Problems
) -> Chat | None:
    """The chat of line ``n`` (None when the line is skipped)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        what = "no 'messages' list" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        problems.bad(file, f"line {n}", f"not a conversation ({what})")
        return None
    conv_id = obj.get("id")
    conv_id = conv_id if isinstance(conv_id, str | int) and not isinstance(conv_id, bool) else None
    model = obj.get("model")
    turns = [
        t
        for j, m in enumerate(obj["messages"])
        if (t := _turn(n, j, m, model, file, parsed, problems)) is not None
    ]
    try:
        created = parse_date(obj.get("timestamp"))
    except ValueError:
        parsed.notes.warn("unrecognised timestamp, stamped with the time of the import", file)
        created = None
    if created is None:
        parsed.notes.warn(
            "lines without a timestamp: their turns are stamped with the time of the import", file
        )
    extra: dict[str, Any] = {}
    if conv_id is not None:
        extra["conversation_id"] = str(conv_id)
    if isinstance(model, str) and model:
        extra["model"] = model
    chat = Chat(
        file=file,
        ref=str(n),
        title=_title(conv_id, turns, n),
        bots=[BOT],
        user_name=None,
        created=created,
        turns=turns,
        extra=extra,
    )
    fill_dates(chat, _Quiet(), now)
    return chat


class _Quiet(Notes):
    def warn(self, what: str, where: str) -> None:
        pass


def _objects(path: Path, file: str, problems: Problems) -> Iterator[tuple[int, Any]]:
    """(line number, JSON value) of every non-blank line, read one line at a time.

    A Parquet file (or folder of them), or a compressed file, is read through
    ``containers`` (a row or list item counts as a line).
    """
    if is_container(path):
        for n, (where, obj) in enumerate(records(path), start=1):
            if isinstance(obj, BadRecord):
                problems.bad(file, where, obj.reason)
            else:
                yield n, obj
        return
    seen = False
    with path.open("rb") as handle:
        for n, raw in enumerate(handle, start=1):
            if n == 1 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise refuse(file, "the file is UTF-16 text; re-save it as UTF-8 and import again")
            if not raw.strip():
                continue
            seen, was_first = True, not seen
            try:
                text = raw.decode("utf-8-sig" if was_first else "utf-8")
            except UnicodeDecodeError:
                problems.bad(file, f"line {n}", "not UTF-8 text; re-save the file as UTF-8")
                continue
            try:
                yield n, json.loads(text)
            except json.JSONDecodeError as exc:
                if was_first:
                    _not_lines(path, file)
                cut = not raw.endswith(b"\n") and exc.pos >= len(text.rstrip()) - 1
                why = "the line is cut off (the file looks truncated)" if cut else "not JSON"
                problems.bad(file, f"line {n}", f"{why} ({exc.msg} at column {exc.colno})")


def _not_lines(path: Path, file: str) -> None:
    """Refuse a whole JSON document (naming its format if it has one) instead of line 1."""
    if path.stat().st_size > MAX_DOCUMENT:
        return
    try:
        whole = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return
    if is_foreign(whole, NAME):
        raise wrong_format(file, NAME, whole)
    raise refuse(
        file,
        "this is one JSON document, not JSON lines (one conversation a line); write one "
        "conversation per line (for a list: jq -c '.[]' FILE > FILE.jsonl) and import that",
    )


@dataclass
class Stream(Parsed):
    """A plan whose chats are read from the file each time they are iterated."""

    path: Path = field(default_factory=Path)
    count: int = 0  # records (turns and alternatives), counted by the checking pass

    def iter_chats(self, parsed: Parsed, problems: Problems) -> Iterator[Chat]:
        """Read the file's chats one line at a time, noting problems in ``parsed``."""
        now = datetime.now(UTC)
        first = True
        for n, obj in _objects(self.path, self.files[0], problems):
            if first and is_foreign(obj, NAME):
                raise wrong_format(self.files[0], NAME, obj)
            first = False
            chat = conversation(n, obj, self.files[0], now, parsed, problems)
            if chat is not None:
                yield chat

    def records(self) -> int:
        """How many records the checking pass counted (for the progress bar)."""
        return self.count


class _Chats:
    """Iterating gives the chats again, quietly: the checking pass said everything once."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[Chat]:
        scratch = Parsed(format=NAME, files=self.stream.files)
        return self.stream.iter_chats(scratch, Problems(scratch, skip_bad=True))


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Check a JSON-lines dataset in one streamed pass; the plan streams it again."""
    if path.is_dir() and not is_container(path):
        raise refuse(path.name, "is a folder; pass the .jsonl file in it")
    if not path.exists():
        raise refuse(str(path), "no such file")
    stream = Stream(format=NAME, files=[path.name], path=path)
    problems = Problems(stream, skip_bad)
    for chat in stream.iter_chats(stream, problems):
        stream.count += sum(1 + len(t.alternatives) for t in chat.turns)
    if stream.count == 0 and not stream.bad_records and path.is_file() and path.stat().st_size == 0:
        raise refuse(path.name, "the file is empty; is it a JSON-lines dataset?")
    stream.chats = _Chats(stream)  # type: ignore[assignment]
    return stream


def _looks(record: dict[str, Any]) -> bool:
    messages = record.get("messages")
    if not isinstance(messages, list):
        return False
    first = next((m for m in messages if isinstance(m, dict)), {})
    return "role" in first or "content" in first


FORMAT = Format(
    name=NAME,
    title="JSON-lines (OpenAI messages)",
    help="a JSON-lines dataset of {messages: [{role, content}]} conversations",
    read=read,
    looks=_looks,
    telltales=frozenset({"messages", "role", "content", "id", "timestamp", "model"}),  # fmt: skip
    example='{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}',
    streams=True,
)
