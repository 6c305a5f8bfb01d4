"""Reading SillyTavern chat files (``.jsonl``): one chat per file, a folder of them.

A chat file has one JSON object per line. The first line is a header
(``user_name``, ``character_name``, ``create_date``, ``chat_metadata``; TavernAI
rooms name ``character_names``) except in group chats, which start straight with
messages and take their title and members from the group's definition
(``sillytavern_groups``) when it is at hand. A message line has ``name``,
``is_user``, ``is_system``, ``send_date``, ``mes``, and for regenerated replies
``swipes`` (every version), ``swipe_id`` (the one shown) and ``swipe_info``
(their dates). Branch and checkpoint files (``chat_metadata.main_chat``)
become forks of their main chat (``rpkit.importers.forks``).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .forks import MAIN_CHAT
from .format import Format, is_foreign
from .plan import (
    Chat,
    Notes,
    Parsed,
    Problems,
    Turn,
    decode,
    fill_dates,
    refuse,
    wrong_format,
)
from .sillytavern_groups import GROUP_DEFINITION, Group, definition_refused, groups_in, groups_near
from .sillytavern_messages import date_of, message

NAME = "sillytavern"
LOOKS_KEYS = {"mes", "is_user", "user_name", "character_name", "character_names", "chat_metadata"}
HEADER_KEYS = {"user_name", "character_name", "character_names", "create_date", "chat_metadata"}


def _lines(data: bytes, file: str, problems: Problems) -> list[tuple[int, dict[str, Any]]]:
    """The file's JSON objects with their line numbers (from 1)."""
    out = []
    raw_lines = data.split(b"\n")
    for i, raw in enumerate(raw_lines):
        line = i + 1
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8-sig" if i == 0 else "utf-8")
        except UnicodeDecodeError:
            problems.bad(file, f"line {line}", "not UTF-8 text; re-save the file as UTF-8")
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            last = i == len(raw_lines) - 1 and not data.endswith(b"\n")
            why = (
                "the line is cut off (the file looks truncated)"
                if last and (exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated"))
                else f"not JSON ({exc.msg} at column {exc.colno})"
            )
            problems.bad(file, f"line {line}", why)
            continue
        if not isinstance(obj, dict):
            problems.bad(
                file, f"line {line}", f"a line must be a JSON object, not a {type(obj).__name__}"
            )
            continue
        out.append((line, obj))
    return out


def _title(stem: str, character: str | None, main_chat: str | None) -> str:
    title = stem if not character or character.lower() in stem.lower() else f"{character} - {stem}"
    return f"{title} (fork of {main_chat})" if main_chat else title


def _json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _sniff(data: bytes, file: str) -> None:
    """Refuse a JSON document or another app's JSON lines before reading line by line."""
    first = _json(data.lstrip().split(b"\n", 1)[0])
    if first is None or isinstance(first, list):
        whole = first if first is not None else _json(data)
        if whole is not None:
            if is_foreign(whole, NAME):
                raise wrong_format(file, NAME, whole)
            raise refuse(
                file,
                "this is one JSON document, not SillyTavern's JSON lines (one "
                "object per line); is it a ChatGPT or ShareGPT export?",
            )
    elif is_foreign(first, NAME):
        raise wrong_format(file, NAME, first)


def _header(
    lines: list[tuple[int, dict[str, Any]]], file: str, problems: Problems, notes: Notes
) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]] | None:
    """The chat header (wherever it is; ``{}`` for none) and the message lines."""
    at = [k for k, (_, obj) in enumerate(lines) if "mes" not in obj and HEADER_KEYS & set(obj)]
    if not at:
        first_line, first = lines[0]
        if "mes" not in first:
            problems.bad(
                file,
                f"line {first_line}",
                "neither a chat header (user_name, character_name, ...) nor a message "
                "(mes, is_user, ...); is this a SillyTavern chat file?",
            )
            return None
        return {}, lines
    for k in at[1:]:
        problems.bad(file, f"line {lines[k][0]}", "a second chat header in the middle of the chat")
    line, header = lines[at[0]][0], dict(lines[at[0]][1])
    if at[0] > 0:
        notes.warn(
            "the chat header is not on the first line; read it all the same", f"{file} line {line}"
        )
    for key in ("user_name", "character_name"):
        if header.get(key) in ("unused", ""):
            # Newer SillyTavern writes "unused" and names speakers on their messages.
            header.pop(key)
        elif key in header and not isinstance(header[key], str):
            problems.bad(
                file, f"line {line}", f"header {key} must be a string, not {header[key]!r}"
            )
            header.pop(key)
    names = header.get("character_names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) and n for n in names)
    ):
        problems.bad(
            file, f"line {line}", f"character_names must be a list of names, not {names!r}"
        )
        header.pop("character_names")
    if not isinstance(header.get("chat_metadata", {}), dict):
        notes.warn("chat_metadata is not an object; ignored", f"{file} line {line}")
        header["chat_metadata"] = {}
    return header, [x for k, x in enumerate(lines) if k not in at]


def _cast(header: dict, turns: list[Turn]) -> list[str]:
    """The chat's bots: the header's, else whoever speaks (a group chat, a newer file)."""
    if header.get("character_name"):
        return [header["character_name"]]
    if header.get("character_names"):  # a TavernAI room
        return list(dict.fromkeys(header["character_names"]))
    speakers: Counter[str] = Counter()
    for t in turns:
        if t.role == "bot" and not t.hidden and t.speaker:
            speakers[t.speaker] += 1
    return list(speakers)


def _persona(header: dict, turns: list[Turn], notes: Notes, file: str) -> str | None:
    """The user's name; a persona renamed mid-chat keeps each message's name in its payload."""
    names = [t.extra.get("name") for t in turns if t.role == "user" and not t.hidden]
    user = header.get("user_name") or next((n for n in names if n), None)
    renamed = sorted({n for n in names if n and n != user})
    if renamed:
        notes.warn(
            f"the persona's name changes mid-chat ({user!r}, then {', '.join(map(repr, renamed))}): "
            "every user message is yours, each keeps its name in the payload",
            file,
        )
    for t in turns:
        for version in (t, *t.alternatives):
            if version.role == "user" and version.extra.get("name") in (user, None):
                version.extra.pop("name", None)
    return user


def read_file(
    path: Path, file: str, parsed: Parsed, problems: Problems, groups: dict[str, Group]
) -> Chat | None:
    """Read one chat file into a plan (None when it holds nothing to import)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        decode(data, file)  # raises the UTF-16 message
    notes = parsed.notes
    _sniff(data, file)
    lines = _lines(data, file, problems)
    if not lines:
        if not data.strip():
            problems.bad(file, "line 1", "the file is empty; is it a SillyTavern chat?")
        return None
    split = _header(lines, file, problems, notes)
    if split is None:
        return None
    header, lines = split
    turns = [t for line, msg in lines if (t := message(line, msg, file, header, problems, notes))]
    if not turns and not header:
        return None
    if not turns:
        notes.warn("a chat header without messages: imported as an empty chat", file)
    bots = _cast(header, turns)
    named = header.get("character_name")
    character = named or (bots[0] if len(bots) == 1 else None)
    user_name = _persona(header, turns, notes, file)
    metadata = header.get("chat_metadata") or {}
    main_chat = metadata.get("main_chat") if isinstance(metadata.get("main_chat"), str) else None
    extra: dict[str, Any] = {}
    if main_chat:
        extra[MAIN_CHAT] = main_chat
    if len(bots) > 1 or not header:
        extra["group"] = True
    title = _title(Path(file).stem, character, main_chat)
    group = groups.get(Path(file).stem) if not header else None
    if group is not None:
        title = f"{group.name} - {Path(file).stem}"
        extra.update(group_id=group.id, members=list(group.members))
    created = date_of(header.get("create_date"), notes, f"{file} header") if header else None
    chat = Chat(
        file=file,
        ref=f"chat:{named}" if named else "chat",  # stable while the file grows
        title=title,
        bots=bots,
        user_name=user_name,
        created=created,
        turns=turns,
        extra=extra,
    )
    fill_dates(chat, notes, datetime.now(UTC))
    return chat


def _files(path: Path) -> tuple[list[tuple[Path, str]], dict[str, Group]]:
    """The chat files to read, with their names in the report, and the groups beside them."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        groups = groups_in([p for p in path.rglob("*.json") if p.is_file()])
        if not found:
            if groups:
                raise refuse(path.name, GROUP_DEFINITION)
            raise refuse(path.name, "the folder holds no .jsonl chat files")
        names = Counter(p.name for p in found)
        for p in found:
            groups = {**groups_near(p), **groups}
        files = [
            (p, p.name if names[p.name] == 1 else p.relative_to(path).as_posix()) for p in found
        ]
        return files, groups
    if not path.is_file():
        raise refuse(str(path), "no such file or folder")
    return [(path, path.name)], groups_near(path)


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a SillyTavern chat file, or every ``.jsonl`` under a folder, into a plan."""
    files, groups = _files(path)
    parsed = Parsed(format=NAME, files=[name for _, name in files])
    problems = Problems(parsed, skip_bad)
    for p, name in files:
        bad_before = len(parsed.bad_records)
        chat = read_file(p, name, parsed, problems, groups)
        if chat is not None:
            parsed.chats.append(chat)
        elif len(parsed.bad_records) == bad_before:
            parsed.skip("file without messages")
    # Oldest chat first, so that ids follow the order the chats were started.
    parsed.chats.sort(key=lambda c: (c.created or datetime.max.replace(tzinfo=UTC), c.file))
    return parsed


def _looks(record: dict[str, Any]) -> bool:
    return bool(LOOKS_KEYS & set(record))


FORMAT = Format(
    name=NAME,
    title="SillyTavern",
    help="a SillyTavern or TavernAI chat (.jsonl) or a folder of them",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {
            "mes",
            "is_user",
            "is_system",
            "send_date",
            "swipes",
            "user_name",
            "character_name",
            "chat_metadata",
            "create_date",
            "name",
        }
    ),  # fmt: skip
    example='{"user_name": "You", "character_name": "Megumin", "create_date": "2023-04-01@12h00m00s"}',
    revision="swipe",
    refuses=definition_refused,
    chat_files=".jsonl",
)
