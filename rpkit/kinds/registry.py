"""The kinds a history may hold, keyed by name: the built-ins and registered extensions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import EventError, UnknownKindError
from .declaration import CHAT_RULES, Effect, Kind, Ref, parse_fields

KINDS: dict[str, Kind] = {}


def declare(kind: Kind) -> Kind:
    """Add a built-in kind (``rpkit.kinds.builtin`` declares them all)."""
    KINDS[kind.name] = kind
    return kind


def builtin_kind(
    name: str, fields: str = "", *, revision: str = "", **options: Any
) -> Callable[[Effect], Effect]:
    """Declare a built-in kind whose effect is the decorated function."""

    def register(effect: Effect) -> Effect:
        spec = Kind(
            name,
            parse_fields(fields),
            revision=parse_fields(revision),
            effect=effect,
            builtin=True,
            **options,
        )
        declare(spec)
        return effect

    return register


def sql_list(names: Iterable[str]) -> str:
    """Kind names as an SQL list, ``'user_turn', 'assistant_turn'``, for ``kind IN (...)``."""
    out = []
    for name in names:
        kind_spec(name)  # a declared kind: its name is an identifier, safe to quote
        out.append(f"'{name}'")
    return ", ".join(out)


def kind_spec(kind: object) -> Kind:
    """The declaration of ``kind``; refuse a name no declaration has."""
    if not isinstance(kind, str) or kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise UnknownKindError(
            f"unknown event kind {kind!r}; use one of: {known} (or register_kind() an extension)"
        )
    return KINDS[kind]


def register_kind(
    name: str,
    fields: str = "",
    *,
    chat: str = "optional",
    refs: tuple[Ref, ...] = (),
    effect: Effect | None = None,
    commutes: bool = False,
    reads: tuple[str, ...] | None = None,
    writes: tuple[str, ...] | None = None,
    reads_own_chat: bool = False,
) -> Kind:
    """Add an extension kind, e.g. ``register_kind("mood_set", "entity:str mood:str")``.

    ``effect(sink, event)`` is how it changes the projected tables (or use
    ``@handler(name)``); set ``commutes`` when the effect reads no turn counts,
    speakers or edges, so rebuilds keep summing those in bulk. ``writes``
    names the tables the effect writes and ``reads`` those whose rows it reads
    to compute a row other than that row itself (``reads=()``: each row it
    writes comes from that row as it was and the event alone); a kind that leaves
    ``reads`` out is treated by a per-chat rewind as reading everything, which
    is correct and slower, and a warning says so. ``reads_own_chat``: the rows
    of ``reads`` it reads are all of the event's own chat (``chat='required'``),
    so a per-chat rewind refolds its events only in chats whose rows changed.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise EventError(f"kind name {name!r} must be an identifier such as 'mood_set'")
    if name in KINDS and KINDS[name].builtin:
        raise EventError(f"{name!r} is a built-in kind and cannot be redefined")
    if chat not in CHAT_RULES[:3]:
        raise EventError(f"chat must be 'never', 'optional' or 'required', not {chat!r}")
    kind = Kind(
        name,
        parse_fields(fields),
        chat=chat,
        refs=tuple(refs),
        effect=effect,
        commutes=commutes,
        reads=None if reads is None else tuple(reads),
        writes=None if writes is None else tuple(writes),
        reads_own_chat=reads_own_chat,
    )
    KINDS[name] = kind
    return kind


def handler(
    kind: str,
    *,
    commutes: bool = False,
    reads: tuple[str, ...] | None = None,
    writes: tuple[str, ...] | None = None,
    reads_own_chat: bool = False,
) -> Callable[[Effect], Effect]:
    """Make the decorated function the effect of ``kind`` (replacing any earlier one).

    Replacing a built-in effect drops the bulk summary that stood for it, so
    rebuilds fold those events one by one (and say so once). ``reads``,
    ``writes`` and ``reads_own_chat`` declare the new effect's tables, as for
    ``register_kind``.
    """

    def register(fn: Effect) -> Effect:
        KINDS[kind] = dataclasses.replace(
            kind_spec(kind),
            effect=fn,
            summary=None,
            commutes=commutes,
            reads=reads,
            writes=writes,
            reads_own_chat=reads_own_chat,
        )
        return fn

    return register
