"""One measurement per process: ``python -m benchmarks.ops SPEC_JSON`` prints a JSON result.

Each operation gets a private copy of the history (made by the caller, not
timed), is timed once with ``time.perf_counter`` and reports its peak memory:
the process's peak resident set size during the timed part (``VmHWM``, reset
just before it) and how much that peak exceeds the size before it: the
operation's own memory, SQLite's page cache included (which ``tracemalloc``
would not see). An operation registered with ``sized=True`` also reports the
size of the frame it returns, measured after the timed part.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import rpkit
from rpkit import frames
from rpkit.store import atomic, connect, head_id
from rpkit.store.sqlite import sqlite3

from . import baselines

Op = Callable[[dict[str, Any]], tuple[Callable[[], Any], Callable[[], None]]]
OPS: dict[str, Op] = {}
SIZED: set[str] = set()  # operations whose frame's size is reported


def op(name: str, *, sized: bool = False) -> Callable[[Op], Op]:
    """Register ``fn(spec) -> (timed, cleanup)``: setup happens in ``fn``, untimed."""

    def register(fn: Op) -> Op:
        OPS[name] = fn
        if sized:
            SIZED.add(name)
        return fn

    return register


def _conn(spec: dict[str, Any]) -> sqlite3.Connection:
    return connect(spec["db"])


def _tail(spec: dict[str, Any]) -> int:
    """``after_event_id`` for a rewind of the newest ``spec['tail']`` events."""
    conn = sqlite3.connect(spec["db"])
    try:
        head = head_id(conn)
    finally:
        conn.close()
    return max(0, head - int(spec["tail"]))


def _closing(conn: sqlite3.Connection) -> Callable[[], None]:
    def cleanup() -> None:
        conn.rollback()
        conn.close()

    return cleanup


@op("snapshot")
def _snapshot(spec):
    conn = _conn(spec)
    return lambda: rpkit.take_snapshot(conn, data_dir=spec["data_dir"], kind="bench"), _closing(
        conn
    )


@op("rewind")
def _rewind(spec):
    n = _tail(spec)

    def timed() -> Path:
        return rpkit.execute_rewind(db_path=spec["db"], data_dir=spec["data_dir"], after_event_id=n)

    return timed, lambda: None


def _chat_tail(spec: dict[str, Any]) -> tuple[int, int]:
    """The largest chat and the point that rewinds its newest ``spec['tail']`` share."""
    conn = sqlite3.connect(spec["db"])
    try:
        chat, count = conn.execute(
            "SELECT chat_id, COUNT(*) AS n FROM event_log WHERE chat_id IS NOT NULL "
            "GROUP BY chat_id ORDER BY n DESC LIMIT 1"
        ).fetchone()
        keep = max(1, count - max(1, round(count * float(spec["share"]))))
        point = conn.execute(
            "SELECT id FROM event_log WHERE chat_id = ? ORDER BY id LIMIT 1 OFFSET ?",
            (chat, keep - 1),
        ).fetchone()[0]
    finally:
        conn.close()
    return chat, point


@op("chat_rewind")
def _chat_rewind(spec):
    chat, n = _chat_tail(spec)

    def timed() -> Path:
        return rpkit.execute_rewind(
            db_path=spec["db"], data_dir=spec["data_dir"], after_event_id=n, chat_id=chat
        )

    return timed, lambda: None


@op("undo_rewind")
def _undo_rewind(spec):
    chat, n = _chat_tail(spec)
    snap = rpkit.execute_rewind(
        db_path=spec["db"], data_dir=spec["data_dir"], after_event_id=n, chat_id=chat
    )

    def timed() -> None:
        rpkit.undo_rewind(db_path=spec["db"], data_dir=spec["data_dir"], snapshot=snap)

    return timed, lambda: None


@op("fork")
def _fork(spec):
    """Fork a chat of ``spec['turns']`` turns at its last turn (the chat is added untimed)."""
    conn = _conn(spec)
    bot = conn.execute("SELECT id FROM bots ORDER BY id LIMIT 1").fetchone()[0]
    with atomic(conn):
        chat = rpkit.next_chat_id(conn)
        rpkit.append(conn, "chat_created", {"title": "bench", "bot_ids": [bot]}, chat_id=chat)
        for i in range(int(spec["turns"])):
            payload = {"bot_id": bot, "text": f"reply {i}"} if i % 2 else {"text": f"line {i}"}
            kind = "assistant_turn" if i % 2 else "user_turn"
            last = rpkit.append(conn, kind, payload, chat_id=chat)
    return lambda: rpkit.fork_chat(conn, last), _closing(conn)


@op("seed_rewind")
def _seed_rewind(spec):
    n = _tail(spec)

    def timed() -> Path:
        return baselines.seed_rewind(
            db_path=spec["db"], data_dir=spec["data_dir"], after_event_id=n
        )

    return timed, lambda: None


@op("project")
def _project(spec):
    conn = _conn(spec)
    return lambda: rpkit.project(conn), _closing(conn)


@op("seed_replay")
def _seed_replay(spec):
    conn = _conn(spec)
    return lambda: baselines.seed_full_replay(conn), _closing(conn)


@op("frames_events", sized=True)
def _frames_events(spec):
    conn = _conn(spec)
    return lambda: frames.events(conn), _closing(conn)


@op("read_sql_query")
def _read_sql_query(spec):
    conn = _conn(spec)
    return lambda: baselines.events_read_sql(conn), _closing(conn)


@op("json_normalize", sized=True)
def _json_normalize(spec):
    conn = _conn(spec)
    return lambda: baselines.events_json_normalize(conn), _closing(conn)


@op("frames_affinity")
def _frames_affinity(spec):
    conn = _conn(spec)
    return lambda: frames.affinity(conn), _closing(conn)


@op("affinity_dict_loop")
def _affinity_dict_loop(spec):
    conn = _conn(spec)
    return lambda: baselines.affinity_dict_loop(conn), _closing(conn)


@op("preview")
def _preview(spec):
    n = _tail(spec)
    conn = _conn(spec)
    return lambda: rpkit.compute_rewind_preview(conn, n), _closing(conn)


@op("state_at")
def _state_at(spec):
    conn = _conn(spec)
    head = head_id(conn)
    n = head // 2 if spec["at"] == "middle" else max(0, head - int(spec["tail"]))
    return lambda: rpkit.state_at(conn, n), _closing(conn)


def _appender(conn: sqlite3.Connection, count: int) -> Callable[[], int]:
    """Append ``count`` events of the demo's everyday mix to chat 1."""
    chat, bot = conn.execute(
        "SELECT c.id, json_extract(e.payload, '$.bot_ids[0]') FROM chats c "
        "JOIN event_log e ON e.id = c.created_event_id ORDER BY c.id LIMIT 1"
    ).fetchone()

    def run() -> int:
        done = 0
        while done < count:
            user = rpkit.append(conn, "user_turn", {"text": "And then?"}, chat_id=chat)
            reply = rpkit.append(
                conn, "assistant_turn", {"bot_id": bot, "text": "Then we ride."}, chat_id=chat
            )
            rpkit.append(
                conn,
                "edge_update",
                {"src": bot, "dst": "you", "delta": 0.25, "reason": "bench"},
                chat_id=chat,
                cause_id=reply,
            )
            rpkit.append(
                conn,
                "edge_update",
                {"src": "you", "dst": bot, "delta": -0.5, "reason": "bench"},
                chat_id=chat,
                cause_id=user,
            )
            done += 4
        return done

    return run


@op("append_single")
def _append_single(spec):
    """Appends, each its own transaction (commit included)."""
    conn = _conn(spec)
    return _appender(conn, int(spec["count"])), _closing(conn)


@op("append_bulk")
def _append_bulk(spec):
    """Appends, all in one transaction (an import)."""
    conn = _conn(spec)
    run = _appender(conn, int(spec["count"]))

    def timed() -> int:
        with atomic(conn):
            return run()

    return timed, _closing(conn)


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Restart the peak (VmHWM) from the current size, so it is the timed part's (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # older kernels: the peak then includes the setup
        pass


def frame_sizes(frame: pd.DataFrame) -> dict[str, float]:
    """A frame's size in MB, as pandas counts it and with each object counted once.

    ``memory_usage(deep=True)`` adds up ``sys.getsizeof`` of every cell of an
    object column, so a shared object counts once per cell: in a sparse frame
    each missing text (one ``pd.NA``) counts 56 bytes. ``frame_unique_mb``
    counts the arrays, then each distinct object they point to once (a list's
    items too): the memory the frame holds.
    """
    seen: set[int] = set()
    total = int(frame.memory_usage(deep=False).sum())  # the arrays (pointers, for objects)
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not isinstance(column.array, pd.arrays.StringArray):
            continue
        stack = list(np.asarray(column.array, dtype=object))
        while stack:
            value = stack.pop()
            if id(value) not in seen:
                seen.add(id(value))
                total += sys.getsizeof(value)
                if isinstance(value, list | tuple):
                    stack.extend(value)
    return {
        "frame_mb": frame.memory_usage(deep=True).sum() / 2**20,
        "frame_unique_mb": total / 2**20,
    }


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one operation as ``spec`` says; its time and memory (and its frame's size)."""
    rpkit.set_progress(False)
    timed, cleanup = OPS[spec["op"]](spec)
    _reset_peak()
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    out = timed()
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    sizes = frame_sizes(out) if spec["op"] in SIZED else {}
    del out
    cleanup()
    return {
        "seconds": seconds,
        "peak_rss_mb": peak,
        "rss_growth_mb": max(0.0, peak - before),
        **sizes,
    }


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
