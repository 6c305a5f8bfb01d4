"""Reading Agnaistic chat exports: ``{"name", "greeting", "scenario", "messages": [...]}``.

Agnaistic exports the chat's current line of messages. A message has ``msg``
(its text) and, in the shapes Agnaistic has written over time, ``characterId``
(``"imported"`` for the chat's main character, an id for the others),
``userId``, ``handle``, ``name``, ``ooc``, ``retries`` (other answers),
``createdAt``. The user is the message with a ``userId``, or without a
``characterId``; a character is named by the message's ``name`` or ``handle``,
else by another message of the same ``characterId`` that names it. ``retries``
become alternatives retired by the message shown. Out-of-character (``ooc``)
messages stay visible, marked in their payload. Older exports have no dates:
their turns are stamped with the time of the import, with one warning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .format import Format, is_foreign, looks_like
from .plan import (
    Chat,
    Notes,
    Parsed,
    Problems,
    Turn,
    fill_dates,
    load_document,
    parse_date,
    refuse,
    wrong_format,
)

NAME = "agnai"
MAIN = "imported"  # Agnaistic's characterId for the chat's own character


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _is_user(msg: dict, users: frozenset[str] = frozenset()) -> bool:
    if users and any(
        isinstance(msg.get(k), str) and msg[k] in users for k in ("name", "handle", "characterId")
    ):
        return True
    return bool(msg.get("userId")) or not msg.get("characterId")


def _users(messages: list, user: str | None) -> frozenset[str]:
    """``user`` and the characterIds of the messages it names."""
    if user is None:
        return frozenset()
    ids = {
        m["characterId"]
        for m in messages
        if isinstance(m, dict)
        and user in (m.get("name"), m.get("handle"))
        and isinstance(m.get("characterId"), str)
    }
    return frozenset({user, *ids})


def _names(messages: list, user: frozenset[str]) -> dict[str, str]:
    """A name for every characterId that some message names."""
    names: dict[str, str] = {}
    for msg in messages:
        if (
            isinstance(msg, dict)
            and not _is_user(msg, user)
            and isinstance(msg["characterId"], str)
        ):
            name = _text(msg.get("name")) or _text(msg.get("handle"))
            if name:
                names.setdefault(msg["characterId"], name)
    return names


def _speaker(msg: dict, names: dict[str, str], notes: Notes, file: str) -> str:
    name = _text(msg.get("name")) or _text(msg.get("handle"))
    if name:
        return name
    char = msg.get("characterId")
    key = char if isinstance(char, str) else repr(char)
    if key in names:
        return names[key]
    unnamed = names[key] = "Character" if key == MAIN else f"Character {key[-8:]}"
    notes.warn(
        f"characterId {key!r} is never named in the export: its messages are {unnamed!r}", file
    )
    return unnamed


def _retries(msg: dict, ref: str, text: str, turn: Turn, file: str, problems: Problems) -> bool:
    retries = msg.get("retries")
    if retries is None:
        return True
    if not isinstance(retries, list) or not all(isinstance(r, str) for r in retries):
        problems.bad(file, f"message {ref}", "'retries' must be a list of texts")
        return False
    for k, other in enumerate(r for r in retries if r != text and r.strip()):
        turn.alternatives.append(
            Turn(
                ref=f"{ref}/retry{k}",
                role=turn.role,
                text=other,
                speaker=turn.speaker,
                ts=turn.ts,
                extra={**turn.extra, "retry": k},
            )
        )
    return True


def _message(
    k: int,
    msg: Any,
    names: dict[str, str],
    user_is: str | None,
    file: str,
    parsed: Parsed,
    problems: Problems,
) -> Turn | None:
    where = f"message {k}"
    if not isinstance(msg, dict):
        problems.bad(file, where, f"a message must be an object, not {type(msg).__name__}")
        return None
    text = msg.get("msg")
    if not isinstance(text, str):
        problems.bad(file, where, f"'msg' (the text) must be a string, not {text!r}")
        return None
    if not text.strip():
        parsed.skip("empty message")
        return None
    user = _is_user(msg, user_is)
    extra: dict[str, Any] = {}
    name = _text(msg.get("name")) or _text(msg.get("handle"))
    if user and name:
        extra["name"] = name
    if msg.get("ooc") is True:
        extra["ooc"] = True
    if not user and isinstance(msg.get("characterId"), str):
        extra["character_id"] = msg["characterId"]
    try:
        ts = parse_date(msg.get("createdAt"))
    except ValueError:
        parsed.notes.warn(
            "unrecognised createdAt, took the date of the message before", f"{file} {where}"
        )
        ts = None
    turn = Turn(
        ref=str(k),
        role="user" if user else "bot",
        text=text,
        speaker=None if user else _speaker(msg, names, parsed.notes, file),
        ts=ts,
        extra=extra,
    )
    return turn if _retries(msg, str(k), text, turn, file, problems) else None


def _chat(
    data: dict, file: str, path: Path, parsed: Parsed, problems: Problems, user: str | None
) -> Chat:
    messages = data["messages"]
    users = _users(messages, user)
    names = _names(messages, users)
    turns = [
        t
        for k, m in enumerate(messages)
        if (t := _message(k, m, names, users, file, parsed, problems))
    ]
    if turns and not any(t.role == "user" for t in turns):
        parsed.notes.warn(
            "no message has a userId or lacks a characterId, so the export names no user: "
            "every message is a character's, as Agnaistic shows them (in Python, "
            "import_agnai(..., user=NAME) takes the messages of that name or characterId "
            "for yours)",
            file,
        )
    user_name = next(
        (t.extra["name"] for t in turns if t.role == "user" and "name" in t.extra), None
    )
    for t in turns:
        if t.extra.get("name") == user_name:
            t.extra.pop("name", None)
    title = _text(data.get("name"))
    extra = {k: data[k] for k in ("scenario",) if _text(data.get(k))}
    undated = any(t.ts is None for t in turns)
    chat = Chat(
        file=file,
        ref="chat",
        title=title if title and title != "Exported" else path.stem,
        bots=list(dict.fromkeys(t.speaker for t in turns if t.speaker)),
        user_name=user_name,
        created=None,
        turns=turns,
        extra=extra,
    )
    fill_dates(chat, _Quiet(), datetime.now(UTC))
    if undated:
        parsed.notes.warn(
            "Agnaistic exports (before createdAt) have no dates: undated turns are stamped "
            "with the time of the import",
            file,
        )
    return chat


class _Quiet(Notes):
    """One warning for the undated file, said by ``_chat``, not one per chat."""

    def warn(self, what: str, where: str) -> None:
        pass


def read(path: Path, *, skip_bad: bool = False, user: str | None = None) -> Parsed:
    """Read an Agnaistic chat export (``.json``) into a plan.

    ``user`` names the messages that are yours (by ``name``, ``handle`` or
    ``characterId``) in an export that marks none as the user's.
    """
    if path.is_dir():
        raise refuse(path.name, "is a folder; pass the Agnaistic chat export (.json) in it")
    if not path.is_file():
        raise refuse(str(path), "no such file")
    file = path.name
    data = load_document(path.read_bytes(), file, NAME)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        if is_foreign(data, NAME):
            raise wrong_format(file, NAME, data)
        what = type(data).__name__ if not isinstance(data, dict) else "an object without one"
        raise refuse(
            file, f"not an Agnaistic chat export: expected {{'messages': [...]}}, got {what}"
        )
    if looks_like(data) == "jsonl":
        raise wrong_format(file, NAME, data)
    parsed = Parsed(format=NAME, files=[file])
    problems = Problems(parsed, skip_bad)
    parsed.chats.append(_chat(data, file, path, parsed, problems, user))
    return parsed


def _looks(record: dict[str, Any]) -> bool:
    messages = record.get("messages")
    if not isinstance(messages, list):
        return False
    first = next((m for m in messages if isinstance(m, dict)), {})
    return "role" not in first and "content" not in first


FORMAT = Format(
    name=NAME,
    title="Agnaistic",
    help="an Agnaistic chat export (.json)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"messages", "msg", "characterId", "userId", "handle", "greeting", "scenario"}
    ),  # fmt: skip
    example='{"name": "Rory", "messages": [{"msg": "Hi", "userId": "u1"}, {"msg": "Hello", "characterId": "imported"}]}',
    revision="retry",
)
