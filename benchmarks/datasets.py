"""Dataset imports and builds: each format's import throughput vs the jsonl importer, corpus scaling.

``python -m benchmarks.datasets [--conversations N] [--build N] [--small N]``:

* the same generated conversations (4 turns) written in each format's shape
  (Arena: two conversations a record, so half the records) and imported, each
  format's turns/s divided by the ``jsonl`` importer's on the same
  conversations, interleaved over ``--repeat`` rounds (medians);
* ``corpus build`` of ``--build`` WildChat-shaped conversations on a
  ``LocalCluster`` of 2 workers vs 1 (no classify), and the workers' peak RSS
  against the same build of ``--small`` conversations.

Ratios of one run, side by side; the result goes to ``benchmarks/results/datasets-*.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rpkit
from rpkit.importers import import_file

from .corpus import cluster

RESULTS = Path(__file__).parent / "results"


def conversation(i: int) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": f"Question {i}: where does the lighthouse keeper sleep tonight?",
        },
        {"role": "assistant", "content": f"Answer {i}: in the tower, under the lamp, as always."},
        {"role": "user", "content": "And when the storm comes?"},
        {"role": "assistant", "content": "Then nobody sleeps, and the lamp turns all night."},
    ]


def shapes(i: int) -> dict[str, Any]:
    c = conversation(i)
    return {
        "jsonl": {"id": f"c{i}", "messages": c},
        "wildchat": {"conversation_hash": f"c{i}", "model": "gpt-4", "timestamp": "2023-04-09T00:02:53Z",
                     "conversation": c, "language": "English", "toxic": False, "redacted": False},
        "lmsys": {"conversation_id": f"c{i}", "model": "vicuna-13b", "conversation": c, "language": "English"},
        "pippa": {"submission_timestamp": 1674750995813, "bot_id": "b", "bot_name": "Mira", "bot_greeting": "",
                  "conversation": [{"message": m["content"], "is_human": m["role"] == "user"} for m in c]},
        "preference": {"id": f"c{i}", "prompt": c[:3], "chosen": [c[3]],
                       "rejected": [{"role": "assistant", "content": "No."}]},
    }  # fmt: skip


def write(folder: Path, n: int) -> dict[str, tuple[Path, int]]:
    """Each format's file of ``n`` conversations (its turns counted)."""
    files: dict[str, Any] = {}
    handles = {f: open(folder / f"{f}.jsonl", "w") for f in shapes(0)}  # noqa: SIM115
    arena = open(folder / "arena.jsonl", "w")  # noqa: SIM115
    for i in range(n):
        for f, rec in shapes(i).items():
            handles[f].write(json.dumps(rec) + "\n")
        if i % 2 == 0:
            a, b = conversation(i), conversation(i + 1)
            b[0] = a[0]
            arena.write(json.dumps({"question_id": f"q{i}", "model_a": "A", "model_b": "B", "winner": "tie",
                                    "conversation_a": a, "conversation_b": b}) + "\n")  # fmt: skip
    for h in (*handles.values(), arena):
        h.close()
    for f in shapes(0):
        files[f] = folder / f"{f}.jsonl"
    files["arena"] = folder / "arena.jsonl"
    data = (folder / "wildchat.jsonl").read_bytes()
    (folder / "wildchat.jsonl.gz").write_bytes(gzip.compress(data, compresslevel=1))
    files["wildchat .gz"] = folder / "wildchat.jsonl.gz"
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    pq.write_table(pj.read_json(folder / "wildchat.jsonl"), folder / "wildchat.parquet")
    files["wildchat .parquet"] = folder / "wildchat.parquet"
    return files


def bench_imports(work: Path, n: int, repeat: int) -> dict[str, Any]:
    files = write(work, n)
    times: dict[str, list[float]] = {k: [] for k in files}
    turns: dict[str, int] = {}
    for _ in range(repeat):
        for label, path in files.items():
            fmt = label.split()[0]
            db = work / "h.db"
            db.unlink(missing_ok=True)
            start = time.perf_counter()
            report = import_file(db, fmt, path)
            times[label].append(time.perf_counter() - start)
            turns[label] = report.turns
    base = turns["jsonl"] / statistics.median(times["jsonl"])
    out = {}
    for label in files:
        rate = turns[label] / statistics.median(times[label])
        out[label] = {
            "seconds": times[label],
            "turns": turns[label],
            "turns_per_s": rate,
            "vs_jsonl": rate / base,
        }
    return out


def _peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bench_build(work: Path, big: int, small: int, shard_size: int) -> dict[str, Any]:
    from rpkit.corpus import build

    out: dict[str, Any] = {}
    for n in (small, big):
        src = work / f"wildchat-{n}.jsonl"
        with open(src, "w") as f:
            for i in range(n):
                f.write(json.dumps(shapes(i)["wildchat"]) + "\n")
        for workers in (1, 2) if n == big else (2,):
            lc, client = cluster(workers)
            try:
                start = time.perf_counter()
                report = build(src, work / f"c-{n}-{workers}", format="wildchat", shard_size=shard_size,
                               classify=False, client=client)  # fmt: skip
                took = time.perf_counter() - start
                peaks = client.run(_peak)
            finally:
                client.close()
                lc.close()
            out[f"{n}x{workers}"] = {"seconds": took, "shards": len(report.shards),
                                     "failed": report.count("failed"),
                                     "worker_peak_rss_mb": max(peaks.values()) / 1024}  # fmt: skip
    out["speedup_2_vs_1"] = out[f"{big}x1"]["seconds"] / out[f"{big}x2"]["seconds"]
    out["rss_big_vs_small"] = (
        out[f"{big}x2"]["worker_peak_rss_mb"] / out[f"{small}x2"]["worker_peak_rss_mb"]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20000)
    parser.add_argument("--build", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--shard-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rpkit.set_progress(False)
    work = Path(tempfile.mkdtemp(prefix="rpkit-bench-datasets-"))
    try:
        results: dict[str, Any] = {"args": vars(args), "machine": platform.platform(),
                                   "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}  # fmt: skip
        results["imports"] = bench_imports(work, args.conversations, args.repeat)
        if args.build:
            results["build"] = bench_build(work, args.build, args.small, args.shard_size)
        results["load_average_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"datasets-{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    print(path)
    for label, r in results["imports"].items():
        print(f"{label:20} {r['turns_per_s']:10.0f} turns/s  {r['vs_jsonl']:.2f}x jsonl")
    if "build" in results:
        print(json.dumps(results["build"], indent=1))


if __name__ == "__main__":
    main()
