"""Reading Character.AI chats: the CAI Tools extension's dump and the site's own shape.

Two shapes, as far as they are documented or seen:

* CAI Tools' "Raw Dump" / "Character Dump": ``{"info": {"character": {"name"}
  or {"data": {"name"}}}, "histories": {"histories": [{"external_id",
  "created", "msgs": [{"src": {"name", "is_human"}, "text", "created"}]}]}}``;
  a history is a chat;
* the site's newer chat data (what its export and API hold): ``{"turns":
  [{"turn_key": {"turn_id"}, "author": {"name", "is_human"}, "create_time",
  "candidates": [{"candidate_id", "raw_content", "create_time"}],
  "primary_candidate_id"}]}``, or a list of such chats.

The primary candidate is the transcript; the other candidates (the swipes the
user did not keep) are retired alternatives of it (``revision: candidate``).
The file is one JSON document (read whole; these exports are small).
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
    load_document,
    parse_date,
    refuse,
    wrong_format,
)

NAME = "cai"


def _time(value: Any) -> datetime | None:
    try:
        return parse_date(value)
    except (ValueError, OverflowError):
        return None


def _char_name(info: Any) -> str:
    char = info.get("character") if isinstance(info, dict) else None
    if isinstance(char, dict):
        data = char.get("data") if isinstance(char.get("data"), dict) else char
        if isinstance(data.get("name"), str) and data["name"].strip():
            return data["name"].strip()
    return "Character"


def _author(src: Any) -> tuple[bool, str | None]:
    if not isinstance(src, dict):
        raise ValueError(f"a message's author must be an object, not {type(src).__name__}")
    name = src.get("name")
    return src.get("is_human") is True, name if isinstance(name, str) and name.strip() else None


def _tools_history(i: int, hist: Any, bot: str, file: str) -> Chat:
    if not isinstance(hist, dict) or not isinstance(hist.get("msgs"), list):
        raise ValueError("a history must be an object with a 'msgs' list")
    ref = str(hist.get("external_id") or i)
    turns = []
    for j, msg in enumerate(hist["msgs"]):
        if not isinstance(msg, dict):
            raise ValueError(f"message {j} must be an object")
        human, name = _author(msg.get("src"))
        text = msg.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        ts = _time(msg.get("created"))
        turns.append(
            Turn(
                str(j),
                "user" if human else "bot",
                text,
                speaker=None if human else (name or bot),
                ts=ts,
            )
        )
    return Chat(file, ref, f"{bot}: {ref}", [bot], None, _time(hist.get("created")), turns,
                extra={"external_id": ref})  # fmt: skip


def _site_chat(i: int, chat: Any, file: str) -> Chat:
    if not isinstance(chat, dict) or not isinstance(chat.get("turns"), list):
        raise ValueError("a chat must be an object with a 'turns' list")
    ref = str(chat.get("chat_id") or chat.get("external_id") or i)
    turns, bots = [], []
    for j, turn in enumerate(chat["turns"]):
        if not isinstance(turn, dict):
            raise ValueError(f"turn {j} must be an object")
        human, name = _author(turn.get("author"))
        cands = turn.get("candidates")
        if not isinstance(cands, list) or not cands:
            continue
        primary = turn.get("primary_candidate_id")
        ordered = sorted(
            cands, key=lambda c: not (isinstance(c, dict) and c.get("candidate_id") == primary)
        )
        made = []
        for c, cand in enumerate(ordered):
            if not isinstance(cand, dict):
                raise ValueError(f"turn {j} candidate {c} must be an object")
            text = cand.get("raw_content")
            if not isinstance(text, str) or not text.strip():
                continue
            cid = str(cand.get("candidate_id") or c)
            ts = _time(cand.get("create_time") or turn.get("create_time"))
            speaker = None if human else (name or "Character")
            made.append(
                Turn(f"{j}/{cid}", "user" if human else "bot", text, speaker=speaker, ts=ts)
            )
        if not made:
            continue
        if not human and made[0].speaker not in bots:
            bots.append(made[0].speaker)
        made[0].alternatives = made[1:]
        turns.append(made[0])
    return Chat(file, ref, f"{', '.join(bots) or 'Character'}: {ref}", bots or ["Character"], None,
                _time(chat.get("create_time")), turns, extra={"chat_id": ref})  # fmt: skip


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a CAI Tools dump or Character.AI chat file into a plan."""
    if not path.is_file():
        raise refuse(str(path), "no such file (pass the .json export)")
    file = path.name
    data = load_document(path.read_bytes(), file, NAME)
    parsed = Parsed(format=NAME, files=[file])
    problems = Problems(parsed, skip_bad)
    if isinstance(data, dict) and "histories" in data:
        bot = _char_name(data.get("info"))
        hists = (
            data["histories"].get("histories")
            if isinstance(data["histories"], dict)
            else data["histories"]
        )
        if not isinstance(hists, list):
            raise refuse(file, "'histories' holds no list of chats")
        items = [(i, lambda i=i, h=h: _tools_history(i, h, bot, file)) for i, h in enumerate(hists)]
    else:
        chats = data if isinstance(data, list) else [data]
        if not any(isinstance(c, dict) and "turns" in c for c in chats):
            raise wrong_format(file, NAME, data)
        items = [(i, lambda i=i, c=c: _site_chat(i, c, file)) for i, c in enumerate(chats)]
    now = datetime.now(UTC)
    for i, make in items:
        try:
            chat = make()
        except ValueError as exc:
            problems.bad(file, f"chat {i}", str(exc))
            continue
        fill_dates(chat, parsed.notes, now)
        parsed.chats.append(chat)
    return parsed


def _looks(record: dict[str, Any]) -> bool:
    if "histories" in record and "info" in record:
        return True
    turns = record.get("turns")
    return isinstance(turns, list) and any(
        isinstance(t, dict) and "candidates" in t for t in turns[:3]
    )


FORMAT = Format(
    name=NAME,
    title="Character.AI",
    help="a Character.AI chat export (CAI Tools dump or the site's chat data, .json)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {
            "histories",
            "info",
            "msgs",
            "src",
            "is_human",
            "turns",
            "candidates",
            "primary_candidate_id",
        }
    ),  # fmt: skip
    example='{"info": {"character": {"name": "Mira"}}, "histories": {"histories": [{"external_id": "h1", "msgs": [{"src": {"name": "Mira", "is_human": false}, "text": "Hi!"}]}]}}',
    revision="candidate",
)
