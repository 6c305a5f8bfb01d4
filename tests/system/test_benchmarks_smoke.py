"""The benchmark scripts at a tiny size: every measurement is reported (no timings checked).

Also holds the baselines to what they stand for: the seed's per-event SQL
replay and the dict-loop affinity give the same values as rpkit, so the
benchmark compares like with like.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pandas as pd

import rpkit
from benchmarks import baselines
from benchmarks.__main__ import COMPARISONS, plan

from ..helpers import ROOT, copy_demo, table_rows

ROOT = ROOT


def run_benchmark(module: str, *args: str) -> str:
    """``python -m module args`` from the repository; it must succeed. Its output."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_tiny_run_reports_every_measurement(tmp_path):
    out = tmp_path / "result.json"
    cache = str(tmp_path / "cache")
    stdout = run_benchmark(
        "benchmarks", "--events", "2000", "--repeat", "1", "--cache-dir", cache, "--out", str(out)
    )
    result = json.loads(out.read_text())
    assert result["repeat"] == 1
    assert {"cpu", "cores", "python", "sqlite", "pandas"} <= set(result["machine"])
    (size,) = result["sizes"]
    assert size["events"] == 2000
    assert size["head_event_id"] >= 2000
    assert size["demo_build_s"] > 0
    expected = [name for name, _spec, _copy in plan(2000, 100)]
    assert list(size["measurements"]) == expected
    for name, m in size["measurements"].items():
        assert len(m["runs_s"]) == 1, name
        assert m["median_s"] > 0, name
        assert m["peak_rss_mb"] > 0, name
        assert m["rss_growth_mb"] >= 0, name
    assert size["measurements"]["append_bulk"]["events_per_s"] > 0
    for name in ("frames_events", "json_normalize_peer"):
        sized = size["measurements"][name]
        assert 0 < sized["frame_unique_mb"] <= sized["frame_mb"], name
    assert set(size["ratios"]) == {f"{slow}/{fast}" for slow, fast, _ in COMPARISONS}
    assert set(size["targets"]) == {
        "rewind 1% <= 1.5x snapshot",
        "rewind 1% >= 5x faster than seed's",
        "project >= 2x faster than per-event loop",
        "frames.events no slower than read_sql_query",
        "frames.events peak memory < 3x the frame",
        "frames.affinity no slower than dict loop",
        "preview < 20 ms",
        "state_at near head < 0.2 s",
        "rewind 1% of a chat <= 1.5x snapshot",
        "rewind 1% of a chat >= 10x faster than project",
        "undo_rewind <= its rewind",
        "fork of 1,000 turns < 50 ms",
    }
    assert all(isinstance(t["met"], bool) for t in size["targets"].values())
    # The printed table names every measurement that is not shown as a baseline.
    for name in ("snapshot", "rewind_1pct", "project", "frames_events", "preview_1pct"):
        assert name in stdout
    # The README table of that result: one row per measurement, baselines beside theirs.
    table = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--markdown", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()
    rows = {line.split(" | ")[0].lstrip("| ") for line in table[2:]}
    baselines_shown = {"seed_rewind_1pct", "seed_rewind_10pct", "seed_replay"}
    baselines_shown |= {"read_sql_query", "json_normalize_peer", "affinity_dict_loop"}
    assert rows == set(expected) - baselines_shown
    assert "seed_replay" in next(line for line in table if line.startswith("| project |"))
    events_row = next(line for line in table if line.startswith("| frames_events |"))
    assert "read_sql_query" in events_row and "json_normalize_peer" in events_row
    assert "x the frame" in events_row


def test_the_seed_replay_builds_the_tables_rpkit_builds(demo_path):
    with rpkit.open_db(demo_path) as conn:
        expected = table_rows(conn)
        baselines.seed_full_replay(conn)
        assert table_rows(conn) == expected


def test_the_seed_rewind_ends_where_rpkit_rewind_does(tmp_path, demo_path):
    other = tmp_path / "other.db"
    other.write_bytes(demo_path.read_bytes())
    with rpkit.open_db(demo_path) as conn:
        n = conn.execute("SELECT MAX(id) FROM event_log").fetchone()[0] - 40
    rpkit.execute_rewind(db_path=demo_path, data_dir=tmp_path / "a", after_event_id=n)
    baselines.seed_rewind(db_path=other, data_dir=tmp_path / "b", after_event_id=n)
    with rpkit.open_db(demo_path) as a, rpkit.open_db(other) as b:
        assert table_rows(a) == table_rows(b)
        assert (
            a.execute("SELECT COUNT(*) FROM event_log").fetchone()
            == b.execute("SELECT COUNT(*) FROM event_log").fetchone()
        )


def test_the_baseline_loaders_read_what_the_frames_read(demo_path):
    from rpkit import frames

    with rpkit.open_db(demo_path) as conn:
        raw = baselines.events_read_sql(conn)
        typed = frames.events(conn)
        assert raw["id"].tolist() == typed["id"].tolist()
        loop = baselines.affinity_dict_loop(conn)
        timeline = frames.affinity(conn)
        assert loop["event_id"].tolist() == timeline["event_id"].tolist()
        assert loop["affinity"].tolist() == timeline["affinity"].tolist()
        last = loop.groupby(["src", "dst"]).tail(1)
        edges = {(s, d): a for s, d, a in conn.execute("SELECT src, dst, affinity FROM edges")}
        assert {(r.src, r.dst): r.affinity for r in last.itertuples()} == edges


def _cells(column: pd.Series) -> list:
    """A column's values as Python objects, every kind of missing value as None."""
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
        for v in column.astype(object)
    ]


def test_the_json_normalize_peer_builds_the_frame_frames_events_builds(tmp_path):
    from rpkit import frames

    with rpkit.open_db(copy_demo(tmp_path)) as conn:
        peer = baselines.events_json_normalize(conn)
        typed = frames.events(conn)
    # The peer has a column for each payload key any event holds, renamed as rpkit
    # renames them; rpkit adds the catalogue's fields that no payload holds (all NA).
    assert set(peer.columns) <= set(typed.columns)
    assert "container_kind" in peer.columns and "kind" in peer.columns
    for name in set(typed.columns) - set(peer.columns):
        assert typed[name].isna().all(), name
    assert len(peer) == len(typed)
    as_times = pd.to_datetime(peer["ts"], utc=True, format="ISO8601")
    assert (as_times == typed["ts"]).all()
    for name in set(peer.columns) - {"ts"}:
        assert _cells(peer[name]) == _cells(typed[name]), name


def test_a_tiny_corpus_run_reports_every_ratio(tmp_path):
    out = tmp_path / "corpus.json"
    args = ["--conversations", "40", "--turns", "4", "--shard-size", "10"]
    args += ["--histories", "2", "--events", "40", "--repeat", "1", "--out", str(out)]
    run_benchmark("benchmarks.corpus", *args)
    result = json.loads(out.read_text())
    build = result["build"]
    assert build["turns"] == 40 * 4 and build["shards"] == 4
    ratios = ("speedup_2_vs_1", "classify_per_worker_vs_single_process", "two_process_efficiency")
    derived = ("classify_per_worker_vs_ceiling", "classify_1_worker_vs_single_process")
    for key in (*ratios, *derived, "speedup_2_vs_1_vs_ceiling"):
        assert build[key] > 0, key
    corpus = result["corpus"]
    assert [corpus[s]["histories"] for s in ("x1", "x10")] == [2, 20]
    for scale in ("x1", "x10"):
        row = corpus[scale]
        runs = row["runs"]
        assert len(runs["export"]) == len(runs["durable_export"]) == len(runs["read_frames"]) == 1
        ratios = ("export_vs_read", "durable_export_vs_read", "re_export_vs_read", "dask_speedup")
        for key in (*ratios, "worker_peak_rss_mb"):
            assert row[key] > 0, (scale, key)
    assert corpus["peak_growth_10x"] > 0


def test_the_durable_commit_benchmark_reports_both_ratios(tmp_path):
    out = tmp_path / "durable.json"
    cache = str(tmp_path / "cache")
    stdout = run_benchmark(
        "benchmarks.durable",
        "--events",
        "2000",
        "--commits",
        "20",
        "--repeat",
        "1",
        "--cache-dir",
        cache,
        "--out",
        str(out),
    )
    result = json.loads(out.read_text())
    assert "durable commit" in stdout
    assert len(result["runs"]["commit_durable_s"]) == len(result["runs"]["commit_normal_s"]) == 20
    assert result["commit_ratio"] > 0 and result["rewind_undo_ratio"] > 0


def test_a_tiny_exports_run_reports_every_ratio(tmp_path):
    out = tmp_path / "exports.json"
    args = ["--events", "2000", "--histories", "4", "--corpus-events", "40"]
    run_benchmark("benchmarks.exports", *args, "--repeat", "1", "--out", str(out))
    result = json.loads(out.read_text())
    for kind in ("messages", "preferences"):
        row = result["history"][kind]
        assert row["rows"] > 0 and row["vs_turns_plus_write"] > 0, kind
    corpus = result["corpus"]
    assert corpus["histories"] == 4 and corpus["speedup_2_vs_1"] > 0
    assert corpus["peak_growth_10x"] > 0
