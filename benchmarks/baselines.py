"""The baselines rpkit is measured against: the seed's way of doing things.

* ``seed_project``: the seed's projector, a per-event Python loop over the
  visible log that calls, for each event, a handler running its own SQL
  statements (UPDATE/INSERT one row at a time).
* ``seed_rewind``: the seed's ``execute_rewind``: snapshot, delete the tail,
  wipe every projected table and replay the whole log with ``seed_project``.
  (It also un-retires the events whose retiring edit goes, as rpkit does;
  without that the DELETE fails on the foreign key, and it costs next to
  nothing.)
* ``events_read_sql``: ``pandas.read_sql_query`` of the columns
  ``rpkit.frames.events`` reads (the floor: payloads left as JSON text).
* ``events_json_normalize``: the frame ``rpkit.frames.events`` gives, built
  the way a pandas user would: ``read_sql_query``, ``json.loads`` of each
  payload, ``pandas.json_normalize`` of those dicts joined on, clashing keys
  renamed as ``rpkit.frames.RENAMED`` does. (Its text columns stay ``object``,
  ``ts`` stays text and ids with gaps are floats: it does less than rpkit.)
* ``affinity_dict_loop``: fetch the visible ``edge_update`` rows, ``json.loads``
  each payload and keep the running sum per pair in a dict.

The handlers give the same tables as rpkit's (``tests/test_benchmarks_smoke.py``
checks it), so the comparison is like for like.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from rpkit.frames import RENAMED
from rpkit.operations import open_db, take_snapshot
from rpkit.store import PROJECTED
from rpkit.store.sqlite import sqlite3

SqlHandler = Callable[[sqlite3.Connection, int, str, Any, dict[str, Any], Any], None]
SQL_HANDLERS: dict[str, SqlHandler] = {}


def _sql_handler(kind: str) -> Callable[[SqlHandler], SqlHandler]:
    def register(fn: SqlHandler) -> SqlHandler:
        SQL_HANDLERS[kind] = fn
        return fn

    return register


def _touch(conn: sqlite3.Connection, event_id: int, chat_id: int | None) -> None:
    if chat_id is not None:
        conn.execute(
            "UPDATE chat_state SET last_event_id = ? WHERE chat_id = ?", (event_id, chat_id)
        )


@_sql_handler("you_set")
def _you_set(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO you_entity(id, name, persona) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE "
        "SET name = excluded.name, persona = COALESCE(excluded.persona, you_entity.persona)",
        (p["name"], p.get("persona")),
    )


@_sql_handler("bot_created")
def _bot_created(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO bots(id, name, persona, created_event_id) VALUES (?, ?, ?, ?)",
        (p["bot_id"], p["name"], p.get("persona"), event_id),
    )


@_sql_handler("chat_created")
def _chat_created(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO chats(id, title, created_event_id, created_at) VALUES (?, ?, ?, ?)",
        (chat_id, p["title"], event_id, ts),
    )
    conn.execute(
        "INSERT INTO chat_state(chat_id, turn_count, last_event_id) VALUES (?, 0, ?)",
        (chat_id, event_id),
    )


def _turn(conn, event_id, chat_id, speaker):
    conn.execute(
        "UPDATE chat_state SET turn_count = turn_count + 1, last_event_id = ?, last_speaker = ? "
        "WHERE chat_id = ?",
        (event_id, speaker, chat_id),
    )


@_sql_handler("user_turn")
def _user_turn(conn, event_id, ts, chat_id, p, cause_id):
    _turn(conn, event_id, chat_id, "you")


@_sql_handler("assistant_turn")
def _assistant_turn(conn, event_id, ts, chat_id, p, cause_id):
    _turn(conn, event_id, chat_id, p["bot_id"])


@_sql_handler("edge_update")
def _edge_update(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO edges(src, dst, affinity, updates, last_event_id) VALUES (?, ?, ?, 1, ?) "
        "ON CONFLICT(src, dst) DO UPDATE SET affinity = edges.affinity + excluded.affinity, "
        "updates = edges.updates + 1, last_event_id = excluded.last_event_id",
        (p["src"], p["dst"], 0.0 + p["delta"], event_id),
    )
    _touch(conn, event_id, chat_id)


@_sql_handler("memory_added")
def _memory_added(conn, event_id, ts, chat_id, p, cause_id):
    sal = p.get("salience")
    conn.execute(
        "INSERT INTO memories(id, chat_id, owner, text, salience) VALUES (?, ?, ?, ?, ?)",
        (event_id, chat_id, p["owner"], p["text"], None if sal is None else float(sal)),
    )
    _touch(conn, event_id, chat_id)


@_sql_handler("container_created")
def _container_created(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO containers(id, name, kind, parent_id) VALUES (?, ?, ?, ?)",
        (p["container_id"], p["name"], p.get("kind"), p.get("parent_id")),
    )


def _close_scene(conn, event_id, chat_id):
    conn.execute(
        "UPDATE scenes SET ended_event_id = ? "
        "WHERE id = (SELECT current_scene_id FROM chat_state WHERE chat_id = ?)",
        (event_id, chat_id),
    )


@_sql_handler("scene_started")
def _scene_started(conn, event_id, ts, chat_id, p, cause_id):
    _close_scene(conn, event_id, chat_id)
    conn.execute(
        "INSERT INTO scenes(id, chat_id, container_id, title, started_event_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (event_id, chat_id, p["container_id"], p.get("title"), event_id),
    )
    conn.execute(
        "UPDATE chat_state SET current_scene_id = ?, last_event_id = ? WHERE chat_id = ?",
        (event_id, event_id, chat_id),
    )


@_sql_handler("scene_ended")
def _scene_ended(conn, event_id, ts, chat_id, p, cause_id):
    _close_scene(conn, event_id, chat_id)
    conn.execute(
        "UPDATE chat_state SET current_scene_id = NULL, last_event_id = ? WHERE chat_id = ?",
        (event_id, chat_id),
    )


@_sql_handler("activity_logged")
def _activity_logged(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO activity(id, chat_id, container_id, entity, action) VALUES (?, ?, ?, ?, ?)",
        (event_id, chat_id, p["container_id"], p["entity"], p["action"]),
    )
    _touch(conn, event_id, chat_id)


@_sql_handler("classifier_failed")
def _classifier_failed(conn, event_id, ts, chat_id, p, cause_id):
    conn.execute(
        "INSERT INTO classifier_failures(id, turn_event_id, stage, error) VALUES (?, ?, ?, ?)",
        (event_id, cause_id, p["stage"], p["error"]),
    )
    _touch(conn, event_id, chat_id)


@_sql_handler("turn_hidden")
def _turn_hidden(conn, event_id, ts, chat_id, p, cause_id):
    _touch(conn, event_id, chat_id)


def _wipe(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for name in reversed(PROJECTED):
        conn.execute(f"DELETE FROM {name}")


def seed_project(conn: sqlite3.Connection) -> int:
    """The seed's projector: one Python call and its SQL statements per visible event."""
    _wipe(conn)
    n = 0
    rows = conn.execute(
        "SELECT id, ts, chat_id, kind, payload, cause_id FROM event_log "
        "WHERE superseded_by IS NULL ORDER BY id"
    ).fetchall()
    for event_id, ts, chat_id, kind, payload, cause_id in rows:
        handler = SQL_HANDLERS.get(kind)
        if handler is not None:
            handler(conn, event_id, ts, chat_id, json.loads(payload), cause_id)
        else:
            _touch(conn, event_id, chat_id)
        n += 1
    return n


def seed_full_replay(conn: sqlite3.Connection) -> int:
    """A full re-projection the seed's way, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    n = seed_project(conn)
    conn.commit()
    return n


def seed_rewind(
    *, db_path: str | PathLike[str], data_dir: str | PathLike[str], after_event_id: int
) -> Path:
    """The seed's ``execute_rewind``: snapshot, delete, wipe, replay everything."""
    with open_db(db_path) as conn:
        snapshot = take_snapshot(conn, data_dir=data_dir, kind="rewind")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE event_log SET hidden = 0, superseded_by = NULL WHERE superseded_by > ?",
            (after_event_id,),
        )
        conn.execute("DELETE FROM event_log WHERE id > ?", (after_event_id,))
        seed_project(conn)
    return snapshot


EVENTS_SQL = (
    "SELECT id, ts, chat_id, kind, cause_id, hidden, superseded_by, payload FROM event_log "
    "WHERE superseded_by IS NULL ORDER BY id"
)


def events_read_sql(conn: sqlite3.Connection) -> pd.DataFrame:
    """``pandas.read_sql_query`` of the visible events (payloads left as JSON text)."""
    return pd.read_sql_query(EVENTS_SQL, conn)


def events_json_normalize(conn: sqlite3.Connection) -> pd.DataFrame:
    """The visible events with their payload fields as columns, by ``read_sql_query``
    and ``json_normalize`` of the decoded payloads (the honest peer of ``frames.events``)."""
    frame = pd.read_sql_query(EVENTS_SQL, conn)
    fields = pd.json_normalize([json.loads(p) for p in frame.pop("payload")])
    return frame.join(fields.rename(columns=RENAMED))


def affinity_dict_loop(conn: sqlite3.Connection) -> pd.DataFrame:
    """The affinity timeline by fetch, ``json.loads`` and a dict of running sums."""
    rows = conn.execute(
        "SELECT id, ts, chat_id, cause_id, payload FROM event_log "
        "WHERE kind = 'edge_update' AND superseded_by IS NULL ORDER BY id"
    ).fetchall()
    running: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    records = []
    for event_id, ts, chat_id, cause_id, payload in rows:
        p = json.loads(payload)
        pair = (p["src"], p["dst"])
        running[pair] = running.get(pair, 0.0) + p["delta"]
        counts[pair] = counts.get(pair, 0) + 1
        records.append(
            {
                "event_id": event_id,
                "ts": ts,
                "chat_id": chat_id,
                "cause_id": cause_id,
                "src": pair[0],
                "dst": pair[1],
                "delta": p["delta"],
                "affinity": running[pair],
                "updates": counts[pair],
            }
        )
    return pd.DataFrame.from_records(records)
