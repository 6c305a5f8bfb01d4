"""Reading Hugging Face preference sets: ``prompt``/``chosen``/``rejected`` (TRL's shapes).

A record is ``{prompt, chosen, rejected}``, conversational (lists of ``{role,
content}``) or plain text (strings), with or without ``prompt`` (TRL's
"implicit prompt": ``chosen`` and ``rejected`` are whole conversations that
share their beginning). It becomes a chat whose transcript is the prompt and
``chosen``; at the first message where ``rejected`` differs, the rejected reply
is a retired alternative replaced by the chosen one (``revision: rejected``),
so the shared beginning is written once and the pair can be read back. A
``rejected`` that goes on past that reply keeps only the reply (a warning).
The record's ``id`` (or ``prompt_id``) keys it, else a hash of its content;
scores and other plain fields go into the chat's payload.
"""

from __future__ import annotations

from typing import Any

from .format import Format
from .plan import Chat, Turn
from .records import (
    Context,
    Skip,
    conversation,
    fields,
    record_chat,
    record_id,
    record_key,
    records_reader,
)

NAME = "preference"
BOT = "Assistant"
CHAT_FIELDS = ("score_chosen", "score_rejected", "source", "model", "chosen_model", "rejected_model", "language")  # fmt: skip


def _side(value: Any, role: str, ref: str, ctx: Context, where: str) -> list[Turn]:
    if value is None:
        return []
    if isinstance(value, str):
        return [Turn(f"{ref}/0", "user" if role == "user" else "bot", value,
                     speaker=None if role == "user" else BOT)] if value.strip() else []  # fmt: skip
    return conversation(value, ref, BOT, ctx, where)


def pair_chat(
    ref: str,
    prompt: list[Turn],
    chosen: list[Turn],
    rejected: list[Turn],
    ctx: Context,
    where: str,
    extra: dict[str, Any],
) -> Chat:
    """A chat of ``prompt + chosen`` in which the first differing ``rejected`` message is retired."""
    ours, theirs = prompt + chosen, prompt + rejected
    k = 0
    while (
        k < len(ours)
        and k < len(theirs)
        and ours[k].role == theirs[k].role
        and ours[k].text == theirs[k].text
    ):
        k += 1
    turns = list(ours)
    for i, t in enumerate(turns):
        t.ref = f"c{i}" if i >= k else f"p{i}"
    if k < len(theirs) and k < len(turns):
        alt = theirs[k]
        alt.ref = f"r{k}"
        turns[k].alternatives.append(alt)
        if len(theirs) > k + 1:
            ctx.warn(
                "rejected goes on past its first differing message: only that one is kept", where
            )
    elif k < len(theirs) or k == len(ours) == len(theirs):
        ctx.warn(
            "chosen and rejected do not differ where a reply could be retired: no alternative kept",
            where,
        )
    ctx.warn("preference sets have no times: turns are stamped with the time of the import")
    return record_chat(ctx, ref, BOT, turns, extra=extra)


def convert(where: str, record: dict[str, Any], ctx: Context) -> list[Chat]:
    if "chosen" not in record and "chosen_messages" in record:  # LLaMA-Factory's v1 shape
        record = {**record, "chosen": record["chosen_messages"],
                  "rejected": record.get("rejected_messages")}  # fmt: skip
    if "chosen" not in record or "rejected" not in record:
        raise Skip("a preference record needs 'chosen' and 'rejected'")
    ref = record_id(record, "id", "prompt_id") or record_key(record)
    prompt = _side(record.get("prompt"), "user", "p", ctx, where)
    chosen = _side(record.get("chosen"), "bot", "c", ctx, where)
    rejected = _side(record.get("rejected"), "bot", "r", ctx, where)
    return [pair_chat(ref, prompt, chosen, rejected, ctx, where, fields(record, CHAT_FIELDS))]


read = records_reader(NAME, "preference", convert)


def _looks(record: dict[str, Any]) -> bool:
    pair = ("chosen" in record and "rejected" in record) or "chosen_messages" in record
    return pair and not _hh_text(record)


def _hh_text(record: dict[str, Any]) -> bool:
    chosen = record.get("chosen")
    return "prompt" not in record and isinstance(chosen, str) and "\n\nHuman:" in chosen


FORMAT = Format(
    name=NAME,
    title="preference pairs (TRL prompt/chosen/rejected)",
    help="a Hugging Face preference set: prompt/chosen/rejected, conversational or text",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"prompt", "chosen", "rejected", "score_chosen", "score_rejected"}
    ),  # fmt: skip
    example='{"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "assistant", "content": "Go away."}]}',
    revision="rejected",
    streams=True,
)
