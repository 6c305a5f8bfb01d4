"""One timed rewind or undo, for ``benchmarks.records``; rpkit is whichever one is importable.

Run as a script (``python benchmarks/records_child.py SPEC``), so that with
``PYTHONPATH`` set to another checkout the same measurement runs against that
release's rpkit (only its public API is used). Prints one JSON line: the
seconds, the file the rewind returned and its size.
"""

from __future__ import annotations

import json
import sqlite3  # the child runs against either release: only the standard library's
import sys
import time
from pathlib import Path

import rpkit


def _head(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0]
    finally:
        conn.close()


def _chat_point(db: str, k: int) -> tuple[int, int]:
    """The largest chat and the point that rewinds its newest ``k`` events."""
    conn = sqlite3.connect(db)
    try:
        chat = conn.execute(
            "SELECT chat_id FROM event_log WHERE chat_id IS NOT NULL "
            "GROUP BY chat_id ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()[0]
        n = conn.execute(
            "SELECT id FROM event_log WHERE chat_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (chat, k),
        ).fetchone()[0]
    finally:
        conn.close()
    return chat, n


def main(spec: dict) -> dict:
    rpkit.set_progress(False)
    db, data_dir, op = spec["db"], spec["data_dir"], spec["op"]
    if op in ("rewind", "undo"):
        args = {"after_event_id": _head(db) - int(spec["tail"])}
    else:  # chat_rewind, chat_undo
        chat, n = _chat_point(db, int(spec["k"]))
        args = {"after_event_id": n, "chat_id": chat}
    with rpkit.open_db(db) as conn:
        removed = rpkit.compute_rewind_preview(conn, **args)["total_events"]
    if op in ("undo", "chat_undo"):
        snap = rpkit.execute_rewind(db_path=db, data_dir=data_dir, **args)
        start = time.perf_counter()
        rpkit.undo_rewind(db_path=db, data_dir=data_dir, snapshot=snap)
    else:
        start = time.perf_counter()
        snap = rpkit.execute_rewind(db_path=db, data_dir=data_dir, **args)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "removed": removed,
        "file": str(snap),
        "bytes": Path(snap).stat().st_size,
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
