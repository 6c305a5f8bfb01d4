"""``python -m benchmarks --events 100000 --events 1000000``: rpkit against its baselines.

For each size, a demo history is built once through the public API (cached in
``benchmarks/.cache/``), copied into a scratch folder, projected once (so every
size starts from the same kind of file: rollback entries for the newest events,
no free pages), and then each operation and its baseline run side by side,
``--repeat`` times, interleaved, each run in its own process on its own copy.
The table shows medians and the ratios the issue's targets are about; the JSON
in ``benchmarks/results/`` has every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rpkit
from rpkit.store.sqlite import sqlite3

from .history import CACHE_DIR, cached_history, settle
from .report import markdown, table

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def plan(events: int, appends: int) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, spec, needs its own copy) of every measurement at one size."""
    one_pct, ten_pct = max(1, events // 100), max(1, events // 10)
    return [
        ("snapshot", {"op": "snapshot"}, True),
        ("rewind_1pct", {"op": "rewind", "tail": one_pct}, True),
        ("seed_rewind_1pct", {"op": "seed_rewind", "tail": one_pct}, True),
        ("rewind_10pct", {"op": "rewind", "tail": ten_pct}, True),
        ("seed_rewind_10pct", {"op": "seed_rewind", "tail": ten_pct}, True),
        ("rewind_100", {"op": "rewind", "tail": 100}, True),
        ("chat_rewind_1pct", {"op": "chat_rewind", "share": 0.01}, True),
        ("undo_rewind_1pct", {"op": "undo_rewind", "share": 0.01}, True),
        ("fork_1000_turns", {"op": "fork", "turns": 1000}, True),
        ("project", {"op": "project"}, True),
        ("seed_replay", {"op": "seed_replay"}, True),
        ("frames_events", {"op": "frames_events"}, False),
        ("read_sql_query", {"op": "read_sql_query"}, False),
        ("json_normalize_peer", {"op": "json_normalize"}, False),
        ("frames_affinity", {"op": "frames_affinity"}, False),
        ("affinity_dict_loop", {"op": "affinity_dict_loop"}, False),
        ("preview_1pct", {"op": "preview", "tail": one_pct}, False),
        ("state_at_head", {"op": "state_at", "at": "head", "tail": 100}, False),
        ("state_at_middle", {"op": "state_at", "at": "middle"}, False),
        ("append_single", {"op": "append_single", "count": max(4, appends // 10)}, True),
        ("append_bulk", {"op": "append_bulk", "count": appends}, True),
    ]


# (measurement, baseline, what the ratio means)
COMPARISONS = [
    ("rewind_1pct", "snapshot", "rewind 1% / snapshot alone (x)"),
    ("seed_rewind_1pct", "rewind_1pct", "seed's rewind 1% / rpkit's (speed-up)"),
    ("rewind_10pct", "snapshot", "rewind 10% / snapshot alone (x)"),
    ("seed_rewind_10pct", "rewind_10pct", "seed's rewind 10% / rpkit's (speed-up)"),
    ("rewind_100", "snapshot", "rewind last 100 / snapshot alone (x)"),
    ("chat_rewind_1pct", "snapshot", "rewind of 1% of a chat / snapshot alone (x)"),
    ("project", "chat_rewind_1pct", "rebuild / rewind of 1% of a chat (speed-up)"),
    ("undo_rewind_1pct", "chat_rewind_1pct", "undo_rewind / its rewind (x)"),
    ("seed_replay", "project", "per-event SQL replay / project (speed-up)"),
    ("read_sql_query", "frames_events", "read_sql_query / frames.events (speed-up)"),
    ("json_normalize_peer", "frames_events", "json_normalize peer / frames.events (speed-up)"),
    ("affinity_dict_loop", "frames_affinity", "dict loop / frames.affinity (speed-up)"),
]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    import pandas

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlite_library": sqlite3.__name__,
        "pandas": pandas.__version__,
        "rpkit": rpkit.__version__,
    }


def prepare(cached: Path, workdir: Path) -> dict[str, Any]:
    """A template copy of the history: projected once by rpkit, vacuumed, settled."""
    template = workdir / "template.db"
    shutil.copyfile(cached, template)
    rpkit.set_progress(False)
    with rpkit.open_db(template) as conn:
        rpkit.project(conn)
    conn = sqlite3.connect(template)
    try:
        conn.execute("VACUUM")
        info = {
            "head_event_id": conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0],
            "visible_events": conn.execute(
                "SELECT COUNT(*) FROM event_log WHERE superseded_by IS NULL"
            ).fetchone()[0],
            "retired_events": conn.execute(
                "SELECT COUNT(*) FROM event_log WHERE superseded_by IS NOT NULL"
            ).fetchone()[0],
            "rollback_entries": conn.execute("SELECT COUNT(*) FROM projection_undo").fetchone()[0],
        }
    finally:
        conn.close()
    settle(template)
    info["db_mb"] = round(template.stat().st_size / 2**20, 1)
    return {"template": template, **info}


def run_one(spec: dict[str, Any], sqlite_library: str | None = None) -> dict[str, Any]:
    env = {**os.environ, "RPKIT_PROGRESS": "0"}
    if sqlite_library:
        env["RPKIT_SQLITE"] = sqlite_library  # rpkit.store.sqlite: "stdlib" or "pysqlite3"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ops", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"measurement {spec['op']} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_size(events: int, args: argparse.Namespace, workdir: Path, log: Any) -> dict[str, Any]:
    cached, build_s = cached_history(
        events, args.seed, args.cache_dir, chats=args.chats, rebuild=args.rebuild_cache
    )
    prepared = prepare(cached, workdir)
    template = prepared.pop("template")
    appends = args.appends or min(20_000, max(200, events // 20))
    libraries = args.sqlite or [None]
    steps = [
        (tagged(name, lib, libraries), spec, own_copy, lib)
        for name, spec, own_copy in plan(events, appends)
        if not args.only or name in args.only
        for lib in libraries
    ]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in steps}
    specs = {name: spec for name, spec, *_ in steps}
    for rep in range(args.repeat):
        for name, spec, own_copy, lib in steps:
            scratch = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
            try:
                db = template
                if own_copy:
                    db = scratch / "history.db"
                    shutil.copyfile(template, db)
                result = run_one({**spec, "db": str(db), "data_dir": str(scratch)}, lib)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            runs[name].append(result)
            print(
                f"  [{events:>9,} events, run {rep + 1}/{args.repeat}] {name:<20} "
                f"{result['seconds']:9.4f} s  peak {result['peak_rss_mb']:7.1f} MB",
                file=log,
                flush=True,
            )
    measurements = {}
    for name, results in runs.items():
        secs = [r["seconds"] for r in results]
        entry = {
            "median_s": statistics.median(secs),
            "runs_s": secs,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "rss_growth_mb": statistics.median(r["rss_growth_mb"] for r in results),
            "params": {k: v for k, v in specs[name].items() if k != "op"},
            "op": specs[name]["op"],
        }
        for size in ("frame_mb", "frame_unique_mb"):
            if size in results[0]:
                entry[size] = statistics.median(r[size] for r in results)
        if "count" in specs[name]:
            entry["events_per_s"] = specs[name]["count"] / entry["median_s"]
            entry["ms_per_event"] = 1000 * entry["median_s"] / specs[name]["count"]
        measurements[name] = entry
    ratios = {}
    for slow, fast, label in COMPARISONS:
        if slow in measurements and fast in measurements:
            ratios[f"{slow}/{fast}"] = {
                "value": measurements[slow]["median_s"] / measurements[fast]["median_s"],
                "meaning": label,
            }
    return {
        "events": events,
        **prepared,
        "sqlite_ratios": library_ratios(measurements, libraries),
        "demo_build_s": build_s,
        "demo_build_events_per_s": events / build_s if build_s else None,
        "measurements": measurements,
        "ratios": ratios,
        "targets": targets(measurements),
    }


def tagged(name: str, library: str | None, libraries: list[str | None]) -> str:
    """The first ``--sqlite`` library's runs keep the plain names (the targets read
    them); the others' are ``name@library``."""
    return name if library == libraries[0] else f"{name}@{library}"


def library_ratios(m: dict[str, dict[str, Any]], libraries: list[str | None]) -> dict[str, Any]:
    """Each measurement on the first library over the same on each other one."""
    out: dict[str, Any] = {}
    for other in libraries[1:]:
        out[f"{libraries[0]}/{other}"] = {
            name: m[name]["median_s"] / m[f"{name}@{other}"]["median_s"]
            for name in m
            if "@" not in name and f"{name}@{other}" in m
        }
    return out


def targets(m: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issue's targets at one size: value, limit, met."""

    def ratio(a: str, b: str) -> float | None:
        return m[a]["median_s"] / m[b]["median_s"] if a in m and b in m else None

    def frame_ratio(name: str) -> float | None:
        return m[name]["rss_growth_mb"] / m[name]["frame_unique_mb"] if name in m else None

    checks = {
        "rewind 1% <= 1.5x snapshot": (ratio("rewind_1pct", "snapshot"), "<=", 1.5),
        "rewind 1% >= 5x faster than seed's": (ratio("seed_rewind_1pct", "rewind_1pct"), ">=", 5),
        "project >= 2x faster than per-event loop": (ratio("seed_replay", "project"), ">=", 2),
        "frames.events no slower than read_sql_query": (
            ratio("read_sql_query", "frames_events"),
            ">=",
            1,
        ),
        # The memory the call itself adds (peak less the process just before it: the
        # interpreter, pandas and the open connection are not the call's), against the
        # memory the frame holds, each object once; pandas' deep count would put every
        # missing text's pd.NA in again (3x the frame at 1M events) and pass any loader.
        "frames.events peak memory < 3x the frame": (frame_ratio("frames_events"), "<", 3),
        "frames.affinity no slower than dict loop": (
            ratio("affinity_dict_loop", "frames_affinity"),
            ">=",
            1,
        ),
        "preview < 20 ms": (
            1000 * m["preview_1pct"]["median_s"] if "preview_1pct" in m else None,
            "<",
            20,
        ),
        "state_at near head < 0.2 s": (
            m["state_at_head"]["median_s"] if "state_at_head" in m else None,
            "<",
            0.2,
        ),
        "rewind 1% of a chat <= 1.5x snapshot": (
            ratio("chat_rewind_1pct", "snapshot"),
            "<=",
            1.5,
        ),
        "rewind 1% of a chat >= 10x faster than project": (
            ratio("project", "chat_rewind_1pct"),
            ">=",
            10,
        ),
        "undo_rewind <= its rewind": (ratio("undo_rewind_1pct", "chat_rewind_1pct"), "<=", 1),
        "fork of 1,000 turns < 50 ms": (
            1000 * m["fork_1000_turns"]["median_s"] if "fork_1000_turns" in m else None,
            "<",
            50,
        ),
    }
    out = {}
    for label, (value, op, limit) in checks.items():
        if value is None:
            continue
        met = value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit
        out[label] = {"value": value, "limit": f"{op} {limit}", "met": bool(met)}
    return out


def growth(small: dict[str, Any], big: dict[str, Any]) -> dict[str, Any]:
    """How each measurement grows from the smaller size to the larger one."""
    out: dict[str, Any] = {"from_events": small["events"], "to_events": big["events"]}
    factors = {}
    for name, entry in big["measurements"].items():
        if name in small["measurements"]:
            factors[name] = entry["median_s"] / small["measurements"][name]["median_s"]
    out["factors"] = factors
    if "rewind_100" in factors and "snapshot" in factors:
        out["target"] = {
            "rewind of the last 100 grows no more than the snapshot": {
                "rewind_100": factors["rewind_100"],
                "snapshot": factors["snapshot"],
                "met": factors["rewind_100"] <= factors["snapshot"],
            }
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, action="append", help="history size (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chats", type=int, default=3, help="chats in the demo history")
    parser.add_argument("--appends", type=int, default=0, help="events appended in bulk")
    parser.add_argument("--only", action="append", help="run only this measurement")
    parser.add_argument(
        "--sqlite",
        action="append",
        choices=["pysqlite3", "stdlib"],
        help="run every measurement on this SQLite library too (repeatable; the first "
        "one's runs meet the targets, the others are compared with it)",
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--rebuild-cache", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--note", default="", help="stored in the JSON (e.g. what else ran)")
    parser.add_argument(
        "--markdown", type=Path, default=None, help="print the README table of a result JSON"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text()), COMPARISONS))
        return 0
    sizes = sorted(set(args.events or [100_000]))
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": list(os.getloadavg()),
        "repeat": args.repeat,
        "seed": args.seed,
        "chats": args.chats,
        "note": args.note,
        "sizes": [],
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rpkit-bench-") as tmp:
        for events in sizes:
            print(f"{events:,} events: building or loading the demo history...", flush=True)
            size_dir = Path(tmp) / f"e{events}"
            size_dir.mkdir()
            result["sizes"].append(measure_size(events, args, size_dir, sys.stdout))
            shutil.rmtree(size_dir, ignore_errors=True)
    result["growth"] = [
        growth(a, b) for a, b in zip(result["sizes"], result["sizes"][1:], strict=False)
    ]
    result["load_average_end"] = list(os.getloadavg())
    result["wall_s"] = time.perf_counter() - t0
    out = args.out or RESULTS_DIR / (
        f"bench-{'-'.join(str(s) for s in sizes)}"
        f"{'' if args.chats == 3 else f'-c{args.chats}'}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table(result, COMPARISONS))
    for size in result["sizes"]:
        for pair, ratios in size["sqlite_ratios"].items():
            print(f"\n{size['events']:,} events, time on {pair}:")
            for name, value in ratios.items():
                print(f"  {name:<22} {value:6.2f}x")
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
