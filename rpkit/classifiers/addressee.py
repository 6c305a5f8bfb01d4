"""Which turns a classifier is asked about, and whom each one addresses (the package doc)."""

from __future__ import annotations

import json
import re

from ..kinds import (
    ASSISTANT_TURN,
    CHAT_CREATED,
    CLASSIFIER_FAILED,
    COPIED_FROM,
    TURN_KINDS,
    YOU,
    sql_list,
)
from ..store import live
from ..store.sqlite import sqlite3
from .judgement import TurnInput
from .report import ClassifyReport


def group_addressee(text: str, bots: list[str], names: dict[str, str], last: str | None) -> str:
    named = [
        b
        for b in bots
        if names.get(b) and re.search(rf"(?<!\w){re.escape(names[b])}(?!\w)", text, re.I)
    ]
    if len(named) == 1:
        return named[0]
    return last if last is not None else bots[0]


def turns_to_ask(
    conn: sqlite3.Connection, report: ClassifyReport, *, retry_failed: bool
) -> list[tuple[TurnInput, str]]:
    """The visible turns with no derived event yet, with whom each addresses."""
    names = dict(conn.execute("SELECT id, name FROM bots"))
    you = conn.execute("SELECT name FROM you_entity WHERE id = 1").fetchone()
    names[YOU] = you[0] if you else "You"
    cast = {
        chat_id: json.loads(payload).get("bot_ids", [])
        for chat_id, payload in conn.execute(
            f"SELECT chat_id, payload FROM event_log WHERE kind = ? AND {live()}", (CHAT_CREATED,)
        )
    }
    failed = sql_list([CLASSIFIER_FAILED])
    done_kinds = "" if retry_failed else f" OR d.kind = {failed}"
    rows = conn.execute(
        f"""
        SELECT t.id, t.ts, t.chat_id, t.kind, t.payload,
               EXISTS (SELECT 1 FROM event_log d WHERE d.cause_id = t.id
                       AND (d.kind != {failed}{done_kinds}))
        FROM event_log t
        WHERE t.kind IN ({sql_list(sorted(TURN_KINDS))}) AND {live("t")}
        ORDER BY t.id
        """
    ).fetchall()
    last_bot: dict[int, str] = {}
    todo = []
    for event_id, ts, chat_id, kind, payload, done in rows:
        p = json.loads(payload)
        bots = cast.get(chat_id, [])
        if kind == ASSISTANT_TURN:
            speaker, addressee = p["bot_id"], YOU
            last_bot[chat_id] = speaker
        elif not bots:
            speaker, addressee = YOU, None
        elif len(bots) == 1:
            speaker, addressee = YOU, bots[0]
        else:
            speaker = YOU
            addressee = group_addressee(p["text"], bots, names, last_bot.get(chat_id))
        if COPIED_FROM in p:  # a fork's copy: its original's derived events stand for it
            report.copied += 1
        elif done:
            report.already_done += 1
        elif addressee is None:
            report.skipped += 1
        else:
            turn = TurnInput(
                event_id,
                chat_id,
                kind,
                speaker,
                addressee,
                p["text"],
                names.get(speaker, speaker),
                names.get(addressee, addressee),
            )
            todo.append((turn, ts))
    return todo
