"""What a kind of event is, declared once: fields, chat, references, retirement, effect.

A ``Kind`` is read by every engine: the log checks a payload and its
references against it, edits read its revision fields, the projection folds
an event through its ``effect``, and frames type its payload columns from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from ..errors import EventError

FIELD_TYPES: dict[str, type] = {"str": str, "int": int, "num": float, "list": list}
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list"}
CHAT_RULES = ("never", "optional", "required", "new")
# The payload field a fork's copy of a turn names its original with (DESIGN §11).
COPIED_FROM = "forked_from"
# The user's entity id: the speaker of user turns, an end of affinity edges (DESIGN §2).
YOU = "you"


class Event(NamedTuple):
    """One event as the projection sees it (visible, payload decoded)."""

    id: int
    ts: str
    chat_id: int | None
    kind: str
    payload: dict[str, Any]
    cause_id: int | None


class Sink(Protocol):
    """Projected tables as an effect sees them: rows are dicts, keys are tuples.

    ``put`` writes a whole row; ``patch`` changes some columns of an existing
    row (and does nothing when there is none). An effect never changes a row
    dict it was given: it puts a new one or patches.
    """

    def get(self, table: str, key: tuple) -> dict[str, Any] | None: ...

    def put(self, table: str, row: dict[str, Any]) -> None: ...

    def patch(self, table: str, key: tuple, changes: dict[str, Any]) -> None: ...


Effect = Callable[[Sink, Event], None]


@dataclass(frozen=True)
class Field:
    """A payload field: its name, its JSON type, and whether it must be there."""

    name: str
    type: type
    required: bool = True


@dataclass(frozen=True)
class Ref:
    """A payload field whose value names a row of a projected table.

    ``new``: the row must not exist yet (the event creates it), and ``reserved``
    values are refused too; otherwise it must exist. ``each``: the field is a
    list of such names.
    """

    field: str
    table: str
    noun: str
    new: bool = False
    each: bool = False
    reserved: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Summary:
    """The combined effect of many events of ``kinds``, applied at once.

    A rebuild folds the part of the log it keeps no rollback entries for with
    ``apply(conn, tables, prefix, at)`` instead of event by event. It is valid
    while these kinds keep the effects it summarises and every other kind in
    that part of the log ``commutes`` (does not read what the summary writes).
    """

    kinds: tuple[str, ...]
    apply: Callable[..., bool]


@dataclass(frozen=True)
class Kind:
    """A kind of event, declared once and read by every engine.

    ``chat``: ``never`` (world-level), ``optional``, ``required``, or ``new``
    (the event creates the chat named by its ``chat_id``). ``refs``: fields
    that name rows which must (or must not yet) exist. ``differ``: two fields
    that must not be equal. ``retires``: a field naming a live turn of the same
    chat that the event retires. ``turn`` and ``speaker``: the event is a turn,
    said by the bot its ``speaker`` field names (None: the user, ``you``).
    ``revision``: fields an edit adds to a turn. ``effect``: how the event
    changes the projected tables; ``writes``: the tables it writes; ``reads``:
    the tables whose rows it reads to compute a row other than that row
    itself: each row it writes comes from the event, that row as it was, and
    rows of ``reads`` (a read-modify-write of its own row needs no entry, and
    the scene kinds read the chat's ``chat_state`` to find the scene they
    close); None: not declared, which a per-chat rewind treats as reading
    everything. ``reads_own_chat``: every row of ``reads`` it reads belongs
    to the event's own chat (its ``chat_id`` column holds the event's chat),
    so a per-chat rewind refolds it only in a chat whose rows changed (it
    needs ``chat='required'`` and ``reads``, else an ``EventError``).
    ``commutes``: the effect reads nothing a ``summary`` writes (turn counts,
    speakers, edges).
    """

    name: str
    fields: tuple[Field, ...] = ()
    chat: str = "optional"
    refs: tuple[Ref, ...] = ()
    differ: tuple[str, str] | None = None
    retires: str | None = None
    turn: bool = False
    speaker: str | None = None
    revision: tuple[Field, ...] = ()
    effect: Effect | None = field(default=None, compare=False)
    summary: Summary | None = field(default=None, compare=False)
    reads: tuple[str, ...] | None = field(default=None, compare=False)
    writes: tuple[str, ...] | None = field(default=None, compare=False)
    reads_own_chat: bool = field(default=False, compare=False)
    commutes: bool = False
    builtin: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.reads_own_chat and (self.chat != "required" or not self.reads):
            raise EventError(
                f"kind {self.name!r} declares reads_own_chat=True with chat={self.chat!r} and "
                f"reads={self.reads!r}: it needs chat='required' and the tables it reads in "
                "reads=(...); leave reads_own_chat out if the effect may read rows of other chats"
            )

    def speaker_in(self, payload: dict[str, Any]) -> str | None:
        """Who says a turn of this kind: ``you``, or the bot its ``speaker`` field names."""
        return YOU if self.speaker is None else payload.get(self.speaker)

    def field_types(self) -> dict[str, type]:
        """Payload field name -> type, the revision fields of a turn included."""
        return {f.name: f.type for f in (*self.fields, *self.revision)}


def parse_fields(spec: str) -> tuple[Field, ...]:
    """Parse ``"name:str other:int?"`` (``?`` marks an optional field)."""
    out = []
    for item in spec.split():
        name, _, typ = item.partition(":")
        if not name.isidentifier():
            raise EventError(f"field spec {item!r} must start with a field name, e.g. 'mood:str'")
        if typ.rstrip("?") not in FIELD_TYPES:
            raise EventError(
                f"field {name!r} has unknown type {typ!r}; use one of "
                f"{', '.join(FIELD_TYPES)} (add ? for optional), e.g. '{name}:str'"
            )
        out.append(Field(name, FIELD_TYPES[typ.rstrip("?")], not typ.endswith("?")))
    return tuple(out)
