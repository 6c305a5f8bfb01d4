"""Reading Chatbot Arena conversations: two models answer one prompt, a person picks one.

A record is ``{question_id, model_a, model_b, winner, judge, conversation_a,
conversation_b, turn, language, tstamp, ...}``. It becomes a tree: a chat of
you and model A, and model B's chat as a **fork** of it at the last message
the two share (the prompt is written once, in A's chat; B's copy of it names
it, as every fork's copies do). ``winner`` (``model_a``, ``model_b``, ``tie``,
``tie (bothbad)``, kept as it is) and ``judge`` are in both chats' payloads,
with which side each chat is (``side``). The ``question_id`` keys the record.
"""

from __future__ import annotations

from typing import Any

from .forks import FORK_OF
from .format import Format
from .plan import Chat
from .records import (
    Context,
    Skip,
    conversation,
    fields,
    record_chat,
    record_id,
    record_key,
    records_reader,
    when,
)

NAME = "arena"
CHAT_FIELDS = ("question_id", "model_a", "model_b", "winner", "judge", "turn", "language", "anony")


def convert(where: str, record: dict[str, Any], ctx: Context) -> list[Chat]:
    ref = record_id(record, "question_id", "id") or record_key(record)
    created = when(record.get("tstamp"), ctx, where)
    common = fields(record, CHAT_FIELDS)
    chats = []
    for side in ("a", "b"):
        model = record.get(f"model_{side}")
        if model is not None and not isinstance(model, str):
            raise Skip(f"'model_{side}' must be a string, not {type(model).__name__}")
        bot = model.strip() if model and model.strip() else f"model {side.upper()}"
        turns = conversation(record.get(f"conversation_{side}"), f"{ref}:{side}", bot, ctx, where)
        for t in turns:
            if t.role == "bot":
                t.extra["model"] = bot
        extra = {**common, "side": side}
        if side == "b":
            extra[FORK_OF] = f"{ref}:a"
        title = f"{ref} ({side.upper()}: {bot})"
        chats.append(
            record_chat(ctx, f"{ref}:{side}", bot, turns, title=title, created=created, extra=extra)
        )
    if created is None:
        ctx.warn("records without a tstamp: stamped with the time of the import")
    return chats


read = records_reader(NAME, "Chatbot Arena", convert)


def _looks(record: dict[str, Any]) -> bool:
    return "conversation_a" in record and "conversation_b" in record


FORMAT = Format(
    name=NAME,
    title="Chatbot Arena",
    help="Chatbot Arena battles: model B's chat a fork of model A's, winner kept (Parquet or JSON lines)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"question_id", "model_a", "model_b", "winner", "conversation_a", "conversation_b", "judge"}
    ),  # fmt: skip
    example='{"question_id": "q1", "model_a": "gpt-4", "model_b": "claude-v1", "winner": "model_a", "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "conversation_b": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]}',
    streams=True,
)
