"""Reading PIPPA, the roleplay dataset of Character.AI conversations (JSON lines or Parquet).

A record is ``{submission_timestamp, categories, bot_id, bot_name,
bot_greeting, bot_definitions, bot_description, conversation: [{message,
is_human}]}``: a chat between you and the bot, whose persona (description and
definitions) goes into its ``bot_created``. The greeting is the first bot turn
when the conversation does not already begin with it. PIPPA has no times per
message: turns take the record's ``submission_timestamp`` (or the time of the
import), with one warning. A record has no id of its own (a bot has many
conversations): it is keyed by a hash of its content.
"""

from __future__ import annotations

from typing import Any

from .format import Format
from .plan import Chat, Turn
from .records import Context, Skip, fields, record_chat, record_key, records_reader, when

NAME = "pippa"


def convert(where: str, record: dict[str, Any], ctx: Context) -> list[Chat]:
    conv = record.get("conversation")
    if conv is not None and not isinstance(conv, list):
        raise Skip(f"'conversation' must be a list of messages, not {type(conv).__name__}")
    name = record.get("bot_name")
    bot = name.strip() if isinstance(name, str) and name.strip() else None
    bot = bot or (str(record["bot_id"]) if isinstance(record.get("bot_id"), str) else "Bot")
    ref = record_key(record)
    turns: list[Turn] = []
    for j, msg in enumerate(conv or []):
        if not isinstance(msg, dict):
            raise Skip(f"message {j} must be an object, not {type(msg).__name__}")
        text, human = msg.get("message"), msg.get("is_human")
        if text is not None and not isinstance(text, str):
            raise Skip(f"message {j}: 'message' must be a string, not {type(text).__name__}")
        if not isinstance(human, bool):
            raise Skip(f"message {j}: 'is_human' must be true or false, not {human!r}")
        if not (text or "").strip():
            ctx.skip("empty message")
            continue
        turns.append(Turn(f"{j}", "user" if human else "bot", text, speaker=None if human else bot))
    greeting = record.get("bot_greeting")
    opens = bool(turns) and turns[0].role == "bot"
    if (
        isinstance(greeting, str)
        and greeting.strip()
        and not (opens and turns[0].text.strip() == greeting.strip())
    ):
        turns.insert(0, Turn("greeting", "bot", greeting, speaker=bot))
    created = when(record.get("submission_timestamp"), ctx, where)
    ctx.warn(
        "PIPPA has no times per message: turns are stamped with the record's "
        "submission_timestamp (or the time of the import)"
    )
    persona = fields(record, ("bot_description", "bot_definitions"))
    keys = ("bot_description", "bot_definitions")
    described = [v.strip() for k in keys if isinstance(v := persona.get(k), str)]
    if any(described):  # the bots table's persona: the description, then the definitions
        persona["persona"] = "\n\n".join(d for d in described if d)
    for t in turns:
        t.ts = created
    extra = fields(record, ("bot_id", "categories"))
    return [
        record_chat(
            ctx, ref, bot, turns, title=bot, created=created, extra=extra, bot_extra={bot: persona}
        )
    ]


read = records_reader(NAME, "PIPPA", convert)


def _looks(record: dict[str, Any]) -> bool:
    return "bot_id" in record and "conversation" in record and "is_human" in str(
        record.get("conversation"))[:2000]  # fmt: skip


FORMAT = Format(
    name=NAME,
    title="PIPPA",
    help="PIPPA roleplay conversations (JSON lines or Parquet, optionally .gz/.zst)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"bot_id", "bot_name", "bot_greeting", "bot_definitions", "conversation", "is_human"}
    ),  # fmt: skip
    example='{"bot_id": "b1", "bot_name": "Mira", "bot_greeting": "Hi!", "conversation": [{"message": "Hi!", "is_human": false}, {"message": "Hello", "is_human": true}]}',
    streams=True,
)
