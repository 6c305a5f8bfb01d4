"""Corpora on a real cluster: a ``dask scheduler`` and two ``dask worker`` processes.

Each process runs in its own temporary folder (as on separate machines), so a
relative path the client was given names nothing on a worker; the client works
in another temporary folder and passes relative paths only. ``export``,
``build``, ``summary``, ``open_corpus`` and the CLI's ``--cluster`` run there;
a worker SIGKILLed during a build leaves nothing half listed and the rerun
completes; a worker that does not see the shared folder (its own mount
namespace, a tmpfs over that folder) is named in a ``WorkerPathError``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rpkit
from rpkit import frames
from rpkit.corpus import WorkerPathError, build, export, open_corpus
from rpkit.corpus.dataset import PART, TABLES, partition_dir, source_of
from rpkit.corpus.exporter import export_history

from .cluster import demo_histories, worker_writing, write_sharegpt
from .processes import DaskProcesses, start_cluster

EXPORTS = Path(__file__).parents[2] / "data" / "exports"
RPKIT = Path(sys.executable).parent / "rpkit"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The module's scheduler and workers ``w0`` and ``w1``, stopped at the end, also on failure."""
    processes, client = start_cluster(tmp_path_factory.mktemp("dask"), workers=2)
    try:
        yield processes, client
    finally:
        processes.stop()


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """The client's working folder: a temporary one, which no worker has as its own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _worker_folders_untouched(processes: DaskProcesses) -> None:
    for name in ("w0", "w1"):
        held = {p.name for p in processes.folder(name).iterdir()}
        assert held <= {"log.txt", "dask-scratch-space"}, held


def test_export_open_corpus_and_summary_with_relative_paths(cluster, here):
    processes, client = cluster
    demo_histories(Path("h"), 2, events=60)
    report = export(["h/h001.db", "h/h002.db"], "corpus", client=client)
    assert report.out == here / "corpus"
    expected = {}
    for name in ("h001", "h002"):
        with rpkit.open_db(here / "h" / f"{name}.db") as conn:
            expected[name] = (len(frames.chats(conn)), len(frames.transcripts(conn)))
    rows = report.histories.set_index("history")
    assert {h: (rows.at[h, "chats"], rows.at[h, "turns"]) for h in expected} == expected

    corpus = open_corpus("corpus", client=client)
    assert corpus.out == here / "corpus" and corpus.histories == ["h001", "h002"]
    summary = corpus.summary().set_index("history")
    assert summary["chats"].to_dict() == {h: c for h, (c, _) in expected.items()}
    (turns,) = corpus.compute(corpus.turns)
    assert turns["history"].value_counts().to_dict() == {h: t for h, (_, t) in expected.items()}
    source = source_of(partition_dir(here / "corpus", "chats", "h001") / PART)
    assert source == str((here / "h" / "h001.db").resolve())
    _worker_folders_untouched(processes)


def test_build_a_sillytavern_folder_with_relative_paths(cluster, here):
    processes, client = cluster
    shutil.copytree(EXPORTS / "sillytavern", "st")
    report = build("st", "c2", format="sillytavern", shard_size=50, client=client)
    assert report.ok, repr(report)
    assert report.shards["shard"].tolist() == ["st-00000", "st_group-00000"]
    assert report.out == here / "c2"
    summary = open_corpus("c2", client=client).summary()
    assert summary["chats"].tolist() == [2, 1]
    again = build("st", "c2", format="sillytavern", shard_size=50, client=client)
    assert again.count("skipped") == 2
    _worker_folders_untouched(processes)


def _rpkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(RPKIT), *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def test_the_cli_runs_on_the_cluster_with_relative_paths(cluster, here):
    processes, client = cluster
    address = processes.address
    for name in ("a.db", "b.db"):
        assert _rpkit("demo", name, cwd=here).returncode == 0
    shutil.copytree(EXPORTS / "sillytavern", here / "st")

    done = _rpkit("corpus", "export", "corpus/", "a.db", "b.db", "--cluster", address, cwd=here)
    assert done.returncode == 0, done.stderr
    assert "ExportReport(2 histories into corpus/" in done.stdout
    done = _rpkit("corpus", "build", "sillytavern", "st", "c2/", "--cluster", address, cwd=here)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 shards into c2/: 2 done, 0 skipped, 0 failed" in done.stdout
    done = _rpkit("corpus", "summary", "corpus/", "--cluster", address, cwd=here)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["history", "chats", "turns"]
    assert [line.split()[0] for line in lines[1:]] == ["a", "b"]
    assert open_corpus(here / "corpus").histories == ["a", "b"]
    _worker_folders_untouched(processes)


@pytest.mark.slow
def test_sigkill_a_worker_process_during_build_then_the_rerun_completes(cluster, here):
    processes, client = cluster
    write_sharegpt(Path("big.json"), 48, turns=8)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["report"] = build(
                "big.json", "c", format="sharegpt", shard_size=6, client=client
            )
        except Exception as exc:  # a killed worker may fail the run; the rerun must finish it
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    pid = worker_writing(here / "c", client)
    assert pid is not None, "no worker was seen importing a shard"
    os.kill(pid, signal.SIGKILL)  # the worker process; its nanny starts another
    thread.join(180)
    assert not thread.is_alive()

    for name in open_corpus("c").histories:  # every listed history is whole
        for table in TABLES:
            pq.read_table(partition_dir(here / "c", table, name) / PART)
    files = [p for t in TABLES for p in (here / "c" / t).glob("history=*/*")]
    assert {p.name for p in files} <= {PART}

    client.wait_for_workers(2, timeout=90)
    assert pid not in client.run(os.getpid).values()
    report = build("big.json", "c", format="sharegpt", shard_size=6, client=client)
    assert report.ok, repr(report)
    assert report.count("done") + report.count("skipped") == 8
    corpus = open_corpus("c", client=client)
    assert corpus.histories == [f"big-{i:05d}" for i in range(8)]
    summary = corpus.summary()
    assert summary["chats"].tolist() == [6] * 8 and summary["turns"].sum() == 48 * 8
    titles = [t for h in corpus.histories for t in corpus.read("chats", h)["title"]]
    assert sorted(t.split(":")[0] for t in titles) == sorted(f"c{i}" for i in range(48))
    for h in corpus.histories:
        assert corpus.read("events", h)["id"].is_unique
    assert not list((here / "c" / "_tmp").iterdir())
    held = sorted(p.name for p in (here / "c" / "_histories").iterdir())
    assert held == [f"big-{i:05d}.db" for i in range(8)]


# A worker that does not see the shared folder: the same path on its "machine" is an
# empty tmpfs, mounted in a mount namespace of its own (needs root or CAP_SYS_ADMIN).
BLIND = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
BLIND_SCRIPT = 'mount -t tmpfs rpkit-blind "$0" && exec "$@"'


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*BLIND[:4], "true"], capture_output=True)
    return probe.returncode == 0


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.skipif(
    not _can_unshare(), reason="needs `unshare --mount` (root or CAP_SYS_ADMIN) for a blind worker"
)
def test_a_worker_that_cannot_see_the_shared_folder_is_named(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.chdir(shared)
    (db,) = demo_histories(Path("h"), 1, events=40)
    export([db], "corpus")  # on the local scheduler: a corpus that must stay as it is
    shutil.copytree(EXPORTS / "sillytavern", "st")
    before = _tree(shared)
    processes = DaskProcesses(tmp_path / "dask")
    try:
        processes.start_scheduler()
        processes.start_worker("seeing")
        processes.start_worker("blind", prefix=[*BLIND, BLIND_SCRIPT, str(shared)])
        client = processes.client(2)
        workers = client.scheduler_info()["workers"]
        (blind,) = [a for a, w in workers.items() if w["name"] == "blind"]
        history = str((shared / "h" / "h001.db").resolve())

        with pytest.raises(WorkerPathError) as caught:
            export(["h/h001.db"], "corpus", client=client)
        assert str(caught.value).startswith(
            f"the Dask worker {blind} cannot read the history {history} (and 1 more path): "
            "put the histories and the corpus on storage that every worker mounts at the same path"
        )
        with pytest.raises(WorkerPathError, match=f"worker {blind} cannot write to the corpus"):
            build("st", "corpus", format="sillytavern", client=client)
        with pytest.raises(WorkerPathError, match=f"worker {blind} cannot see the corpus table"):
            open_corpus("corpus", client=client)
        # inside a task (a path gone between the client's check and the task)
        task = client.submit(
            export_history, history, str(shared / "corpus"), "h001", workers=[blind], pure=False
        )
        with pytest.raises(WorkerPathError, match=f"the Dask worker {blind} \\(pid"):
            task.result(timeout=60)

        done = subprocess.run(
            [
                str(RPKIT),
                "corpus",
                "export",
                "corpus/",
                "h/h001.db",
                "--cluster",
                processes.address,
            ],
            cwd=shared,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"Error: the Dask worker {blind} cannot read the history")
    finally:
        processes.stop()
    assert _tree(shared) == before
