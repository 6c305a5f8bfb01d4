"""The built-in kinds (DESIGN §2): each declared once, with its effect beside it.

An effect folds one visible event into a ``Sink`` and is a pure function of
the sink and the event, so that every projection path gives the same tables.
``TOUCHES`` sums the effects of turns, hides and affinity updates in bulk for
rebuilds; it is defined here, next to the effects it stands for.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..store.sqlite import sqlite3
from ..store.visibility import visible_at
from .declaration import YOU, Event, Ref, Sink, Summary
from .registry import KINDS, builtin_kind, sql_list

# Each kind's name, written once: other modules refer to a kind by these.
YOU_SET, BOT_CREATED, CHAT_CREATED = "you_set", "bot_created", "chat_created"
USER_TURN, ASSISTANT_TURN, TURN_HIDDEN = "user_turn", "assistant_turn", "turn_hidden"
EDGE_UPDATE, MEMORY_ADDED, CLASSIFIER_FAILED = "edge_update", "memory_added", "classifier_failed"
CONTAINER_CREATED, ACTIVITY_LOGGED = "container_created", "activity_logged"
SCENE_STARTED, SCENE_ENDED = "scene_started", "scene_ended"


def touch_chat(sink: Sink, ev: Event, **changes: Any) -> None:
    """Record ``ev`` as its chat's newest event, with any other chat_state changes."""
    if ev.chat_id is not None:
        sink.patch("chat_state", (ev.chat_id,), {"last_event_id": ev.id, **changes})


# -- the bulk summary of turns, hides and affinity updates ----------------------------
_SUMMED = (USER_TURN, ASSISTANT_TURN, TURN_HIDDEN, EDGE_UPDATE)
_VISIBLE = f"id >= 1 AND {visible_at()}"
_EDGE_UPDATES = f"SELECT id, payload FROM event_log WHERE kind = ? AND {_VISIBLE} ORDER BY id"


def _chat_queries() -> tuple[str, str]:
    """A chat's touches and its last turn, with the kind lists read from ``KINDS``."""
    turns = sql_list(n for n in _SUMMED if KINDS[n].turn)
    since = f"WHERE chat_id = ? AND id > ? AND {visible_at()}"
    return (
        f"SELECT SUM(kind IN ({turns})), MAX(id) FROM event_log {since} "
        f"AND kind IN ({sql_list(_SUMMED)})",
        f"SELECT kind, payload FROM event_log {since} AND kind IN ({turns}) "
        "ORDER BY id DESC LIMIT 1",
    )


def _sum_touches(
    conn: sqlite3.Connection, tables: dict[str, dict[tuple, dict[str, Any]]], prefix: int, at: int
) -> bool:
    """Apply every turn, hide and affinity update of ``1..prefix`` visible at ``at``.

    These are nine events in ten. Besides ``edges`` (summed pair by pair in log
    order, from a narrow query) they only touch their chat's ``chat_state``
    (turn count, speaker, newest event), and no effect that ``commutes`` reads
    what they change: so after the other kinds are folded, each chat's row
    gets, in one indexed query, the turns and touches after its
    ``chat_created``. Returns False when a chat_state row has no chat.
    """
    edges = tables["edges"]
    for id_, payload in conn.execute(_EDGE_UPDATES, (EDGE_UPDATE, prefix, at)):
        p = orjson.loads(payload)
        key = (p["src"], p["dst"])
        old = edges.get(key)
        if old:
            old["affinity"] = float(old["affinity"] + p["delta"])
            old["updates"] += 1
            old["last_event_id"] = id_
        else:
            edges[key] = {
                "src": p["src"],
                "dst": p["dst"],
                "affinity": float(0.0 + p["delta"]),
                "updates": 1,
                "last_event_id": id_,
            }
    chats = tables["chats"]
    chat_touches, last_turn = _chat_queries()
    for (chat,), row in tables["chat_state"].items():
        created = chats.get((chat,))
        if created is None:
            return False
        since = created["created_event_id"]
        turns, newest = conn.execute(chat_touches, (chat, since, prefix, at)).fetchone()
        if newest is None:
            continue
        row["last_event_id"] = max(row["last_event_id"], newest)
        if turns:
            row["turn_count"] += turns
            kind, payload = conn.execute(last_turn, (chat, since, prefix, at)).fetchone()
            row["last_speaker"] = KINDS[kind].speaker_in(orjson.loads(payload))
    return True


TOUCHES = Summary(_SUMMED, _sum_touches)


# -- the kinds ------------------------------------------------------------------------


@builtin_kind(
    YOU_SET, "name:str persona:str?", chat="never", commutes=True, reads=(), writes=("you_entity",)
)
def you_set(sink: Sink, ev: Event) -> None:
    old = sink.get("you_entity", (1,))
    persona = ev.payload.get("persona")
    if persona is None and old is not None:
        persona = old["persona"]
    sink.put("you_entity", {"id": 1, "name": ev.payload["name"], "persona": persona})


@builtin_kind(
    BOT_CREATED,
    "bot_id:str name:str persona:str?",
    chat="never",
    refs=(Ref("bot_id", "bots", "bot id", new=True, reserved=(YOU,)),),
    commutes=True,
    reads=(),
    writes=("bots",),
)
def bot_created(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sink.put(
        "bots",
        {
            "id": p["bot_id"],
            "name": p["name"],
            "persona": p.get("persona"),
            "created_event_id": ev.id,
        },
    )


@builtin_kind(
    CHAT_CREATED,
    "title:str bot_ids:list parent_chat_id:int? forked_from_event_id:int?",
    chat="new",
    refs=(
        Ref("bot_ids", "bots", "bot", each=True),
        Ref("parent_chat_id", "chats", "parent chat"),
    ),
    commutes=True,
    reads=(),
    writes=("chats", "chat_state"),
)
def chat_created(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sink.put(
        "chats",
        {
            "id": ev.chat_id,
            "title": p["title"],
            "created_event_id": ev.id,
            "created_at": ev.ts,
            "parent_chat_id": p.get("parent_chat_id"),
            "forked_from_event_id": p.get("forked_from_event_id"),
        },
    )
    sink.put(
        "chat_state",
        {
            "chat_id": ev.chat_id,
            "turn_count": 0,
            "last_event_id": ev.id,
            "last_speaker": None,
            "current_scene_id": None,
        },
    )


def _turn(sink: Sink, ev: Event, speaker: str) -> None:
    row = sink.get("chat_state", (ev.chat_id,))
    count = row["turn_count"] if row is not None else 0
    touch_chat(sink, ev, turn_count=count + 1, last_speaker=speaker)


_REVISION = "revision:str replaces:int"


@builtin_kind(
    USER_TURN,
    "text:str",
    chat="required",
    turn=True,
    revision=_REVISION,
    summary=TOUCHES,
    commutes=True,
    reads=(),
    writes=("chat_state",),
)
def user_turn(sink: Sink, ev: Event) -> None:
    _turn(sink, ev, YOU)


@builtin_kind(
    ASSISTANT_TURN,
    "bot_id:str text:str",
    chat="required",
    refs=(Ref("bot_id", "bots", "bot"),),
    turn=True,
    speaker="bot_id",
    revision=_REVISION,
    summary=TOUCHES,
    commutes=True,
    reads=(),
    writes=("chat_state",),
)
def assistant_turn(sink: Sink, ev: Event) -> None:
    _turn(sink, ev, ev.payload["bot_id"])


@builtin_kind(
    EDGE_UPDATE,
    "src:str dst:str delta:num reason:str?",
    differ=("src", "dst"),
    summary=TOUCHES,
    commutes=True,
    reads=(),
    writes=("edges", "chat_state"),
)
def edge_update(sink: Sink, ev: Event) -> None:
    p = ev.payload
    key = (p["src"], p["dst"])
    old = sink.get("edges", key)
    if old is None:
        row = {"src": p["src"], "dst": p["dst"], "affinity": float(0.0 + p["delta"])}
        sink.put("edges", {**row, "updates": 1, "last_event_id": ev.id})
    else:
        affinity = float(old["affinity"] + p["delta"])
        changes = {"affinity": affinity, "updates": old["updates"] + 1, "last_event_id": ev.id}
        sink.patch("edges", key, changes)
    touch_chat(sink, ev)


@builtin_kind(
    MEMORY_ADDED,
    "owner:str text:str salience:num?",
    commutes=True,
    reads=(),
    writes=("memories", "chat_state"),
)
def memory_added(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sal = p.get("salience")
    row = {"id": ev.id, "chat_id": ev.chat_id, "owner": p["owner"], "text": p["text"]}
    sink.put("memories", {**row, "salience": None if sal is None else float(sal)})
    touch_chat(sink, ev)


@builtin_kind(
    CONTAINER_CREATED,
    "container_id:int name:str kind:str? parent_id:int?",
    chat="never",
    refs=(
        Ref("container_id", "containers", "container id", new=True),
        Ref("parent_id", "containers", "parent container"),
    ),
    commutes=True,
    reads=(),
    writes=("containers",),
)
def container_created(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sink.put(
        "containers",
        {
            "id": p["container_id"],
            "name": p["name"],
            "kind": p.get("kind"),
            "parent_id": p.get("parent_id"),
        },
    )


def _close_open_scene(sink: Sink, ev: Event) -> None:
    state = sink.get("chat_state", (ev.chat_id,))
    if state is None or state["current_scene_id"] is None:
        return
    scene = sink.get("scenes", (state["current_scene_id"],))
    if scene is not None:
        sink.put("scenes", {**scene, "ended_event_id": ev.id})


_CONTAINER = Ref("container_id", "containers", "container")


@builtin_kind(
    SCENE_STARTED,
    "container_id:int title:str?",
    chat="required",
    refs=(_CONTAINER,),
    commutes=True,
    reads=("scenes", "chat_state"),
    reads_own_chat=True,
    writes=("scenes", "chat_state"),
)
def scene_started(sink: Sink, ev: Event) -> None:
    _close_open_scene(sink, ev)
    sink.put(
        "scenes",
        {
            "id": ev.id,
            "chat_id": ev.chat_id,
            "container_id": ev.payload["container_id"],
            "title": ev.payload.get("title"),
            "started_event_id": ev.id,
            "ended_event_id": None,
        },
    )
    touch_chat(sink, ev, current_scene_id=ev.id)


@builtin_kind(
    SCENE_ENDED,
    chat="required",
    commutes=True,
    reads=("scenes", "chat_state"),
    reads_own_chat=True,
    writes=("scenes", "chat_state"),
)
def scene_ended(sink: Sink, ev: Event) -> None:
    _close_open_scene(sink, ev)
    touch_chat(sink, ev, current_scene_id=None)


@builtin_kind(
    ACTIVITY_LOGGED,
    "container_id:int entity:str action:str",
    refs=(_CONTAINER,),
    commutes=True,
    reads=(),
    writes=("activity", "chat_state"),
)
def activity_logged(sink: Sink, ev: Event) -> None:
    p = ev.payload
    row = {"id": ev.id, "chat_id": ev.chat_id, "container_id": p["container_id"]}
    sink.put("activity", {**row, "entity": p["entity"], "action": p["action"]})
    touch_chat(sink, ev)


@builtin_kind(
    CLASSIFIER_FAILED,
    "stage:str error:str",
    commutes=True,
    reads=(),
    writes=("classifier_failures", "chat_state"),
)
def classifier_failed(sink: Sink, ev: Event) -> None:
    p = ev.payload
    row = {"id": ev.id, "turn_event_id": ev.cause_id, "stage": p["stage"], "error": p["error"]}
    sink.put("classifier_failures", row)
    touch_chat(sink, ev)


@builtin_kind(
    TURN_HIDDEN,
    "target:int",
    chat="required",
    retires="target",
    summary=TOUCHES,
    commutes=True,
    reads=(),
    writes=("chat_state",),
)
def turn_hidden(sink: Sink, ev: Event) -> None:
    # Retiring the target happens in the log; the projection only notes the event.
    touch_chat(sink, ev)
