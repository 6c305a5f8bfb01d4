"""``python -m benchmarks.durable --events 1000000``: what a durable destructive commit costs.

A destructive operation's transaction runs with ``synchronous = FULL`` (its
commit syncs the WAL), an append's with ``NORMAL``. Two ratios, each from one
run with both sides interleaved on the same copy of the cached demo history,
while another connection holds the history open (as a notebook does; otherwise
the closing connection's checkpoint syncs anyway):

* ``commit``: a one-event transaction through ``atomic(conn, durable=True)``
  against ``atomic(conn)``, ``--commits`` of each, in alternating blocks;
* ``rewind_undo``: a rewind of the newest 100 events and its ``undo_rewind``
  (snapshot included) as rpkit runs them, against the same two with the
  destructive commits at ``NORMAL``.

The JSON goes to ``benchmarks/results/durable-<events>-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import rpkit
import rpkit.store.transaction as transaction
from rpkit.store import atomic
from rpkit.store.sqlite import sqlite3

from .history import CACHE_DIR, cached_history

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _commits(db: Path, n: int, durable: bool) -> list[float]:
    times = []
    with rpkit.open_db(db) as conn:
        for i in range(n):
            t = time.perf_counter()
            with atomic(conn, durable=durable):
                rpkit.append(conn, "you_set", {"name": f"bench {i}"})
            times.append(time.perf_counter() - t)
    return times


def _rewind_undo(db: Path, data_dir: Path, level: str) -> float:
    transaction.DURABLE_LEVEL = level
    try:
        with rpkit.open_db(db) as conn:
            head = rpkit.store.head_id(conn)
        t = time.perf_counter()
        snap = rpkit.execute_rewind(db_path=db, data_dir=data_dir, after_event_id=head - 100)
        rpkit.undo_rewind(db_path=db, data_dir=data_dir, snapshot=snap)
        took = time.perf_counter() - t
    finally:
        transaction.DURABLE_LEVEL = "FULL"
    for path in (data_dir / "snapshots").glob("*.sqlite"):
        path.unlink()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--out", type=Path, help="the result file (default: in results/)")
    args = parser.parse_args()
    os.environ["RPKIT_PROGRESS"] = "0"
    source, _ = cached_history(args.events, 7, args.cache_dir)
    scratch = Path(tempfile.mkdtemp(prefix="rpkit-bench-durable-"))
    try:
        db = scratch / "history.db"
        shutil.copy(source, db)
        holder = sqlite3.connect(db)  # keeps the WAL: no checkpoint when rpkit closes
        holder.execute("SELECT COUNT(*) FROM rpkit_meta").fetchone()
        durable, normal = [], []
        block = max(1, args.commits // 10)
        for _ in range(10):
            durable += _commits(db, block, True)
            normal += _commits(db, block, False)
        full_runs, normal_runs = [], []
        for _ in range(args.repeat):
            full_runs.append(_rewind_undo(db, scratch, "FULL"))
            normal_runs.append(_rewind_undo(db, scratch, "NORMAL"))
        holder.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "events": args.events,
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.platform(),
        "taken_at": datetime.now(UTC).isoformat(),
        "note": "taken on a machine shared with other work (loaded)",
        "commit_durable_s": statistics.median(durable),
        "commit_normal_s": statistics.median(normal),
        "commit_ratio": statistics.median(durable) / statistics.median(normal),
        "rewind_undo_full_s": statistics.median(full_runs),
        "rewind_undo_normal_s": statistics.median(normal_runs),
        "rewind_undo_ratio": statistics.median(full_runs) / statistics.median(normal_runs),
        "runs": {
            "commit_durable_s": durable,
            "commit_normal_s": normal,
            "rewind_undo_full_s": full_runs,
            "rewind_undo_normal_s": normal_runs,
        },
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS_DIR / f"durable-{args.events}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"{args.events} events: durable commit {result['commit_durable_s'] * 1e3:.2f} ms, "
        f"NORMAL {result['commit_normal_s'] * 1e3:.2f} ms ({result['commit_ratio']:.2f}x); "
        f"rewind + undo {result['rewind_undo_full_s'] * 1e3:.1f} ms, at NORMAL "
        f"{result['rewind_undo_normal_s'] * 1e3:.1f} ms ({result['rewind_undo_ratio']:.2f}x) -> {out.name}"
    )


if __name__ == "__main__":
    main()
