"""Reading WildChat (Parquet or JSON lines): a million real conversations with ChatGPT.

A record is ``{conversation_hash, model, timestamp, conversation: [{role,
content, timestamp, language, toxic, redacted, ...}], turn, language,
openai_moderation, detoxify_moderation, toxic, redacted, country, state}``:
a chat between you and the model (the bot is named for it). Per-turn times
are used where present (the record's ``timestamp`` elsewhere); each turn keeps
its ``language``, ``toxic``, ``redacted`` and ``turn_identifier`` in its
payload, with its OpenAI moderation verdict (``flagged`` and the flagged
categories); the chat keeps model, language, toxic, redacted, country and
state. The ``conversation_hash`` keys the record.
"""

from __future__ import annotations

from typing import Any

from .format import Format
from .plan import Chat
from .records import (
    Context,
    conversation,
    fields,
    record_chat,
    record_id,
    record_key,
    records_reader,
    when,
)

NAME = "wildchat"
TURN_FIELDS = ("language", "toxic", "redacted", "turn_identifier", "country", "state")
CHAT_FIELDS = ("model", "language", "toxic", "redacted", "country", "state", "turn")


def moderation(verdict: Any) -> dict[str, Any] | None:
    """An OpenAI moderation result as ``{flagged, categories: [the flagged ones]}``."""
    if not isinstance(verdict, dict):
        return None
    cats = verdict.get("categories")
    flagged = sorted(k for k, v in cats.items() if v is True) if isinstance(cats, dict) else []
    return {"flagged": verdict.get("flagged") is True, "categories": flagged}


def dataset_chat(
    where: str,
    record: dict[str, Any],
    ctx: Context,
    *,
    id_keys: tuple[str, ...],
    chat_fields: tuple[str, ...],
    turn_fields: tuple[str, ...] = (),
    time_key: str | None = None,
) -> Chat:
    """The chat of a ``{id, model, conversation: [{role, content}]}`` record (WildChat, LMSYS)."""
    ref = record_id(record, *id_keys) or record_key(record)
    model = record.get("model")
    bot = model if isinstance(model, str) and model.strip() else "Assistant"
    messages = record.get("conversation")
    turns = conversation(messages, ref, bot, ctx, where, time_key=time_key)
    verdicts = record.get("openai_moderation")
    by_ref = {}
    if isinstance(messages, list):
        for j, msg in enumerate(messages):
            extra = fields(msg, turn_fields) if isinstance(msg, dict) else {}
            verdict = verdicts[j] if isinstance(verdicts, list) and j < len(verdicts) else None
            if (m := moderation(verdict)) is not None:
                extra["moderation"] = m
            by_ref[f"{ref}/{j}"] = extra
    for t in turns:
        t.extra.update(by_ref.get(t.ref, {}))
        if t.role == "bot" and isinstance(model, str):
            t.extra["model"] = model
    created = when(record.get("timestamp") or record.get("tstamp"), ctx, where)
    if created is None and not any(t.ts for t in turns):
        ctx.warn("records without a time: stamped with the time of the import")
    extra = {"conversation_id": ref, **fields(record, chat_fields)}
    return record_chat(ctx, ref, bot, turns, created=created, extra=extra)


def convert(where: str, record: dict[str, Any], ctx: Context) -> list[Chat]:
    return [
        dataset_chat(
            where,
            record,
            ctx,
            id_keys=("conversation_hash", "conversation_id"),
            chat_fields=CHAT_FIELDS,
            turn_fields=TURN_FIELDS,
            time_key="timestamp",
        )
    ]


read = records_reader(NAME, "WildChat", convert)


def _looks(record: dict[str, Any]) -> bool:
    return "conversation_hash" in record and "conversation" in record


FORMAT = Format(
    name=NAME,
    title="WildChat",
    help="WildChat conversations (Parquet or JSON lines, optionally .gz/.zst)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"conversation_hash", "model", "timestamp", "conversation", "toxic", "redacted"}
    ),  # fmt: skip
    example='{"conversation_hash": "9f1c", "model": "gpt-4", "timestamp": "2023-04-09T00:02:53Z", "conversation": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}',
    streams=True,
)
