"""The event catalogue: which kinds exist and what their payloads must hold.

A payload is checked field by field before anything is written, so a bad event
is refused with the name of the field at fault. Extra fields are kept (importers
record where an event came from); missing or mistyped ones are not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import EventError, PayloadError, TimestampError, UnknownKindError

TURN_KINDS = frozenset({"user_turn", "assistant_turn"})

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list"}


@dataclass(frozen=True)
class Field:
    name: str
    type: type
    required: bool = True


@dataclass(frozen=True)
class Kind:
    """A kind of event: its payload fields and whether it belongs to a chat."""

    name: str
    fields: tuple[Field, ...] = ()
    chat: str = "never"  # "never", "optional" or "required"
    extension: bool = field(default=False, compare=False)


_FIELD_TYPES = {"str": str, "int": int, "num": float, "list": list}


def _f(spec: str) -> tuple[Field, ...]:
    """Parse ``"name:str other:int?"`` (``?`` marks an optional field)."""
    out = []
    for item in spec.split():
        name, _, typ = item.partition(":")
        if not name.isidentifier():
            raise EventError(f"field spec {item!r} must start with a field name, e.g. 'mood:str'")
        if typ.rstrip("?") not in _FIELD_TYPES:
            raise EventError(
                f"field {name!r} has unknown type {typ!r}; use one of "
                f"{', '.join(_FIELD_TYPES)} (add ? for optional), e.g. '{name}:str'"
            )
        out.append(Field(name, _FIELD_TYPES[typ.rstrip("?")], not typ.endswith("?")))
    return tuple(out)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("you_set", _f("name:str persona:str?")),
        Kind("bot_created", _f("bot_id:str name:str persona:str?")),
        Kind("chat_created", _f("title:str bot_ids:list"), chat="required"),
        Kind("user_turn", _f("text:str"), chat="required"),
        Kind("assistant_turn", _f("bot_id:str text:str"), chat="required"),
        Kind("edge_update", _f("src:str dst:str delta:num reason:str?"), chat="optional"),
        Kind("memory_added", _f("owner:str text:str salience:num?"), chat="optional"),
        Kind("container_created", _f("container_id:int name:str kind:str? parent_id:int?")),
        Kind("scene_started", _f("container_id:int title:str?"), chat="required"),
        Kind("scene_ended", (), chat="required"),
        Kind("activity_logged", _f("container_id:int entity:str action:str"), chat="optional"),
        Kind("classifier_failed", _f("stage:str error:str"), chat="optional"),
        Kind("turn_hidden", _f("target:int"), chat="required"),
    ]
}


def register_kind(name: str, fields: str = "", *, chat: str = "optional") -> Kind:
    """Add an extension kind, e.g. ``register_kind("mood_set", "entity:str mood:str")``.

    Pair it with a projection handler (``rpkit.projection.handler``) if it changes state.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise EventError(f"kind name {name!r} must be an identifier such as 'mood_set'")
    if name in KINDS and not KINDS[name].extension:
        raise EventError(f"{name!r} is a built-in kind and cannot be redefined")
    if chat not in {"never", "optional", "required"}:
        raise EventError(f"chat must be 'never', 'optional' or 'required', not {chat!r}")
    kind = Kind(name, _f(fields), chat=chat, extension=True)
    KINDS[name] = kind
    return kind


def kind_spec(kind: object) -> Kind:
    if not isinstance(kind, str) or kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise UnknownKindError(
            f"unknown event kind {kind!r}; use one of: {known} (or register_kind() an extension)"
        )
    return KINDS[kind]


def _matches(value: Any, typ: type) -> bool:
    if typ is float:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typ)


def check_payload(kind: str, payload: object) -> Kind:
    """Check ``payload`` against ``kind``; raise PayloadError naming the field."""
    spec = kind_spec(kind)
    if not isinstance(payload, dict):
        raise PayloadError(
            f"the payload of a {kind} event must be a JSON object (a dict), "
            f"not {type(payload).__name__} {payload!r:.80}",
            kind=kind,
        )
    for f in spec.fields:
        if f.name not in payload or payload[f.name] is None:
            if f.required:
                raise PayloadError(
                    f"{kind} payload is missing field {f.name!r} ({_TYPE_NAMES[f.type]}); "
                    f"got fields {sorted(payload)}",
                    kind=kind,
                    field=f.name,
                )
            continue
        value = payload[f.name]
        if not _matches(value, f.type):
            raise PayloadError(
                f"{kind} payload field {f.name!r} must be {_TYPE_NAMES[f.type]}, "
                f"not {type(value).__name__} {value!r:.80}",
                kind=kind,
                field=f.name,
            )
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PayloadError(
            f"{kind} payload cannot be stored as JSON ({exc}); use strings, numbers, lists, dicts",
            kind=kind,
        ) from exc
    return spec


def normalize_ts(ts: object) -> str:
    """Return ``ts`` as ISO-8601 UTC text (``2024-06-05T14:56:50.682000Z``)."""
    if ts is None:
        moment = datetime.now(UTC)
    elif isinstance(ts, datetime):
        moment = ts
    elif isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts.replace("Z", "+00:00") if ts.endswith("Z") else ts)
        except ValueError as exc:
            raise TimestampError(
                f"timestamp {ts!r} is not ISO-8601; write e.g. '2024-06-05T14:56:50Z'"
            ) from exc
    else:
        raise TimestampError(
            f"timestamp {ts!r} must be an ISO-8601 string or a datetime, not {type(ts).__name__}"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TimestampError(
            f"timestamp {ts!r} has no time zone; give one (e.g. '+00:00' or 'Z') so it is not guessed"
        )
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
