"""Checking an event before it is written: its payload, time, chat and references.

One generic checker reads the kind's declaration (``rpkit.kinds``), so a bad
event is refused with the name of the field at fault before a row is written.
Extra payload fields are kept (importers record where an event came from);
missing or mistyped ones are not.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from ..errors import AlreadyRetiredError, PayloadError, TimestampError, UnknownReferenceError
from ..kinds import KINDS, Kind, Ref, Sink, kind_spec
from ..kinds.declaration import TYPE_NAMES
from ..store import is_id, plain_id
from ..store.sqlite import sqlite3
from .read import live_turn


def _matches(value: Any, typ: type) -> bool:
    if typ is float:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if typ is int:
        return is_id(value)
    return isinstance(value, typ)


def json_value(value: object) -> object:
    """``json.dumps``' fallback: a numpy integer (an id read from a frame) as an int."""
    if is_id(value):
        return int(value)
    raise TypeError(f"{type(value).__name__} {value!r:.40} is not a JSON value")


def payload_json(payload: dict[str, Any]) -> str:
    """The payload as the JSON text the log stores."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, default=json_value)


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
                    f"{kind} payload is missing field {f.name!r} ({TYPE_NAMES[f.type]}); "
                    f"got fields {sorted(payload)}",
                    kind=kind,
                    field=f.name,
                )
            continue
        value = payload[f.name]
        if not _matches(value, f.type):
            raise PayloadError(
                f"{kind} payload field {f.name!r} must be {TYPE_NAMES[f.type]}, "
                f"not {type(value).__name__} {value!r:.80}",
                kind=kind,
                field=f.name,
            )
    try:
        payload_json(payload)
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


def _check_chat(conn: sqlite3.Connection, sink: Sink, spec: Kind, chat_id: object) -> None:
    kind = spec.name
    if chat_id is not None and not is_id(chat_id):
        raise PayloadError(
            f"chat_id must be an int or None, not {chat_id!r}", kind=kind, field="chat_id"
        )
    if spec.chat == "new":
        if chat_id is None or chat_id < 1:
            raise PayloadError(
                f"{kind} needs the new chat's id as chat_id= (got {chat_id!r}); "
                "next_chat_id(conn) gives a free one",
                kind=kind,
                field="chat_id",
            )
        used = conn.execute("SELECT 1 FROM event_log WHERE chat_id = ? LIMIT 1", (chat_id,))
        if used.fetchone():
            raise PayloadError(
                f"chat id {chat_id} is already used; next_chat_id(conn) gives a free one",
                kind=kind,
                field="chat_id",
            )
    elif spec.chat == "required" and chat_id is None:
        raise PayloadError(
            f"a {kind} event belongs to a chat: pass chat_id=", kind=kind, field="chat_id"
        )
    elif spec.chat == "never" and chat_id is not None:
        raise PayloadError(
            f"a {kind} event is world-level: leave chat_id unset (got {chat_id})",
            kind=kind,
            field="chat_id",
        )
    elif chat_id is not None and not sink.get("chats", (chat_id,)):
        raise UnknownReferenceError(
            f"chat {chat_id} does not exist; create it with a chat_created event first"
        )


def _check_cause(conn: sqlite3.Connection, kind: str, cause_id: object) -> None:
    if cause_id is None:
        return
    if not is_id(cause_id):
        raise PayloadError(
            f"cause_id must be an int event id, not {cause_id!r}", kind=kind, field="cause_id"
        )
    row = conn.execute("SELECT superseded_by FROM event_log WHERE id = ?", (cause_id,)).fetchone()
    if row is None:
        raise UnknownReferenceError(f"cause_id {cause_id} is not an event of this history")
    if row[0] is not None:
        raise AlreadyRetiredError(
            f"cause_id {cause_id} was retired by event {row[0]}; derive from the live turn"
        )


def _creator(table: str) -> str:
    """The kind that creates rows of ``table`` (the one with a ``new`` reference to it)."""
    for spec in KINDS.values():
        if any(r.new and r.table == table for r in spec.refs):
            return spec.name
    return "another"


def _check_ref(sink: Sink, kind: str, ref: Ref, payload: dict[str, Any]) -> None:
    values = payload.get(ref.field)
    if values is None:
        return
    for value in values if ref.each else [values]:
        value = plain_id(value)
        exists = isinstance(value, str | int) and sink.get(ref.table, (value,)) is not None
        if ref.new and (exists or value in ref.reserved):
            raise PayloadError(
                f"{ref.noun} {value!r} is taken; choose another", kind=kind, field=ref.field
            )
        if not ref.new and not exists:
            raise UnknownReferenceError(
                f"{kind} names {ref.noun} {value!r}, which does not exist; create it first "
                f"with a {_creator(ref.table)} event"
            )


def check_references(
    conn: sqlite3.Connection,
    sink: Sink,
    spec: Kind,
    payload: dict[str, Any],
    chat_id: object,
    cause_id: object,
) -> None:
    """Refuse an event whose chat, cause or named rows do not fit its declaration."""
    _check_chat(conn, sink, spec, chat_id)
    _check_cause(conn, spec.name, cause_id)
    for ref in spec.refs:
        _check_ref(sink, spec.name, ref, payload)
    if spec.differ is not None:
        a, b = spec.differ
        if payload[a] == payload[b]:
            raise PayloadError(
                f"{spec.name} from {payload[a]!r} to itself; {a} and {b} must differ",
                kind=spec.name,
                field=b,
            )
    if spec.retires is not None:
        target = live_turn(conn, payload[spec.retires], "hide")
        if target.chat_id != chat_id:
            raise PayloadError(
                f"turn {payload[spec.retires]} belongs to chat {target.chat_id}, not {chat_id}",
                kind=spec.name,
                field=spec.retires,
            )
