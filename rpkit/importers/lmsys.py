"""Reading LMSYS-Chat-1M (Parquet or JSON lines): a million conversations with 25 models.

A record is ``{conversation_id, model, conversation: [{role, content}], turn,
language, openai_moderation: [a verdict per message], redacted}``: a chat
between you and the model. Each turn keeps its moderation verdict (``flagged``
and the flagged categories); the chat keeps model, language, redacted and
turn. LMSYS has no times: turns are stamped with the time of the import, with
one warning. The ``conversation_id`` keys the record.
"""

from __future__ import annotations

from typing import Any

from .format import Format
from .plan import Chat
from .records import Context, records_reader
from .wildchat import dataset_chat

NAME = "lmsys"


def convert(where: str, record: dict[str, Any], ctx: Context) -> list[Chat]:
    return [
        dataset_chat(
            where,
            record,
            ctx,
            id_keys=("conversation_id",),
            chat_fields=("model", "language", "redacted", "turn"),
        )
    ]


read = records_reader(NAME, "LMSYS-Chat-1M", convert)


def _looks(record: dict[str, Any]) -> bool:
    return (
        "conversation_id" in record
        and "conversation" in record
        and "conversation_hash" not in record
        and "conversation_a" not in record
    )


FORMAT = Format(
    name=NAME,
    title="LMSYS-Chat-1M",
    help="LMSYS-Chat-1M conversations (Parquet or JSON lines, optionally .gz/.zst)",
    read=read,
    looks=_looks,
    telltales=frozenset(
        {"conversation_id", "model", "conversation", "openai_moderation", "redacted", "language"}
    ),  # fmt: skip
    example='{"conversation_id": "c1", "model": "vicuna-13b", "conversation": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "language": "English"}',
    streams=True,
)
