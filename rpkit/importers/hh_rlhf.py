"""Reading Anthropic HH-RLHF in its text form: ``{"chosen": "\\n\\nHuman: …\\n\\nAssistant: …", "rejected": …}``.

Each side is one text of ``\\n\\nHuman:`` and ``\\n\\nAssistant:`` blocks. The
two share their beginning, which is written once; the first block where
``rejected`` differs is a retired alternative of ``chosen``'s (as in
``preference``). Records have no id: a hash of the content keys each.
"""

from __future__ import annotations

import re
from typing import Any

from .format import Format
from .plan import Chat, Turn
from .preference import BOT, pair_chat
from .records import Context, Skip, record_key, records_reader

NAME = "hh_rlhf"
LABEL = re.compile(r"\n\n(Human|Assistant):")


def blocks(text: Any, side: str) -> list[Turn]:
    """The turns of one side's text."""
    if not isinstance(text, str):
        raise Skip(
            f"'{side}' must be a text of Human:/Assistant: blocks, not {type(text).__name__}"
        )
    parts = LABEL.split(text)
    turns = []
    if parts[0].strip():  # text before the first label: a hidden preamble
        turns.append(Turn("0", "user", parts[0].strip(), hidden=True, extra={"role": "preamble"}))
    for j in range(1, len(parts) - 1, 2):
        who, body = parts[j], parts[j + 1].strip()
        if not body:
            continue
        human = who == "Human"
        turns.append(Turn(str(j), "user" if human else "bot", body, speaker=None if human else BOT))
    return turns


def convert(where: str, record: dict[str, Any], ctx: Context) -> list[Chat]:
    chosen, rejected = (
        blocks(record.get("chosen"), "chosen"),
        blocks(record.get("rejected"), "rejected"),
    )
    return [pair_chat(record_key(record), [], chosen, rejected, ctx, where, {})]


read = records_reader(NAME, "HH-RLHF", convert)


def _looks(record: dict[str, Any]) -> bool:
    chosen = record.get("chosen")
    return "prompt" not in record and isinstance(chosen, str) and "\n\nHuman:" in chosen


FORMAT = Format(
    name=NAME,
    title="Anthropic HH-RLHF",
    help="Anthropic HH-RLHF pairs in text form (\\n\\nHuman: ... \\n\\nAssistant: ...)",
    read=read,
    looks=_looks,
    telltales=frozenset({"chosen", "rejected"}),
    example='{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!", "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away."}',
    revision="rejected",
    streams=True,
)
