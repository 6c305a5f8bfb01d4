"""Reading SillyTavern chat files (``.jsonl``): one chat per file, a folder of them.

A chat file has one JSON object per line. The first line is a header
(``user_name``, ``character_name``, ``create_date``, ``chat_metadata``) except in
group chats, which start straight with messages. A message line has ``name``,
``is_user``, ``is_system``, ``send_date``, ``mes``, and for regenerated replies
``swipes`` (every version), ``swipe_id`` (the one shown) and ``swipe_info``
(their dates). Branch and checkpoint files (``chat_metadata.main_chat``) are
chats of their own.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .plan import (
    Chat,
    Notes,
    Parsed,
    Problems,
    Turn,
    decode,
    fill_dates,
    looks_like,
    parse_date,
    refuse,
    wrong_format,
)

FORMAT = "sillytavern"
HEADER_KEYS = {"user_name", "character_name", "create_date", "chat_metadata"}
MESSAGE_KEYS = {
    "name",
    "is_user",
    "is_system",
    "is_name",
    "send_date",
    "mes",
    "swipes",
    "swipe_id",
    "swipe_info",
    "extra",
    "force_avatar",
    "original_avatar",
    "gen_started",
    "gen_finished",
    "title",
    "gen_id",
    "api",
    "model",
    "variedSwipes",
    "chid",
}


def _date(value: object, notes: Notes, where: str) -> datetime | None:
    try:
        return parse_date(value)
    except ValueError:
        notes.warn("unrecognised date, took the date of the message before", f"{where}: {value!r}")
        return None


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


def _flag(
    msg: dict, key: str, file: str, line: int, problems: Problems, notes: Notes
) -> bool | None:
    value = msg.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        notes.warn(f"{key} written as a string", f"{file} line {line}")
        return value.lower() == "true"
    problems.bad(file, f"line {line}", f"{key} must be true or false, not {value!r}")
    return None


def _message(
    line: int, msg: dict, file: str, header: dict, problems: Problems, notes: Notes
) -> Turn | None:
    where = f"{file} line {line}"
    if "mes" not in msg:
        problems.bad(file, f"line {line}", "the message has no 'mes' (its text)")
        return None
    mes = msg["mes"]
    if not isinstance(mes, str):
        problems.bad(file, f"line {line}", f"'mes' must be a string, not {type(mes).__name__}")
        return None
    if "is_user" not in msg:
        problems.bad(file, f"line {line}", "the message has no 'is_user' (who wrote it)")
        return None
    is_user = _flag(msg, "is_user", file, line, problems, notes)
    is_system = _flag(msg, "is_system", file, line, problems, notes)
    if is_user is None or is_system is None:
        return None
    swipes = msg.get("swipes")
    if swipes is not None and (
        not isinstance(swipes, list) or not all(isinstance(s, str) for s in swipes)
    ):
        problems.bad(file, f"line {line}", "'swipes' must be a list of strings")
        return None
    name = msg.get("name")
    if not isinstance(name, str) or not name:
        name = header.get("user_name" if is_user else "character_name") or (
            "You" if is_user else "Unknown"
        )
        notes.warn("message without a name, named after the chat header", where)
    unknown = sorted(set(msg) - MESSAGE_KEYS)
    if unknown:
        notes.warn(f"unknown message keys kept out of the import: {', '.join(unknown)}", where)
    ts = _date(msg.get("send_date"), notes, where)
    extra = {"name": name} if not is_user else {}
    role = "user" if is_user else "bot"
    speaker = None if is_user else name
    turn = Turn(
        ref=str(line), role=role, text=mes, speaker=speaker, ts=ts, hidden=is_system, extra=extra
    )
    if is_system:
        turn.extra["is_system"] = True
    if not swipes or len(swipes) < 2:
        return turn

    swipe_id = msg.get("swipe_id")
    if (
        isinstance(swipe_id, bool)
        or not isinstance(swipe_id, int)
        or not (0 <= swipe_id < len(swipes))
    ):
        notes.warn(
            "swipe_id missing or out of range; the shown text ('mes') is the selected one",
            f"{where}: swipe_id {swipe_id!r} of {len(swipes)} swipes",
        )
        swipe_id = swipes.index(mes) if mes in swipes else None
    elif swipes[swipe_id] != mes:
        notes.warn(
            "'mes' differs from its selected swipe; imported 'mes' (what SillyTavern shows)", where
        )
    info = msg.get("swipe_info")
    dates: list[datetime | None] = [None] * len(swipes)
    if isinstance(info, list) and len(info) == len(swipes):
        for k, item in enumerate(info):
            if isinstance(item, dict):
                dates[k] = _date(item.get("send_date"), notes, f"{where} swipe {k}")
    elif info is not None:
        count = len(info) if isinstance(info, list) else "no list"
        notes.warn(
            "swipe_info does not match swipes; swipes took the message's date",
            f"{where}: {count} swipe_info for {len(swipes)} swipes",
        )
    for k, text in enumerate(swipes):
        if k == swipe_id:
            continue
        turn.alternatives.append(
            Turn(
                ref=f"{line}/{k}",
                role=role,
                text=text,
                speaker=speaker,
                ts=dates[k] or ts,
                extra={**extra, "swipe": k},
            )
        )
    if swipe_id is not None:
        turn.extra["swipe"] = swipe_id
        turn.ts = dates[swipe_id] or ts
    return turn


def _title(stem: str, character: str | None, branch_of: str | None) -> str:
    title = stem if not character or character.lower() in stem.lower() else f"{character} - {stem}"
    return f"{title} (branch of {branch_of})" if branch_of else title


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
            if looks_like(whole) not in (None, FORMAT):
                raise wrong_format(file, FORMAT, whole)
            raise refuse(
                file,
                "this is one JSON document, not SillyTavern's JSON lines (one "
                "object per line); is it a ChatGPT or ShareGPT export?",
            )
    elif looks_like(first) not in (None, FORMAT):
        raise wrong_format(file, FORMAT, first)


def read_file(path: Path, file: str, parsed: Parsed, problems: Problems) -> Chat | None:
    """Read one chat file into a plan (None when it holds no message)."""
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
    header: dict[str, Any] = {}
    first_line, first = lines[0]
    if "mes" not in first:
        if not HEADER_KEYS & set(first):
            problems.bad(
                file,
                f"line {first_line}",
                "neither a chat header (user_name, character_name, ...) nor a message "
                "(mes, is_user, ...); is this a SillyTavern chat file?",
            )
            return None
        header = first
        lines = lines[1:]
        for key in ("user_name", "character_name"):
            if header.get(key) in ("unused", ""):
                # Newer SillyTavern writes "unused" and names speakers on their messages.
                header.pop(key)
            elif key in header and not isinstance(header[key], str):
                problems.bad(
                    file,
                    f"line {first_line}",
                    f"header {key} must be a string, not {header[key]!r}",
                )
                header.pop(key)
        if not isinstance(header.get("chat_metadata", {}), dict):
            notes.warn("chat_metadata is not an object; ignored", f"{file} line {first_line}")
            header["chat_metadata"] = {}
    turns = []
    for line, msg in lines:
        if "mes" not in msg and HEADER_KEYS & set(msg):
            problems.bad(file, f"line {line}", "a second chat header in the middle of the chat")
            continue
        turn = _message(line, msg, file, header, problems, notes)
        if turn is not None:
            turns.append(turn)
    if not turns and not header:
        return None
    character = named = header.get("character_name")
    if character:
        bots = [character]
    else:  # a group chat, or a newer file: the cast is whoever speaks
        speakers: Counter[str] = Counter()
        for t in turns:
            if t.role == "bot" and not t.hidden and t.speaker:
                speakers[t.speaker] += 1
        bots = list(speakers)
        if len(bots) == 1:
            character = bots[0]
    user_name = header.get("user_name") or next(
        (
            m["name"]
            for _, m in lines
            if m.get("is_user") is True and isinstance(m.get("name"), str) and m["name"]
        ),
        None,
    )
    metadata = header.get("chat_metadata") or {}
    branch_of = metadata.get("main_chat") if isinstance(metadata.get("main_chat"), str) else None
    extra: dict[str, Any] = {}
    if branch_of:
        extra["branch_of"] = branch_of
    if len(bots) > 1 or not header:
        extra["group"] = True
    created = _date(header.get("create_date"), notes, f"{file} header") if header else None
    chat = Chat(
        file=file,
        ref=f"chat:{named}" if named else "chat",  # stable while the file grows
        title=_title(Path(file).stem, character, branch_of),
        bots=bots,
        user_name=user_name,
        created=created,
        turns=turns,
        extra=extra,
    )
    fill_dates(chat, notes, datetime.now(UTC))
    return chat


def _files(path: Path) -> list[tuple[Path, str]]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        if not found:
            raise refuse(path.name, "the folder holds no .jsonl chat files")
        names = Counter(p.name for p in found)
        return [
            (p, p.name if names[p.name] == 1 else p.relative_to(path).as_posix()) for p in found
        ]
    if not path.is_file():
        raise refuse(str(path), "no such file or folder")
    return [(path, path.name)]


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a SillyTavern chat file, or every ``.jsonl`` under a folder, into a plan."""
    files = _files(path)
    parsed = Parsed(format=FORMAT, files=[name for _, name in files])
    problems = Problems(parsed, skip_bad)
    for p, name in files:
        bad_before = len(parsed.bad_records)
        chat = read_file(p, name, parsed, problems)
        if chat is not None:
            parsed.chats.append(chat)
        elif len(parsed.bad_records) == bad_before:
            parsed.skip("file without messages")
    # Oldest chat first, so that ids follow the order the chats were started.
    parsed.chats.sort(key=lambda c: (c.created or datetime.max.replace(tzinfo=UTC), c.file))
    return parsed
