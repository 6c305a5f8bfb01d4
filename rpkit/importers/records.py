"""A dataset read record by record: the streamed plan every dataset format shares.

A dataset format gives a ``convert(where, record, ctx)`` that turns one record
(a dict from ``containers.records``) into its chats; ``read_records`` checks the
whole file in one streamed pass (nothing kept but counts, warnings and the
record ids seen) and returns a plan that streams it again while writing, so a
file of several GB never sits in memory.

Every record's chat is keyed (its ``ref``, the event's source) by the record's
id, or a hash of its content where it has none, so importing the file again
adds nothing. A record whose id came before is skipped when it is the same
record, and keyed by id and place (with a warning) when it is not. A record
that ``convert`` cannot read (a field of the wrong type) is refused, naming the
file and the record, or skipped with ``skip_bad``.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .containers import BadRecord, records
from .format import is_foreign
from .jsonl import content_text
from .plan import Chat, Notes, Parsed, Problems, Turn, fill_dates, parse_date, refuse, wrong_format
from .report import DUPLICATE


class Skip(Exception):
    """Raised by a ``convert`` for a record that is malformed: refused, or skipped with skip_bad."""


@dataclass
class Context:
    """What a ``convert`` writes its findings to: the file, the time of the import, notes."""

    file: str
    now: datetime
    parsed: Parsed
    problems: Problems

    def warn(self, what: str, where: str = "") -> None:
        self.parsed.notes.warn(what, f"{self.file} {where}".strip())

    def skip(self, reason: str) -> None:
        self.parsed.skip(reason)


Convert = Callable[[str, dict[str, Any], Context], list[Chat]]


def record_key(record: Any) -> str:
    """A short hash of a record's content (its key when it has no id)."""
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(body, digest_size=10).hexdigest()


def record_id(record: dict[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` that holds a string or int id."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def when(value: Any, ctx: Context, where: str) -> datetime | None:
    """A UTC time from a dataset's time field; None (with a warning) when it is not one."""
    try:
        return parse_date(value)
    except (ValueError, OverflowError):
        ctx.warn("unrecognised times, stamped like a turn without a time", where)
        return None


def text_of(content: Any, ctx: Context, where: str) -> str:
    """A message's text: a string, null (empty) or a list of parts; Skip otherwise."""
    if isinstance(content, list):  # LLaMA-Factory's parts carry "value", not "text"
        content = [
            {**p, "text": p["value"]}
            if isinstance(p, dict) and "text" not in p and "value" in p
            else p
            for p in content
        ]
    try:
        return content_text(content, ctx.parsed.notes, f"{ctx.file} {where}")
    except ValueError as exc:
        raise Skip(str(exc)) from None


def unescape(text: str) -> str:
    """HTML text as a chat app shows it (``&#x27;`` → ``'``, ``<br>`` → a new line)."""
    return html.unescape(text.replace("<br>", "\n").replace("<br/>", "\n"))


def title_of(ref: str, turns: list[Turn]) -> str:
    first = next((t.text for t in turns if t.role == "user" and not t.hidden), "")
    snippet = " ".join(first.split())
    snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
    return f"{ref}: {snippet}" if snippet else ref


class _Quiet(Notes):
    def warn(self, what: str, where: str) -> None:
        pass


def dated(chat: Chat, now: datetime) -> Chat:
    """Fill the chat's missing times (quietly: each format warns once for the file)."""
    fill_dates(chat, _Quiet(), now)
    return chat


def record_chat(
    ctx: Context,
    ref: str,
    bot: str,
    turns: list[Turn],
    *,
    title: str | None = None,
    created: datetime | None = None,
    extra: dict[str, Any],
    bot_extra: dict[str, dict[str, Any]] | None = None,
) -> Chat:
    """A dataset record's chat: you and one bot (no user name), its missing times filled.

    Its title is ``title`` (default: ``ref``) and the start of its first turn of yours.
    """
    chat = Chat(
        file=ctx.file,
        ref=ref,
        title=title_of(title or ref, turns),
        bots=[bot],
        user_name=None,
        created=created,
        turns=turns,
        extra=extra,
        bot_extra=bot_extra or {},
    )
    return dated(chat, ctx.now)


@dataclass
class RecordStream(Parsed):
    """A plan whose chats are read from the file each time they are iterated."""

    path: Path = field(default_factory=Path)
    convert: Convert | None = None
    count: int = 0
    seen_records: int = 0

    def iter_chats(self, parsed: Parsed, problems: Problems) -> Iterator[Chat]:
        ctx = Context(self.files[0], datetime.now(UTC), parsed, problems)
        ids: dict[str, bytes] = {}
        first = True
        for where, record in records(self.path):
            if isinstance(parsed, RecordStream):
                parsed.seen_records += 1
            if isinstance(record, BadRecord):
                problems.bad(ctx.file, where, record.reason)
                continue
            if first and is_foreign(record, self.format):
                raise wrong_format(ctx.file, self.format, record)
            first = False
            if not isinstance(record, dict):
                problems.bad(
                    ctx.file, where, f"a record must be an object, not {type(record).__name__}"
                )
                continue
            try:
                chats = self.convert(where, record, ctx)
            except Skip as exc:
                problems.bad(ctx.file, where, str(exc))
                continue
            except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
                problems.bad(ctx.file, where, f"a field is not of the dataset's shape ({exc})")
                continue
            if not chats:
                continue
            key = chats[0].ref
            digest = hashlib.blake2b(
                orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str), digest_size=8
            ).digest()
            if key in ids:
                if ids[key] == digest:
                    parsed.skip(DUPLICATE)
                    continue
                ctx.warn("records with an id that came before: keyed by id and place", where)
                for chat in chats:
                    chat.ref = f"{chat.ref}@{where}"
                    if "fork_of" in chat.extra:
                        chat.extra["fork_of"] = f"{chat.extra['fork_of']}@{where}"
            else:
                ids[key] = digest
            yield from chats

    def records(self) -> int:
        return self.count


class _Chats:
    def __init__(self, stream: RecordStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[Chat]:
        scratch = Parsed(format=self.stream.format, files=self.stream.files)
        return self.stream.iter_chats(scratch, Problems(scratch, skip_bad=True))


def read_records(path: Path, name: str, convert: Convert, *, skip_bad: bool = False) -> Parsed:
    """Check a dataset file (or folder of Parquet shards) in one streamed pass; stream it again."""
    if not path.exists():
        raise refuse(str(path), "no such file or folder")
    if path.is_dir() and not any(path.glob("*.parquet")):
        raise refuse(path.name, "is a folder without .parquet files; pass the dataset's file")
    stream = RecordStream(format=name, files=[path.name], path=path, convert=convert)
    problems = Problems(stream, skip_bad)
    for chat in stream.iter_chats(stream, problems):
        stream.count += sum(1 + len(t.alternatives) for t in chat.turns)
    if stream.seen_records == 0 and not stream.bad_records:
        stream.notes.warn("the file holds no records", stream.files[0])
    stream.chats = _Chats(stream)  # type: ignore[assignment]
    return stream


def records_reader(name: str, title: str, convert: Convert) -> Callable[..., Parsed]:
    """The ``read`` of a dataset format whose ``convert`` turns each record into chats."""

    def read(path: Path, *, skip_bad: bool = False) -> Parsed:
        return read_records(path, name, convert, skip_bad=skip_bad)

    read.__doc__ = f"Check a {title} file in one streamed pass; the plan streams it again."
    return read


USER_ROLES = {"user", "human", "prompter"}
BOT_ROLES = {"assistant", "gpt", "model", "bot", "chatbot"}
SCALARS = (str, int, float, bool)


def turn_of(ref: str, role: Any, text: str, bot: str, ts: datetime | None = None) -> Turn:
    """A message as a turn: user or bot; any other role (system, tool) a hidden turn with its role."""
    if not isinstance(role, str):
        raise Skip(f"a message's role must be a string, not {role!r}")
    low = role.lower()
    if low in USER_ROLES:
        return Turn(ref=ref, role="user", text=text, ts=ts)
    if low in BOT_ROLES:
        return Turn(ref=ref, role="bot", text=text, speaker=bot, ts=ts)
    return Turn(ref=ref, role="user", text=text, ts=ts, hidden=True, extra={"role": role})


def fields(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The plain values (strings, numbers, flags, lists of them) of ``keys`` the record has."""
    out: dict[str, Any] = {}
    for key in keys:
        value = record.get(key)
        if (
            isinstance(value, SCALARS)
            and not (isinstance(value, float) and value != value)
            or isinstance(value, list)
            and all(isinstance(v, SCALARS) for v in value)
            or isinstance(value, dict)
            and len(orjson.dumps(value, default=str)) < 4096
        ):
            out[key] = value
    return out


def conversation(
    messages: Any, ref: str, bot: str, ctx: Context, where: str, *, time_key: str | None = None
) -> list[Turn]:
    """The turns of a ``[{role, content}]`` list (``content`` text, null or parts)."""
    if messages is None:
        return []
    if not isinstance(messages, list):
        raise Skip(f"the conversation must be a list of messages, not {type(messages).__name__}")
    turns = []
    for j, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise Skip(f"message {j} must be an object, not {type(msg).__name__}")
        text = text_of(msg.get("content"), ctx, f"{where} message {j}")
        if not text.strip():
            ctx.skip("empty message")
            continue
        ts = when(msg.get(time_key), ctx, where) if time_key else None
        turns.append(turn_of(f"{ref}/{j}", msg.get("role"), text, bot, ts))
    return turns
