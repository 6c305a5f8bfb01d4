"""Faults: a reader while a writer re-exports in a loop; a worker SIGKILLed during a build.

The reader is another process that reads the partition with pyarrow alone; it
must only ever see the old partition or the new one, whole, in one file. The
killed worker's shard leaves nothing listed; the rerun completes the corpus
with every conversation exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rpkit
from rpkit import frames
from rpkit.corpus import build, open_corpus
from rpkit.corpus.dataset import TABLES, check_out
from rpkit.corpus.exporter import export_history
from rpkit.demo import build_demo

from ..helpers import ROOT, settle
from .cluster import session_client, worker_writing, write_sharegpt


@pytest.fixture(scope="session")
def client(request):
    return session_client(request)


def _history(folder: Path, events: int, seed: int) -> tuple[str, int]:
    folder.mkdir()
    path = folder / "h.db"
    build_demo(path, events=events, seed=seed)
    settle(path)
    with rpkit.open_db(path) as conn:
        return str(path), len(frames.events(conn, include_retired=True))


@pytest.mark.slow
def test_a_reader_sees_the_old_or_the_new_partition_never_half_or_both(tmp_path):
    small, n_small = _history(tmp_path / "a", 60, 3)
    big, n_big = _history(tmp_path / "b", 400, 4)
    out = tmp_path / "c"
    check_out(out)
    export_history(small, str(out), "h")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.corpus.reader_child", str(out), "h", "6"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert json.loads(child.stdout.readline()) == {"ready": True}
    writes = 0
    while child.poll() is None:
        export_history(big if writes % 2 == 0 else small, str(out), "h")
        writes += 1
    result = json.loads(child.stdout.read())
    assert child.returncode == 0 and writes > 2 and result["reads"] > 0
    for rows, distinct, files in result["seen"]:
        assert files == 1  # never both
        assert rows in (n_small, n_big)  # never half
        assert distinct == rows
    assert not list((out / "_tmp").iterdir())


@pytest.mark.slow
def test_sigkill_a_worker_during_build_then_the_rerun_completes(tmp_path, client):
    source = write_sharegpt(tmp_path / "big.json", 48, turns=8)
    out = tmp_path / "c"
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["report"] = build(source, out, format="sharegpt", shard_size=6, client=client)
        except Exception as exc:  # a killed worker may fail the run; the rerun must finish it
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    pid = worker_writing(out, client)
    assert pid is not None, "no worker was seen importing a shard"
    os.kill(pid, signal.SIGKILL)
    thread.join(180)
    assert not thread.is_alive()

    listed = open_corpus(out).histories
    for name in listed:  # every listed history is whole: four readable partitions
        for table in TABLES:
            pq.read_table(out / table / f"history={name}" / "part-0.parquet")
    files = [p for t in TABLES for p in (out / t).glob("history=*/*")]
    assert {p.name for p in files} <= {"part-0.parquet"}

    client.wait_for_workers(2, timeout=60)
    report = build(source, out, format="sharegpt", shard_size=6, client=client)
    assert report.ok, repr(report)
    assert report.count("done") + report.count("skipped") == 8
    corpus = open_corpus(out, client=client)
    assert corpus.histories == [f"big-{i:05d}" for i in range(8)]
    summary = corpus.summary()
    assert summary["chats"].tolist() == [6] * 8 and summary["turns"].sum() == 48 * 8
    titles = [t for h in corpus.histories for t in corpus.read("chats", h)["title"]]
    assert sorted(t.split(":")[0] for t in titles) == sorted(f"c{i}" for i in range(48))
    for h in corpus.histories:
        ids = corpus.read("events", h)["id"]
        assert ids.is_unique
    assert not list((out / "_tmp").iterdir())
    assert sorted(p.name for p in (out / "_histories").iterdir()) == [
        f"big-{i:05d}.db" for i in range(8)
    ]
