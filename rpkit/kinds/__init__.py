"""The event catalogue: every kind declared once, built-ins and extensions alike.

Other modules name a built-in kind by its constant here (``EDGE_UPDATE``), and
build every list of kinds from ``KINDS`` (``TURN_KINDS``, ``CHAT_CREATING``).
"""

from __future__ import annotations

from .builtin import (
    ACTIVITY_LOGGED,
    ASSISTANT_TURN,
    BOT_CREATED,
    CHAT_CREATED,
    CLASSIFIER_FAILED,
    CONTAINER_CREATED,
    EDGE_UPDATE,
    MEMORY_ADDED,
    SCENE_ENDED,
    SCENE_STARTED,
    TURN_HIDDEN,
    USER_TURN,
    YOU_SET,
    touch_chat,
)
from .declaration import COPIED_FROM, YOU, Event, Field, Kind, Ref, Sink, Summary
from .registry import KINDS, handler, kind_spec, register_kind, sql_list

TURN_KINDS = frozenset(k.name for k in KINDS.values() if k.turn)
# The kinds that create a chat (the chat rule "new"), sorted.
CHAT_CREATING = tuple(sorted(k.name for k in KINDS.values() if k.chat == "new"))

__all__ = [
    "ACTIVITY_LOGGED",
    "ASSISTANT_TURN",
    "BOT_CREATED",
    "CHAT_CREATED",
    "CHAT_CREATING",
    "CLASSIFIER_FAILED",
    "CONTAINER_CREATED",
    "COPIED_FROM",
    "EDGE_UPDATE",
    "KINDS",
    "MEMORY_ADDED",
    "SCENE_ENDED",
    "SCENE_STARTED",
    "TURN_HIDDEN",
    "TURN_KINDS",
    "USER_TURN",
    "YOU",
    "YOU_SET",
    "Event",
    "Field",
    "Kind",
    "Ref",
    "Sink",
    "Summary",
    "handler",
    "kind_spec",
    "register_kind",
    "sql_list",
    "touch_chat",
]
