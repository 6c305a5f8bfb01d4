"""``python -m benchmarks.touched_phases``: where a per-chat rewind's time goes.

The per-chat rewind of the newest k events of the largest of 100 chats at 1M
events, timed phase by phase in this process (the walk's reading of the
rollback log, the refold, writing the rows and rollback entries, the record),
next to a global rewind of as many events, each run on its own fsynced copy
of a projected, vacuumed history, the two interleaved. It also counts what the
walk did: the events it refolded and the rollback entries it rewrote, which
a global rewind does not have to touch at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rpkit
from rpkit.durable import fsync_file
from rpkit.operations import chat_rewind, rewind
from rpkit.projection import touched

from .__main__ import RESULTS_DIR, machine, prepare
from .history import CACHE_DIR, cached_history
from .records_child import _chat_point, _head

# (module, function, phase): each call's time is added to its phase
PHASES = (
    (touched, "Chains", "read the rollback log's chains"),
    (chat_rewind, "plan_touched", "plan (reading and refold)"),
    (touched, "write_rows", "write the rows"),
    (touched, "replace_entries", "replace rollback entries"),
    (touched, "update_entries", "update rollback entries in place"),
    (rewind, "write_record", "write the record"),
)


def _timed(times: dict[str, float], label: str, fn: Callable) -> Callable:
    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[label] += time.perf_counter() - start

    return run


def one(template: Path, workdir: Path, k: int, chat: bool) -> dict[str, Any]:
    """One rewind on a fresh copy: its total and, for a chat, its phases and counts."""
    scratch = Path(tempfile.mkdtemp(dir=workdir))
    try:
        db = scratch / "history.db"
        shutil.copyfile(template, db)
        fsync_file(db)
        chat_id, n = _chat_point(str(db), k)
        times: dict[str, float] = defaultdict(float)
        plans: list[touched.Refold] = []
        saved = [(mod, name, getattr(mod, name)) for mod, name, _ in PHASES]
        plan = chat_rewind.plan_touched
        for mod, name, label in PHASES:
            setattr(mod, name, _timed(times, label, getattr(mod, name)))
        timed_plan = chat_rewind.plan_touched
        chat_rewind.plan_touched = lambda *a: plans.append(timed_plan(*a)) or plans[-1]
        try:
            with rpkit.open_db(db) as conn:
                removed = rpkit.compute_rewind_preview(conn, n, chat_id=chat_id)["total_events"]
            args = {"after_event_id": n, "chat_id": chat_id} if chat else None
            if args is None:
                args = {"after_event_id": _head(str(db)) - removed}
            start = time.perf_counter()
            record = rpkit.execute_rewind(db_path=db, data_dir=scratch, **args)
            total = time.perf_counter() - start
        finally:
            for mod, name, fn in saved:
                setattr(mod, name, fn)
            chat_rewind.plan_touched = plan
        out: dict[str, Any] = {
            "seconds": total,
            "removed": removed,
            "record_bytes": Path(record).stat().st_size,
        }
        if chat and plans:
            out["phases_s"] = dict(times)
            out["refolded"] = len(plans[0].folded)
            out["entries_updated"] = len(plans[0].updates)
            out["entries_replaced"] = len(plans[0].entries)
            out["rows_written"] = len(plans[0].rows)
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--k", type=int, default=100, help="events of the per-chat rewind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--own-bots",
        action="store_true",
        help="each chat with companions of its own, so no chat shares an affinity edge",
    )
    args = parser.parse_args(argv)
    rpkit.set_progress(False)
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-phases-"))
    try:
        cached = cached_history(
            args.events, args.seed, CACHE_DIR, chats=100, own_bots=args.own_bots
        )[0]
        template = prepare(cached, workdir)["template"]
        runs: dict[str, list[dict[str, Any]]] = {"chat": [], "global": []}
        for rep in range(args.repeat):
            for scope in ("chat", "global"):
                result = one(template, workdir, args.k, scope == "chat")
                runs[scope].append(result)
                print(f"[{rep + 1}/{args.repeat}] {scope:<6} {result['seconds'] * 1000:7.1f} ms")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    chat = runs["chat"]
    medians = {
        "chat_rewind_s": statistics.median(r["seconds"] for r in chat),
        "global_rewind_s": statistics.median(r["seconds"] for r in runs["global"]),
        "phases_s": {
            label: statistics.median(r["phases_s"].get(label, 0.0) for r in chat)
            for _, _, label in PHASES
        },
    }
    medians["ratio"] = medians["chat_rewind_s"] / medians["global_rewind_s"]
    out = {
        "started": started.isoformat(),
        "machine": machine(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "events": args.events,
        "own_bots": args.own_bots,
        "k": args.k,
        "repeat": args.repeat,
        "runs": runs,
        "medians": medians,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"touched-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"results: benchmarks/results/{path.name}")
    print(json.dumps(medians, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
