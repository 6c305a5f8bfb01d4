"""Reading text-generation-webui chat logs: ``{"internal": [[you, bot], ...], "visible": [...]}``.

A log is one chat (``logs/chat/<character>/<date>.json``; older versions wrote
``logs/<character>_persistent.json`` with ``data`` and ``data_visible``). The
``visible`` text is the transcript (HTML entities and ``<br>`` read as text);
the first pair's empty user half (the greeting) is left out. Newer versions
keep ``metadata`` per message (``user_N``/``assistant_N``: ``timestamp``, and
for a regenerated reply its ``versions`` with ``current_version_index``):
times are used, and every version but the current one is a retired
alternative (``revision: regeneration``). A reply cut off mid-generation (its
``internal`` text empty, ``visible`` a placeholder such as ``*Is typing...*``) is
left out, with a warning. The character is named by the
folder (``logs/chat/<character>/``), else by the file name, else "Assistant".
A folder is read as its logs, a chat a file.
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
    load_document,
    parse_date,
    refuse,
    wrong_format,
)
from .records import unescape

NAME = "textgen"
BEGIN = "<|BEGIN-VISIBLE-CHAT|>"


def character(path: Path) -> str:
    """The character of a log, from its folder (``logs/chat/<character>/``) or its name."""
    if path.parent.parent.name == "chat" and path.parent.name:
        return path.parent.name
    if path.stem.endswith("_persistent"):
        return path.stem[: -len("_persistent")] or "Assistant"
    return "Assistant"


def _time(value: Any) -> datetime | None:
    """A metadata time: ISO, epoch, or the app's ``"Feb 09, 2025 18:37"`` (taken as UTC)."""
    try:
        return parse_date(value)
    except (ValueError, OverflowError):
        pass
    try:
        return datetime.strptime(str(value), "%b %d, %Y %H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def _pairs(obj: dict[str, Any]) -> tuple[list, list]:
    visible = obj.get("visible", obj.get("data_visible"))
    internal = obj.get("internal", obj.get("data"))
    return visible, internal


def _interrupted(internal: Any, i: int) -> bool:
    """Whether reply ``i`` was cut off: its ``internal`` text is empty.

    The web UI then leaves a placeholder such as ``*Is typing...*`` in ``visible``,
    which the character never said.
    """
    if not isinstance(internal, list) or i >= len(internal):
        return False
    pair = internal[i]
    return isinstance(pair, list) and len(pair) == 2 and pair[1] in ("", None)


def _turns(obj: dict[str, Any], bot: str, where: str, notes: Notes) -> list[Turn]:
    visible, internal = _pairs(obj)
    if visible is None:
        visible = internal
    if not isinstance(visible, list):
        raise ValueError(
            f"'visible' must be a list of [you, bot] pairs, not {type(visible).__name__}"
        )
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    turns: list[Turn] = []
    for i, pair in enumerate(visible):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, str | None) for x in pair)
        ):
            raise ValueError(f"pair {i} must be [you, bot] texts, not {pair!r}"[:200])
        user, reply = (unescape(x or "") for x in pair)
        umeta = meta.get(f"user_{i}") if isinstance(meta.get(f"user_{i}"), dict) else {}
        bmeta = meta.get(f"assistant_{i}") if isinstance(meta.get(f"assistant_{i}"), dict) else {}
        if user.strip() and user != BEGIN:
            turns.append(Turn(f"{i}/user", "user", user, ts=_time(umeta.get("timestamp"))))
        if not reply.strip():
            continue
        if visible is not internal and _interrupted(internal, i):
            notes.warn(f"an interrupted reply left out (visible text {reply[:40]!r})", where)
            continue
        turn = Turn(f"{i}/bot", "bot", reply, speaker=bot, ts=_time(bmeta.get("timestamp")))
        versions = bmeta.get("versions")
        current = bmeta.get("current_version_index")
        if isinstance(versions, list):
            for v, version in enumerate(versions):
                if not isinstance(version, dict) or v == current:
                    continue
                text = version.get("visible_content", version.get("content"))
                if isinstance(text, str) and text.strip() and unescape(text) != reply:
                    turn.alternatives.append(
                        Turn(
                            f"{i}/bot/v{v}",
                            "bot",
                            unescape(text),
                            speaker=bot,
                            ts=_time(version.get("timestamp")),
                        )  # fmt: skip
                    )
        turns.append(turn)
    return turns


def _log(path: Path, file: str, now: datetime, parsed: Parsed, problems: Problems) -> Chat | None:
    obj = load_document(path.read_bytes(), file, NAME)
    if not isinstance(obj, dict) or not any(
        k in obj for k in ("visible", "internal", "data", "data_visible")
    ):
        raise wrong_format(file, NAME, obj)
    bot = character(path)
    try:
        turns = _turns(obj, bot, file, parsed.notes)
    except ValueError as exc:
        problems.bad(file, "the log", str(exc))
        return None
    chat = Chat(file=file, ref=Path(file).stem, title=f"{bot}: {Path(file).stem}", bots=[bot],
                user_name=None, created=None, turns=turns)  # fmt: skip
    fill_dates(chat, parsed.notes, now)
    return chat


def read(path: Path, *, skip_bad: bool = False) -> Parsed:
    """Read a log file, or a folder of them (``logs/chat``), into a plan."""
    if not path.exists():
        raise refuse(str(path), "no such file or folder")
    files = sorted(p for p in path.rglob("*.json") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise refuse(path.name, "the folder holds no .json chat logs")
    names = [p.relative_to(path).as_posix() if path.is_dir() else p.name for p in files]
    parsed = Parsed(format=NAME, files=names)
    problems = Problems(parsed, skip_bad)
    now = datetime.now(UTC)
    for p, name in zip(files, names, strict=True):
        chat = _log(p, name, now, parsed, problems)
        if chat is not None:
            parsed.chats.append(chat)
    return parsed


def _looks(record: dict[str, Any]) -> bool:
    return ("internal" in record and "visible" in record) or (
        "data" in record and "data_visible" in record
    )


FORMAT = Format(
    name=NAME,
    title="text-generation-webui",
    help="a text-generation-webui chat log (logs/chat/<character>/*.json) or a folder of them",
    read=read,
    looks=_looks,
    telltales=frozenset({"internal", "visible", "metadata", "data", "data_visible"}),
    example='{"internal": [["Hi", "Hello"]], "visible": [["Hi", "Hello"]], "metadata": {"assistant_0": {"timestamp": "2025-02-09 18:37"}}}',
    revision="regeneration",
    chat_files=".json",
    chat_folders=2,  # logs/chat/<character>/: the character's name
)
