"""What every importer shares: the plan of a chat, dates, reading files, bad records.

An importer first *reads* its export into a plan (``Parsed``: chats, their turns
and the alternatives each turn retires) without touching any database, so a
malformed export is refused before a single row is written. ``writer`` then
appends the plan in one transaction.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..display import counted
from ..errors import ImportFormatError
from .format import FORMATS, looks_like, refusal

SKIP_HINT = "fix the file, or pass skip_bad=True (rpkit import ... --skip-bad) to skip bad records"


@dataclass
class Turn:
    """One message of an export, as a future ``user_turn`` or ``assistant_turn``.

    ``alternatives`` are the messages this one replaced (SillyTavern swipes,
    ChatGPT sibling replies): they are appended first and retired by this one.
    """

    ref: str
    role: str  # "user" or "bot"
    text: str
    speaker: str | None = None  # the bot's display name for role "bot"
    ts: datetime | None = None
    hidden: bool = False
    alternatives: list[Turn] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chat:
    """One conversation of an export: its title, cast and turns in transcript order."""

    file: str
    ref: str
    title: str
    bots: list[str]
    user_name: str | None
    created: datetime | None
    turns: list[Turn]
    extra: dict[str, Any] = field(default_factory=dict)
    bot_extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> bot_created fields


class Notes:
    """Tolerated oddities, grouped so that 40 alike messages make one line."""

    def __init__(self) -> None:
        self._seen: dict[str, list[str]] = {}

    def warn(self, what: str, where: str) -> None:
        self._seen.setdefault(what, []).append(where)

    def lines(self) -> list[str]:
        out = []
        for what, wheres in self._seen.items():
            if len(wheres) == 1:
                out.append(f"{what} ({wheres[0]})")
            else:
                out.append(f"{what} ({counted(len(wheres), 'time')}; first {wheres[0]})")
        return out


@dataclass
class Parsed:
    """An export read into plans, with what was skipped and tolerated on the way."""

    format: str
    files: list[str]
    chats: list[Chat] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    bad_records: list[str] = field(default_factory=list)
    notes: Notes = field(default_factory=Notes)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def records(self) -> int:
        return sum(1 + len(t.alternatives) for c in self.chats for t in c.turns)


class Problems:
    """Refuse a bad record (the default) or, with ``skip_bad``, list it and go on."""

    def __init__(self, parsed: Parsed, skip_bad: bool) -> None:
        self.parsed = parsed
        self.skip_bad = skip_bad

    def bad(self, file: str, where: str, reason: str) -> None:
        """Raise ImportFormatError, or record the bad record when skipping."""
        if not self.skip_bad:
            raise ImportFormatError(f"{file}: {where}: {reason}; {SKIP_HINT}")
        self.parsed.bad_records.append(f"{file}: {where}: {reason}")
        self.parsed.skip("bad record (skip_bad=True)")


def refuse(file: str, reason: str) -> ImportFormatError:
    """An error for a problem no skipping can get round (the file as a whole is bad)."""
    return ImportFormatError(f"{file}: {reason}")


# -- reading -----------------------------------------------------------------


def decode(data: bytes, file: str, *, line_offset: int = 0) -> str:
    """UTF-8 text of ``data`` (a BOM is allowed), or an error naming the line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise refuse(file, "the file is UTF-16 text; re-save it as UTF-8 and import again")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 + line_offset
        byte = data[exc.start : exc.start + 1].hex()
        raise ImportFormatError(
            f"{file}: line {line}: not UTF-8 text (byte 0x{byte}); re-save the file as UTF-8"
        ) from exc


def load_json(text: str, file: str) -> Any:
    """Parse a whole JSON document, naming the line and column of an error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise ImportFormatError(
                f"{file}: line {exc.lineno}: the JSON ends early ({exc.msg}); the file looks "
                "truncated, export it again"
            ) from exc
        raise ImportFormatError(
            f"{file}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
        ) from exc


# -- dates -------------------------------------------------------------------

_HUMANIZED = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})\s*@\s*(\d{1,2})h\s*(\d{1,2})m\s*(\d{1,2})s(?:\s*(\d{1,3})ms)?$"
)
_MERIDIEM = re.compile(
    r"^([A-Za-z]+)\.?\s+(\d{1,2}),\s*(\d{4}),?\s+(\d{1,2}):(\d{2})\s*([ap]m)$", re.I
)
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
# Numbers above this are epoch milliseconds (SillyTavern), below it seconds (ChatGPT).
_MS_FROM = 100_000_000_000


def _from_epoch(value: float, unit: str) -> datetime:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{value!r} is not a time")
    seconds = value / 1000 if unit == "ms" or (unit == "auto" and value >= _MS_FROM) else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError):
        raise ValueError(f"{value!r} is too far from now to be a time") from None


def parse_date(value: object, *, unit: str = "auto") -> datetime | None:
    """A UTC datetime from any date form the supported apps have written; None if missing.

    Epoch numbers (or digit strings) are milliseconds when large, seconds
    otherwise (``unit`` forces one); SillyTavern's ``"June 19, 2023 2:20pm"``,
    ``"2024-6-5 @14h 56m 50s 682ms"`` and ``"2024-07-12@01h31m37s"``; ISO 8601.
    Dates without a time zone are taken as UTC (the apps wrote the user's local
    time without saying which zone it was). Raises ValueError for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date")
    if isinstance(value, int | float):
        return _from_epoch(float(value), unit)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    text = value.strip()
    if text.isdigit():
        return _from_epoch(float(text), unit)
    if m := _HUMANIZED.match(text):
        y, mo, d, h, mi, s, ms = m.groups()
        return datetime(
            int(y),
            int(mo),
            int(d),
            int(h),
            int(mi),
            int(s),
            int(ms or 0) * 1000,
            tzinfo=UTC,
        )
    if m := _MERIDIEM.match(text):
        month, day, year, hour, minute, half = m.groups()
        if month.lower() not in _MONTHS:
            raise ValueError(f"{value!r}: unknown month {month!r}")
        h = int(hour) % 12 + (12 if half.lower() == "pm" else 0)
        return datetime(int(year), _MONTHS[month.lower()], int(day), h, int(minute), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date form rpkit knows") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def fill_dates(chat: Chat, notes: Notes, fallback: datetime) -> None:
    """Give undated turns the date of the turn before them (or after, or ``fallback``)."""
    order = [t for turn in chat.turns for t in (*turn.alternatives, turn)]
    known = next((t.ts for t in order if t.ts is not None), None)
    if known is None:
        known = chat.created
    missing = 0
    last = known if known is not None else fallback
    for t in order:
        if t.ts is None:
            t.ts = last
            missing += 1
        else:
            last = t.ts
    if chat.created is None:
        chat.created = order[0].ts if order else last
    if missing:
        how = (
            "took the date of the message before them"
            if known is not None
            else "have no date anywhere in the chat: stamped with the time of the import"
        )
        notes.warn(f"{missing} message(s) without a date {how}", f"{chat.file}, {chat.title!r}")


def slug(name: str) -> str:
    """A bot id from a display name: lower case, words joined by '-'."""
    out = re.sub(r"[^\w]+", "-", name.strip().lower()).strip("-_")
    return out or "bot"


def wrong_format(file: str, fmt: str, obj: object) -> ImportFormatError:
    """Refuse a file of another format, saying which importer fits it if we can tell."""
    why = refusal(obj)
    if why is not None:
        return refuse(file, why)
    guess = looks_like(obj)
    title = FORMATS[fmt].title
    if guess is not None and guess != fmt:
        return refuse(
            file,
            f"this is not a {title} export, it looks like {FORMATS[guess].title}: import it with "
            f"`rpkit import {guess}` (import_file(db, {guess!r}, path) in Python)",
        )
    return refuse(file, f"this is not a {title} export (none of its records fits)")


def load_document(data: bytes, file: str, fmt: str) -> Any:
    """Decode and parse a whole-JSON export; a JSON-lines file of another app is named."""
    text = decode(data, file)
    try:
        return load_json(text, file)
    except ImportFormatError:
        first = text.lstrip().split("\n", 1)[0]
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            obj = None
        if looks_like(obj) not in (None, fmt):
            raise wrong_format(file, fmt, obj) from None
        raise


def load_conversations(path: Path, fmt: str, key: str) -> tuple[str, list[Any]]:
    """A ``conversations.json`` export (the file, or its unpacked folder) as a list.

    One conversation object (it has ``key``) counts as a list of one; anything
    else that is not a list, or a list without any conversation, is refused.
    """
    if path.is_dir():  # the unpacked export: its conversations.json is what is read
        if not (path / "conversations.json").is_file():
            raise refuse(path.name, "the folder has no conversations.json; pass that file")
        path = path / "conversations.json"
    if not path.is_file():
        raise refuse(str(path), "no such file (pass the conversations.json of the export)")
    file = path.name
    data = load_document(path.read_bytes(), file, fmt)
    if isinstance(data, dict) and key in data:
        data = [data]
    if not isinstance(data, list):
        if looks_like(data) not in (None, fmt):
            raise wrong_format(file, fmt, data)
        raise refuse(
            file,
            f"expected a list of conversations or one conversation with a {key!r}, got a "
            f"{type(data).__name__}"
            + (f" with keys {sorted(data)[:6]}" if isinstance(data, dict) else ""),
        )
    if data and not any(isinstance(c, dict) and key in c for c in data):
        raise wrong_format(file, fmt, data)
    return file, data


def read_conversations(
    path: Path, fmt: str, key: str, conversation: Callable[..., Chat | None], *, skip_bad: bool
) -> Parsed:
    """A ``conversations.json`` export (``load_conversations``) read into a plan.

    ``conversation(i, conv, file, parsed, problems)`` makes the chat of the
    ``i``-th conversation (None: left out, with the reason in ``problems``).
    """
    file, data = load_conversations(path, fmt, key)
    parsed = Parsed(format=fmt, files=[file])
    problems = Problems(parsed, skip_bad)
    for i, conv in enumerate(data):
        chat = conversation(i, conv, file, parsed, problems)
        if chat is not None:
            parsed.chats.append(chat)
    return parsed
