"""Paths as every process of a cluster sees them: absolute, and checked where they are used.

A Dask worker runs in its own working folder, often on another machine, so a
relative path names another file there, or none. The public calls (``export``,
``build``, ``open_corpus``) pass every path they are given through ``absolute``
on the client, before any task is sent; tasks only ever get absolute paths.
``check_workers`` then asks each worker of a cluster whether it sees them, and
``need`` asks the same inside a task (for a path gone in between): either
raises ``WorkerPathError``, naming the worker and the path, rather than
leaving a task to fail in pyarrow or SQLite.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from .errors import WorkerPathError

PathArg = str | PathLike[str]
FILE, FOLDER, WRITABLE, ANY = "file", "folder", "writable folder", "file or folder"
SHARED = (
    "put the histories and the corpus on storage that every worker mounts at the same path "
    "(see the documentation's page on clusters)"
)


def absolute(path: PathArg) -> Path:
    """``path`` made absolute against this process's working folder, ``..`` folded, links kept.

    Links are kept (not ``resolve``d) because a shared mount is reached by the
    same path on every machine, not by what it points to on this one.
    """
    return Path(os.path.abspath(os.fspath(path)))


def _sees(path: str, kind: str) -> bool:
    if kind == FILE:
        return os.path.isfile(path) and os.access(path, os.R_OK)
    if kind == FOLDER:
        return os.path.isdir(path)
    if kind == ANY:
        return os.path.exists(path)
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def unseen(needs: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The ``(path, what, kind)`` of ``needs`` that this process cannot see (or use)."""
    return [n for n in needs if not _sees(n[0], n[2])]


def _message(who: str, path: str, what: str, kind: str, more: int = 0) -> str:
    use = {FILE: "read", FOLDER: "see", WRITABLE: "write to", ANY: "see"}[kind]
    also = f" (and {more} more path{'s' if more > 1 else ''})" if more else ""
    return f"{who} cannot {use} the {what} {path}{also}: {SHARED}"


def this_process() -> str:
    """This process as an error names it: its Dask worker's address, or its host and pid."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return f"process {os.getpid()} on {socket.gethostname()}"
    return f"the Dask worker {worker.address} (pid {os.getpid()} on {socket.gethostname()})"


def need(path: PathArg, what: str, kind: str = FILE) -> None:
    """Inside a task: raise ``WorkerPathError`` unless this process sees ``path`` as ``kind``."""
    missing = unseen([(os.fspath(path), what, kind)])
    if missing:
        raise WorkerPathError(_message(this_process(), *missing[0]))


def check_workers(client: Any, needs: Sequence[tuple[PathArg, str, str]]) -> None:
    """On a cluster, before any task: every worker sees every ``(path, what, kind)`` of ``needs``.

    ``client.run`` asks each worker at once. No client (the local scheduler's
    processes share this machine and this folder): nothing to ask.
    """
    if client is None or not needs:
        return
    asked = [(os.fspath(p), what, kind) for p, what, kind in needs]
    answers = client.run(unseen, asked)
    for address, missing in sorted(answers.items()):
        if missing:
            who = f"the Dask worker {address}"
            raise WorkerPathError(_message(who, *missing[0], more=len(missing) - 1))
