"""The event log: reading events, checking new ones, appending, and edits."""

from __future__ import annotations

from .append import append, append_replacing, retire
from .edits import edit_turn, hide_turn, regenerate_turn
from .read import get_event, get_turn, live_turn, next_chat_id
from .validate import check_payload, check_references, normalize_ts

__all__ = [
    "append",
    "append_replacing",
    "check_payload",
    "check_references",
    "edit_turn",
    "get_event",
    "get_turn",
    "hide_turn",
    "live_turn",
    "next_chat_id",
    "normalize_ts",
    "regenerate_turn",
    "retire",
]
