"""``python -m benchmarks.records --baseline DIR``: rewind records against the previous release.

Issue 23's figures, in one run, each measurement in its own process on its own
copy of a projected, vacuumed history (as ``python -m benchmarks`` prepares
them), interleaved with the same measurement against the release checked out
in ``DIR`` (its rpkit on ``PYTHONPATH``; it takes whole-file copies):

* the rewind of the last 100 events at 100k and 1M events, and its growth;
* the rewind of the last 1% at 1M events, this release against the previous;
* a record's size against the bytes of the rows it holds;
* ten rewinds of 100 events each at 1M events: what they leave in snapshots/;
* a per-chat rewind of the newest k events of the largest of 100 chats at 1M
  events, against a global rewind of as many events: on the demo, whose chats
  share three companions (and so their affinity edges), and on one where each
  chat has companions of its own (``1M-c100-own``);
* ``undo_rewind`` from a record against its rewind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rpkit.durable import fsync_file
from rpkit.store.sqlite import sqlite3

from .__main__ import RESULTS_DIR, machine, prepare
from .history import CACHE_DIR, cached_history

CHILD = Path(__file__).with_name("records_child.py")


def run_child(spec: dict[str, Any], baseline: Path | None) -> dict[str, Any]:
    env = {**os.environ, "RPKIT_PROGRESS": "0"}
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    out = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(spec)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"{spec} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row_bytes(record: Path) -> int:
    """The bytes of the removed rows a record holds, as the log stores their values."""
    conn = sqlite3.connect(record)
    try:
        return conn.execute(
            "SELECT COALESCE(SUM(LENGTH(ts) + LENGTH(kind) + LENGTH(payload) + 5 * 8), 0) "
            "FROM event_log"
        ).fetchone()[0]
    finally:
        conn.close()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*")) if folder.is_dir() else 0


def measure(
    template: Path, spec: dict[str, Any], baseline: Path | None, workdir: Path, times: int = 1
) -> dict[str, Any]:
    """Run ``spec`` ``times`` times in a row on one copy of ``template``."""
    scratch = Path(tempfile.mkdtemp(dir=workdir))
    try:
        db = scratch / "history.db"
        shutil.copyfile(template, db)
        # Flush the copy first: else the operation's first fsync (the WAL checkpoint on
        # close) writes out the whole fresh copy, a cost of the benchmark, not of rpkit.
        fsync_file(db)
        results = [
            run_child({**spec, "db": str(db), "data_dir": str(scratch)}, baseline)
            for _ in range(times)
        ]
        last = Path(results[-1]["file"])
        out = {
            "seconds": sum(r["seconds"] for r in results),
            "removed": results[-1]["removed"],
            "file_bytes": results[-1]["bytes"],
            "snapshots_bytes": folder_bytes(scratch / "snapshots"),
        }
        if baseline is None and spec["op"] in ("rewind", "chat_rewind"):
            out["row_bytes"] = row_bytes(last)
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def plan(one_pct: int, k: int, big: bool = False) -> list[tuple[str, str, dict[str, Any], int]]:
    """(name, history, spec, times): the chat rewind comes before its global peer."""
    return [
        ("rewind_100", "100k", {"op": "rewind", "tail": 100}, 1),
        ("rewind_100", "1M", {"op": "rewind", "tail": 100}, 1),
        *([("rewind_100", "10M", {"op": "rewind", "tail": 100}, 1)] if big else []),
        ("rewind_1pct", "1M", {"op": "rewind", "tail": one_pct}, 1),
        ("undo_100", "1M", {"op": "undo", "tail": 100}, 1),
        ("undo_1pct", "1M", {"op": "undo", "tail": one_pct}, 1),
        ("ten_rewinds_100", "1M", {"op": "rewind", "tail": 100}, 10),
        *(
            step
            for chats in ("1M-c100", "1M-c100-own")
            for step in (
                (f"chat_rewind_{k}", chats, {"op": "chat_rewind", "k": k}, 1),
                (f"chat_undo_{k}", chats, {"op": "chat_undo", "k": k}, 1),
                ("global_rewind_same", chats, {"op": "rewind", "tail": None}, 1),
            )
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="checkout of the release")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--k", type=int, default=100, help="events of the per-chat rewind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--big", action="store_true", help="also the rewind of the last 100 at 10M events"
    )
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-records-"))
    histories = {}
    sizes = [
        ("100k", 100_000, 3, False),
        ("1M", 1_000_000, 3, False),
        ("1M-c100", 1_000_000, 100, False),
        ("1M-c100-own", 1_000_000, 100, True),
    ]
    for name, events, chats, own in sizes + ([("10M", 10_000_000, 3, False)] if args.big else []):
        (workdir / name).mkdir()
        cached = cached_history(events, args.seed, CACHE_DIR, chats=chats, own_bots=own)[0]
        histories[name] = prepare(cached, workdir / name)
    steps = plan(histories["1M"]["head_event_id"] // 100, args.k, args.big)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for rep in range(args.repeat):
        for release, baseline in (("this", None), ("previous", args.baseline)):
            same = None
            for name, history, spec, times in steps:
                if spec["op"] in ("undo", "chat_undo") and baseline is not None and rep:
                    continue  # the previous release's undo: once is enough for the table
                if spec.get("tail", 0) is None:
                    spec = {**spec, "tail": same}
                result = measure(histories[history]["template"], spec, baseline, workdir, times)
                if spec["op"] == "chat_rewind":
                    same = result["removed"]
                key = f"{name}@{history}"
                runs.setdefault(key, {}).setdefault(release, []).append(result)
                print(
                    f"[{rep + 1}/{args.repeat}] {release:<8} {key:<28} {result['seconds']:8.4f} s "
                    f"file {result['file_bytes'] / 1e3:9.1f} KB",
                    flush=True,
                )
    shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(runs)
    out = {
        "started": started.isoformat(),
        "machine": machine(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "repeat": args.repeat,
        "baseline": str(args.baseline.name),
        "histories": {
            k: {kk: vv for kk, vv in v.items() if kk != "template"} for k, v in histories.items()
        },
        "runs": runs,
        **summary,
        "wall_s": time.time() - started.timestamp(),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"records-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(markdown(out, path))
    return 0


def _med(runs, key: str, release: str, field: str = "seconds") -> float | None:
    found = runs.get(key, {}).get(release)
    return statistics.median(r[field] for r in found) if found else None


def summarise(runs: dict) -> dict[str, Any]:
    chat = next(k for k in runs if k.startswith("chat_rewind_")).split("@")[0]
    chat_undo = next(k for k in runs if k.startswith("chat_undo_")).split("@")[0]
    medians = {key: {rel: _med(runs, key, rel) for rel in ("this", "previous")} for key in runs}

    def ratio(a, b, rel="this"):
        x, y = medians[a][rel], medians[b][rel]
        return None if x is None or y is None else x / y

    rec = runs["rewind_100@1M"]["this"][0]
    rec1 = runs["rewind_1pct@1M"]["this"][0]
    ten = _med(runs, "ten_rewinds_100@1M", "this", "snapshots_bytes")
    ten_old = _med(runs, "ten_rewinds_100@1M", "previous", "snapshots_bytes")
    targets = {
        "rewind of the last 100: growth 100k -> 1M <= 1.3x": (
            ratio("rewind_100@1M", "rewind_100@100k"),
            "<=",
            1.3,
            ratio("rewind_100@1M", "rewind_100@100k", "previous"),
        ),
        "rewind of the last 100: growth 1M -> 10M <= 1.3x": (
            ratio("rewind_100@10M", "rewind_100@1M") if "rewind_100@10M" in medians else None,
            "<=",
            1.3,
            ratio("rewind_100@10M", "rewind_100@1M", "previous")
            if "rewind_100@10M" in medians
            else None,
        ),
        "rewind of the last 1% at 1M / previous release's <= 0.5": (
            medians["rewind_1pct@1M"]["this"] / medians["rewind_1pct@1M"]["previous"],
            "<=",
            0.5,
            None,
        ),
        "record of the last 100: bytes / (2 x rows' bytes + 64 KB) <= 1": (
            rec["file_bytes"] / (2 * rec["row_bytes"] + 65536),
            "<=",
            1,
            None,
        ),
        "record of the last 1%: bytes / (2 x rows' bytes + 64 KB) <= 1": (
            rec1["file_bytes"] / (2 * rec1["row_bytes"] + 65536),
            "<=",
            1,
            None,
        ),
        "ten rewinds of 100 at 1M leave (MB) < 5": (
            ten / 1e6,
            "<",
            5,
            ten_old / 1e6 if ten_old else None,
        ),
        "per-chat rewind of k / global rewind of as many <= 1.5": (
            ratio(f"{chat}@1M-c100", "global_rewind_same@1M-c100"),
            "<=",
            1.5,
            ratio(f"{chat}@1M-c100", "global_rewind_same@1M-c100", "previous"),
        ),
        "the same, each chat with companions of its own <= 1.5": (
            ratio(f"{chat}@1M-c100-own", "global_rewind_same@1M-c100-own"),
            "<=",
            1.5,
            ratio(f"{chat}@1M-c100-own", "global_rewind_same@1M-c100-own", "previous"),
        ),
        "undo of the last 100 / its rewind <= 1": (
            ratio("undo_100@1M", "rewind_100@1M"),
            "<=",
            1,
            ratio("undo_100@1M", "rewind_100@1M", "previous"),
        ),
        "undo of the last 1% / its rewind <= 1": (
            ratio("undo_1pct@1M", "rewind_1pct@1M"),
            "<=",
            1,
            ratio("undo_1pct@1M", "rewind_1pct@1M", "previous"),
        ),
        "undo of a per-chat rewind / its rewind <= 1": (
            ratio(f"{chat_undo}@1M-c100", f"{chat}@1M-c100"),
            "<=",
            1,
            ratio(f"{chat_undo}@1M-c100", f"{chat}@1M-c100", "previous"),
        ),
        "the same, each chat with companions of its own <= 1": (
            ratio(f"{chat_undo}@1M-c100-own", f"{chat}@1M-c100-own"),
            "<=",
            1,
            ratio(f"{chat_undo}@1M-c100-own", f"{chat}@1M-c100-own", "previous"),
        ),
    }
    checked = {}
    for name, (value, op, limit, before) in targets.items():
        met = None if value is None else (value <= limit if op == "<=" else value < limit)
        checked[name] = {"value": value, "limit": limit, "met": met, "previous": before}
    return {"medians_s": medians, "targets": checked}


def markdown(out: dict, path: Path) -> str:
    lines = [
        f"results: benchmarks/results/{path.name}",
        "",
        "| measurement | previous | this |",
        "| --- | --- | --- |",
    ]
    for key, rel in out["medians_s"].items():
        prev = "" if rel["previous"] is None else f"{rel['previous'] * 1000:.1f} ms"
        lines.append(f"| {key} | {prev} | {rel['this'] * 1000:.1f} ms |")
    lines += ["", "| target | previous | this | met |", "| --- | --- | --- | --- |"]
    for name, t in out["targets"].items():
        prev = "" if t["previous"] is None else f"{t['previous']:.3g}"
        value = "not measured" if t["value"] is None else f"{t['value']:.3g}"
        lines.append(f"| {name} | {prev} | {value} | {t['met']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
