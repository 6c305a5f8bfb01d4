"""How each built-in kind of event changes the projected tables (DESIGN §2)."""

from __future__ import annotations

from typing import Any

from .registry import Event, Sink, handler


def touch_chat(sink: Sink, ev: Event, **changes: Any) -> None:
    """Record ``ev`` as its chat's newest event, with any other chat_state changes."""
    if ev.chat_id is None:
        return
    row = sink.get("chat_state", (ev.chat_id,))
    if row is not None:
        sink.put("chat_state", {**row, "last_event_id": ev.id, **changes})


@handler("you_set")
def _you_set(sink: Sink, ev: Event) -> None:
    old = sink.get("you_entity", (1,))
    persona = ev.payload.get("persona")
    if persona is None and old is not None:
        persona = old["persona"]
    sink.put("you_entity", {"id": 1, "name": ev.payload["name"], "persona": persona})


@handler("bot_created")
def _bot_created(sink: Sink, ev: Event) -> None:
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


@handler("chat_created")
def _chat_created(sink: Sink, ev: Event) -> None:
    sink.put(
        "chats",
        {
            "id": ev.chat_id,
            "title": ev.payload["title"],
            "created_event_id": ev.id,
            "created_at": ev.ts,
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


@handler("user_turn")
def _user_turn(sink: Sink, ev: Event) -> None:
    _turn(sink, ev, "you")


@handler("assistant_turn")
def _assistant_turn(sink: Sink, ev: Event) -> None:
    _turn(sink, ev, ev.payload["bot_id"])


@handler("edge_update")
def _edge_update(sink: Sink, ev: Event) -> None:
    p = ev.payload
    old = sink.get("edges", (p["src"], p["dst"]))
    affinity = (old["affinity"] if old else 0.0) + p["delta"]
    updates = (old["updates"] if old else 0) + 1
    sink.put(
        "edges",
        {
            "src": p["src"],
            "dst": p["dst"],
            "affinity": float(affinity),
            "updates": updates,
            "last_event_id": ev.id,
        },
    )
    touch_chat(sink, ev)


@handler("memory_added")
def _memory_added(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sal = p.get("salience")
    sink.put(
        "memories",
        {
            "id": ev.id,
            "chat_id": ev.chat_id,
            "owner": p["owner"],
            "text": p["text"],
            "salience": None if sal is None else float(sal),
        },
    )
    touch_chat(sink, ev)


@handler("container_created")
def _container_created(sink: Sink, ev: Event) -> None:
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


@handler("scene_started")
def _scene_started(sink: Sink, ev: Event) -> None:
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


@handler("scene_ended")
def _scene_ended(sink: Sink, ev: Event) -> None:
    _close_open_scene(sink, ev)
    touch_chat(sink, ev, current_scene_id=None)


@handler("activity_logged")
def _activity_logged(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sink.put(
        "activity",
        {
            "id": ev.id,
            "chat_id": ev.chat_id,
            "container_id": p["container_id"],
            "entity": p["entity"],
            "action": p["action"],
        },
    )
    touch_chat(sink, ev)


@handler("classifier_failed")
def _classifier_failed(sink: Sink, ev: Event) -> None:
    p = ev.payload
    sink.put(
        "classifier_failures",
        {"id": ev.id, "turn_event_id": ev.cause_id, "stage": p["stage"], "error": p["error"]},
    )
    touch_chat(sink, ev)


@handler("turn_hidden")
def _turn_hidden(sink: Sink, ev: Event) -> None:
    # Retiring the target happens in the log; the projection only notes the event.
    touch_chat(sink, ev)
