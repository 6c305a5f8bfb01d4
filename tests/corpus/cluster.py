"""Shared pieces of the corpus tests: one LocalCluster for the session, small histories.

The cluster is made once (two worker processes, loopback only) and reused by
every corpus test module; the first fixture that makes it closes it at the end.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rpkit.demo import build_demo

from ..helpers import settle

_CLUSTER: dict[str, object] = {}


def session_client(request: pytest.FixtureRequest):
    """The session's ``distributed.Client`` on a ``LocalCluster(n_workers=2, processes=True)``."""
    if "client" not in _CLUSTER:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=50,
        )
        client = Client(cluster)
        _CLUSTER.update(cluster=cluster, client=client)

        def close() -> None:
            client.close()
            cluster.close()
            _CLUSTER.clear()

        request.addfinalizer(close)
    return _CLUSTER["client"]


def demo_histories(folder: Path, n: int, *, events: int = 80) -> list[Path]:
    """``n`` demo histories of about ``events`` events each, seeds 1..n."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(1, n + 1):
        path = folder / f"h{seed:03d}.db"
        build_demo(path, events=events + 10 * seed, seed=seed)
        settle(path)
        paths.append(path)
    return paths


LINES = [
    "I love this place, it is wonderful and warm.",
    "You lied to me and I hate it.",
    "Tell me more about the road ahead.",
    "Thank you, that was kind of you.",
    "This is awful, terrible news.",
]


def sharegpt_records(n: int, turns: int = 6) -> list[dict]:
    """``n`` ShareGPT conversations of ``turns`` messages, every text different."""
    records = []
    for i in range(n):
        conv = []
        for j in range(turns):
            who = "human" if j % 2 == 0 else "gpt"
            conv.append({"from": who, "value": f"{LINES[(i + j) % len(LINES)]} ({i}.{j})"})
        records.append({"id": f"c{i}", "conversations": conv})
    return records


def write_sharegpt(path: Path, n: int, turns: int = 6) -> Path:
    path.write_text(json.dumps(sharegpt_records(n, turns), indent=1))
    return path


def worker_writing(out: Path, client, timeout: float = 90.0) -> int | None:
    """The pid of a worker while it writes a temporary history (from its file's name)."""
    pids = set(client.run(os.getpid).values())
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in (out / "_tmp").glob("*~*.db"):
            pid = int(p.name.split("~")[1])
            if pid in pids:
                return pid
        time.sleep(0.005)
    return None
