"""The event catalogue: every kind declared once, built-ins and extensions alike."""

from __future__ import annotations

from .builtin import touch_chat
from .declaration import COPIED_FROM, Event, Field, Kind, Ref, Sink, Summary
from .registry import KINDS, handler, kind_spec, register_kind

TURN_KINDS = frozenset(k.name for k in KINDS.values() if k.turn)

__all__ = [
    "COPIED_FROM",
    "KINDS",
    "TURN_KINDS",
    "Event",
    "Field",
    "Kind",
    "Ref",
    "Sink",
    "Summary",
    "handler",
    "kind_spec",
    "register_kind",
    "touch_chat",
]
