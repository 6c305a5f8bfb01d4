"""One SillyTavern (or TavernAI) message line as a turn, with its swipes.

SillyTavern opens what it wrote, so this reads it as leniently as SillyTavern
does: ``is_system`` as ``true``, ``false``, ``""`` (``/sendas`` writes that) or
missing; ``swipe_info`` or its misspelling ``swipes_info``; empty swipes; a
``mes`` of ``""`` whose content is only ``extra.reasoning``. The reasoning of
a message is kept in its payload (``reasoning``), never in its text: the text
is what SillyTavern shows as the message, the reasoning its folded "thought"
block above it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..display import counted
from .plan import Notes, Problems, Turn, parse_date

MESSAGE_KEYS = {
    "name",
    "is_user",
    "is_system",
    "is_name",
    "is_group",
    "send_date",
    "mes",
    "swipes",
    "swipe_id",
    "swipe_info",
    "swipes_info",
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
    "bias",
}


def date_of(value: object, notes: Notes, where: str) -> datetime | None:
    """The UTC date of ``value``, or None (noted) when it is not a date."""
    try:
        return parse_date(value)
    except ValueError:
        notes.warn("unrecognised date, took the date of the message before", f"{where}: {value!r}")
        return None


def _flag(
    msg: dict, key: str, file: str, line: int, problems: Problems, notes: Notes
) -> bool | None:
    value = msg.get(key, False)
    if isinstance(value, bool):
        return value
    where = f"{file} line {line}"
    if value == "" or value is None:
        notes.warn(
            f"{key} written as {value!r} (SillyTavern's /sendas does): taken as false", where
        )
        return False
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        notes.warn(f"{key} written as a string", where)
        return value.lower() == "true"
    problems.bad(file, f"line {line}", f"{key} must be true or false, not {value!r}")
    return None


def _branch_links(extra: Any) -> dict[str, Any]:
    """The chat files branched from a message (``extra.branches``, ``extra.bookmark_link``)."""
    if not isinstance(extra, dict):
        return {}
    links: dict[str, Any] = {}
    branches = extra.get("branches")
    if isinstance(branches, list) and all(isinstance(b, str) for b in branches) and branches:
        links["branches"] = list(branches)
    if isinstance(extra.get("bookmark_link"), str) and extra["bookmark_link"]:
        links["bookmark_link"] = extra["bookmark_link"]
    return links


def _reasoning(extra: Any) -> str | None:
    if isinstance(extra, dict) and isinstance(extra.get("reasoning"), str):
        return extra["reasoning"] or None
    return None


def _swipe_info(msg: dict, notes: Notes, where: str) -> Any:
    if "swipe_info" in msg or "swipes_info" not in msg:
        return msg.get("swipe_info")
    notes.warn("'swipes_info' (misspelt) read as swipe_info", where)
    return msg["swipes_info"]


def _checked(line: int, msg: dict, file: str, problems: Problems, notes: Notes):
    """(mes, is_user, is_system, swipes) of a message, or None when it is refused."""
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
    return mes, is_user, is_system, swipes


def message(
    line: int, msg: dict, file: str, header: dict, problems: Problems, notes: Notes
) -> Turn | None:
    """The turn of one message line (None when the line is refused or skipped)."""
    where = f"{file} line {line}"
    checked = _checked(line, msg, file, problems, notes)
    if checked is None:
        return None
    mes, is_user, is_system, swipes = checked
    name = msg.get("name")
    if not isinstance(name, str) or not name:
        name = header.get("user_name" if is_user else "character_name") or (
            "You" if is_user else "Unknown"
        )
        notes.warn("message without a name, named after the chat header", where)
    unknown = sorted(set(msg) - MESSAGE_KEYS)
    if unknown:
        notes.warn(f"unknown message keys kept out of the import: {', '.join(unknown)}", where)
    ts = date_of(msg.get("send_date"), notes, where)
    extra: dict[str, Any] = {"name": name}
    role = "user" if is_user else "bot"
    turn = Turn(
        ref=str(line),
        role=role,
        text=mes,
        speaker=None if is_user else name,
        ts=ts,
        hidden=is_system,
        extra=dict(extra),
    )
    if is_system:
        turn.extra["is_system"] = True
    turn.extra.update(_branch_links(msg.get("extra")))
    if reasoning := _reasoning(msg.get("extra")):
        turn.extra["reasoning"] = reasoning
        if not mes.strip():
            notes.warn(
                "messages whose text is empty and whose content is only their reasoning "
                "(extra.reasoning): imported with an empty text, the reasoning in the "
                "payload ('reasoning')",
                where,
            )
    if swipes and len(swipes) > 1:
        _swipes(turn, msg, swipes, extra, notes, where)
    return turn


def _swipes(
    turn: Turn, msg: dict, swipes: list[str], extra: dict, notes: Notes, where: str
) -> None:
    """Give ``turn`` its unselected swipes as alternatives, with their own dates."""
    mes, ts = turn.text, turn.ts
    swipe_id = msg.get("swipe_id")
    if (
        isinstance(swipe_id, bool)
        or not isinstance(swipe_id, int)
        or not (0 <= swipe_id < len(swipes))
    ):
        notes.warn(
            "swipe_id missing or out of range; the shown text ('mes') is the selected one",
            f"{where}: swipe_id {swipe_id!r} of {counted(len(swipes), 'swipe')}",
        )
        swipe_id = swipes.index(mes) if mes in swipes else None
    elif swipes[swipe_id] != mes:
        notes.warn(
            "'mes' differs from its selected swipe; imported 'mes' (what SillyTavern shows)", where
        )
    info = _swipe_info(msg, notes, where)
    dates: list[datetime | None] = [None] * len(swipes)
    thoughts: list[str | None] = [None] * len(swipes)
    if isinstance(info, list) and len(info) == len(swipes):
        for k, item in enumerate(info):
            if isinstance(item, dict):
                dates[k] = date_of(item.get("send_date"), notes, f"{where} swipe {k}")
                thoughts[k] = _reasoning(item.get("extra"))
    elif info is not None:
        count = len(info) if isinstance(info, list) else "no list"
        notes.warn(
            "swipe_info does not match swipes; swipes took the message's date",
            f"{where}: {count} swipe_info for {counted(len(swipes), 'swipe')}",
        )
    for k, text in enumerate(swipes):
        if k == swipe_id:
            continue
        alt = Turn(
            ref=f"{turn.ref}/{k}",
            role=turn.role,
            text=text,
            speaker=turn.speaker,
            ts=dates[k] or ts,
            extra={**extra, "swipe": k},
        )
        if thoughts[k]:
            alt.extra["reasoning"] = thoughts[k]
        turn.alternatives.append(alt)
    if swipe_id is not None:
        turn.extra["swipe"] = swipe_id
        turn.ts = dates[swipe_id] or ts
