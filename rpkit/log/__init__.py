"""The event log: reading events, checking new ones, appending, and edits."""

from __future__ import annotations

from .append import append, append_many, append_replacing, retire
from .edits import edit_turn, hide_turn, regenerate_turn
from .places import transcript_places
from .read import chat_created_at, check_chat, get_event, get_turn, live_turn, next_chat_id
from .validate import check_payload, check_references, normalize_ts, payload_json

__all__ = [
    "append",
    "append_many",
    "append_replacing",
    "chat_created_at",
    "check_chat",
    "check_payload",
    "check_references",
    "edit_turn",
    "get_event",
    "get_turn",
    "hide_turn",
    "live_turn",
    "next_chat_id",
    "normalize_ts",
    "payload_json",
    "regenerate_turn",
    "retire",
    "transcript_places",
]
