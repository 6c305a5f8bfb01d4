"""The projection handlers, keyed by event kind.

Importing ``rpkit`` registers the built-in handlers (``rpkit.handlers``); an
extension adds its own with ``@handler("my_kind")``. A handler folds one event
into a ``Sink`` (a set of projected tables) and must be a pure function of the
sink and the event, so that every projection path gives the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol


class Event(NamedTuple):
    id: int
    ts: str
    chat_id: int | None
    kind: str
    payload: dict[str, Any]
    cause_id: int | None


class Sink(Protocol):
    """Projected tables as a handler sees them: rows are dicts, keys are tuples."""

    def get(self, table: str, key: tuple) -> dict[str, Any] | None: ...

    def put(self, table: str, row: dict[str, Any]) -> None: ...


Handler = Callable[[Sink, Event], None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the projection of ``kind`` events (replacing any earlier one)."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register
