"""A real Dask cluster for the tests: a ``dask scheduler`` and ``dask worker`` processes.

Each process is the environment's own ``dask`` command, started in its own temporary
folder as its working folder (as on separate machines, where a relative path means
something else), listening on 127.0.0.1 with no dashboard, in its own process group.
``stop`` sends SIGTERM to each group, then SIGKILL to what is left after a grace time;
``start_cluster`` stops what it started if the cluster does not come up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

DASK = Path(sys.executable).parent / "dask"  # the command of the environment under test
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


@dataclass
class DaskProcesses:
    """A scheduler's address and the process groups of the scheduler and the workers."""

    root: Path
    address: str = ""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    clients: list = field(default_factory=list)

    def spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen:
        """Start ``argv`` in ``root/name`` (its working folder and log), a group of its own."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "log.txt", "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def start_scheduler(self, timeout: float = 60) -> str:
        port = free_port()
        argv = [str(DASK), "scheduler", "--host", HOST, "--port", str(port), "--no-dashboard"]
        proc = self.spawn("scheduler", argv)
        end = time.monotonic() + timeout
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the scheduler did not start:\n{self.log('scheduler')}")
            time.sleep(0.1)
        self.address = f"tcp://{HOST}:{port}"
        return self.address

    def start_worker(self, name: str, prefix: Sequence[str] = ()) -> subprocess.Popen:
        """A ``dask worker`` (with its nanny) of one thread; ``prefix`` wraps the command."""
        argv = [str(DASK), "worker", self.address, "--host", HOST, "--nthreads", "1"]
        argv += ["--no-dashboard", "--name", name, "--death-timeout", "60"]
        return self.spawn(name, [*prefix, *argv])

    def client(self, workers: int, timeout: float = 90):
        """A ``distributed.Client`` on the scheduler, once ``workers`` workers are connected."""
        from distributed import Client

        client = Client(self.address, timeout=timeout)
        self.clients.append(client)
        client.wait_for_workers(workers, timeout=timeout)
        return client

    def folder(self, name: str) -> Path:
        """The working folder of the process ``name`` (``scheduler``, ``w0``, ...)."""
        return self.root / name

    def log(self, name: str) -> str:
        path = self.root / name / "log.txt"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self, grace: float = 10) -> None:
        """Close the clients; SIGTERM every process group, then SIGKILL what is left."""
        for client in self.clients:
            with contextlib.suppress(Exception):  # a client of a cluster already gone
                client.close(timeout=5)
        self.clients.clear()
        groups = {name: p for name, p in self.procs.items() if p.poll() is None}
        for name in sorted(groups, key=lambda n: n == "scheduler"):  # workers first
            _signal(groups[name], signal.SIGTERM)
        end = time.monotonic() + grace
        for proc in groups.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, end - time.monotonic()))
        for proc in self.procs.values():  # the group too: a nanny's worker may outlive it
            _signal(proc, signal.SIGKILL)
            proc.wait()
        self.procs.clear()


def _signal(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # start_new_session: the group's id is the leader's pid


def start_cluster(root: Path, workers: int = 2) -> tuple[DaskProcesses, object]:
    """A scheduler and ``workers`` workers (``w0``, ``w1``, ...), and a client once all joined."""
    cluster = DaskProcesses(root)
    try:
        cluster.start_scheduler()
        for i in range(workers):
            cluster.start_worker(f"w{i}")
        return cluster, cluster.client(workers)
    except BaseException:
        cluster.stop()
        raise
