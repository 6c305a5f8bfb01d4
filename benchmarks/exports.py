"""``python -m benchmarks.exports``: the exports against their baselines, ratios in one run.

* **history**: at ``--events`` (1,000,000: the cached demo history), the
  ``messages`` and ``preferences`` exports to Parquet against
  ``frames.transcripts`` (every chat's ``frames.turns``) plus a plain
  ``pyarrow.parquet.write_table`` of the same rows (the table built before the
  clock), interleaved ``--repeat`` times; the ratio is of the medians. The
  preference rows keep the last ``--context`` prompt messages: with whole
  prompts the demo's ~14,000 pairs would repeat its 160,000-turn chats in every
  row (billions of messages), which neither an export nor its baseline can hold.
* **corpus**: ``export_training`` of a corpus of ``--histories`` demo histories
  of ``--corpus-events`` each, on a ``LocalCluster`` of 1 worker and of 2
  (both started before the clock), interleaved; and each worker's peak RSS
  (``VmHWM``, reset before the run) at 1/10 of the histories and at all of
  them: flat when the ratio is near 1. Two CPU-bound processes against one,
  before and after (``cpu_scaling``), give the most two workers can gain on
  this machine at that moment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import rpkit
from rpkit import exports, frames
from rpkit.corpus import export, export_training
from rpkit.exports.messages import COLUMNS as MESSAGE_COLUMNS
from rpkit.exports.preferences import COLUMNS as PREFERENCE_COLUMNS
from rpkit.exports.rows import to_arrow_table

from .corpus import _peak_kb, _reset_peak, cluster, cpu_scaling, histories, timed
from .history import cached_history

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def bench_history(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    db, _ = cached_history(args.events, 7)
    with rpkit.open_db(db) as conn:
        tree = exports.read_tree(conn)
        tables = {
            "messages": to_arrow_table(exports.message_rows(tree), MESSAGE_COLUMNS),
            "preferences": to_arrow_table(
                exports.preference_rows(tree, context=args.context), PREFERENCE_COLUMNS
            ),
        }
        del tree
        runs: dict[str, list[float]] = {k: [] for k in ("turns", "messages", "preferences")}
        writes: dict[str, list[float]] = {"messages": [], "preferences": []}
        for i in range(args.repeat):
            runs["turns"].append(timed(frames.transcripts, conn)[0])
            for kind in ("messages", "preferences"):
                out = work / f"{kind}-{i}.parquet"
                options = {"context": args.context} if kind == "preferences" else {}
                runs[kind].append(timed(exports.export, kind, conn, out, **options)[0])
                writes[kind].append(
                    timed(pq.write_table, tables[kind], work / f"plain-{kind}-{i}.parquet")[0]
                )
    t_turns = statistics.median(runs["turns"])
    result: dict[str, Any] = {"events": args.events, "context": args.context, "turns_s": t_turns}
    for kind in ("messages", "preferences"):
        t, w = statistics.median(runs[kind]), statistics.median(writes[kind])
        result[kind] = {
            "rows": tables[kind].num_rows,
            "export_s": t,
            "write_table_s": w,
            "vs_turns_plus_write": t / (t_turns + w),
        }
    result["runs"] = runs | {f"write_{k}": v for k, v in writes.items()}
    return result


def _train(corpus: Path, out: Path, client) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t, _ = timed(export_training, corpus, out, "preferences", client=client)
    return t


def bench_corpus(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    one, client1 = cluster(1)
    two, client2 = cluster(2)
    try:
        paths = histories(work / "histories", args.histories, args.corpus_events, client2)
        small, full = work / "corpus-small", work / "corpus"
        export(paths[: max(1, args.histories // 10)], small, client=client2)
        export(paths, full, client=client2)
        times: dict[str, list[float]] = {"one_worker": [], "two_workers": []}
        for i in range(args.repeat):
            order = [("one_worker", client1), ("two_workers", client2)]
            for name, c in order if i % 2 == 0 else order[::-1]:
                times[name].append(_train(full, work / "training", c))
        peaks = {}
        for name, corpus in (("tenth", small), ("all", full)):
            client2.restart()
            client2.run(_reset_peak)
            _train(corpus, work / "training", client2)
            peaks[name] = max(client2.run(_peak_kb).values()) / 1024
        t1, t2 = statistics.median(times["one_worker"]), statistics.median(times["two_workers"])
        return {
            "histories": args.histories,
            "events_per_history": args.corpus_events,
            "one_worker_s": t1,
            "two_workers_s": t2,
            "speedup_2_vs_1": t1 / t2,
            "worker_peak_rss_mb": peaks,
            "peak_growth_10x": peaks["all"] / peaks["tenth"],
            "runs": times,
        }
    finally:
        for c, lc in ((client1, one), (client2, two)):
            c.close()
            lc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--context", type=int, default=16)
    parser.add_argument("--histories", type=int, default=1000)
    parser.add_argument("--corpus-events", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=("history", "corpus"))
    parser.add_argument("--out", type=Path, help="the result file (default: benchmarks/results/)")
    args = parser.parse_args()
    rpkit.set_progress(False)
    work = Path(tempfile.mkdtemp(prefix="rpkit-bench-exports-"))
    results: dict[str, Any] = {"args": vars(args), "load_average_before": os.getloadavg()}
    try:
        if args.only in (None, "history"):
            results["history"] = bench_history(work, args)
        if args.only in (None, "corpus"):
            results["cpu_scaling_before_corpus"] = cpu_scaling()
            results["corpus"] = bench_corpus(work, args)
            results["cpu_scaling_after_corpus"] = cpu_scaling()
        results["load_average_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out or RESULTS_DIR / f"exports-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps({k: v for k, v in results.items() if k != "args"}, indent=1, default=str))


if __name__ == "__main__":
    main()
