"""The recorder: build the LD_PRELOAD shim (``recorder.c``) with ``cc``, run a command
under it, and read its trace back as a list of ``Call``.

The shim records only calls on paths under the root the test names, in every
process the command starts (``cp`` included: LD_PRELOAD is inherited). A Python
child marks points in the trace (``mark``), e.g. the moment an operation
returned. ``replay`` applies a whole trace onto a copy of the starting files:
the trials check that this gives the real result byte for byte.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("recorder.c")
IGNORED_SUFFIXES = ("-shm",)  # SQLite's shared memory: mmapped, rebuilt on the first open


@dataclass(frozen=True)
class Call:
    """One recorded call: ``op`` is C, W, T, S, R, U, M, D, L (see recorder.c) or K (a mark)."""

    op: str
    pid: int
    arg: int
    path: str
    path2: str = ""
    data: bytes = b""


@functools.cache
def shim() -> Path:
    """Compile the shim once per test session into a temporary folder."""
    cc = shutil.which("cc")
    if cc is None:  # pragma: no cover - cc is on every machine the project supports
        raise RuntimeError("the power-loss recorder needs a C compiler (cc)")
    folder = Path(tempfile.mkdtemp(prefix="rpkit-recorder-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    out = folder / "recorder.so"
    subprocess.run(
        [
            cc,
            "-shared",
            "-fPIC",
            "-O1",
            "-Wall",
            "-Wno-format-truncation",
            "-o",
            str(out),
            str(SOURCE),
            "-ldl",
        ],
        check=True,
        capture_output=True,
    )
    return out


def traced_env(root: Path, log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LD_PRELOAD"] = str(shim())
    env["RPKIT_TRACE_ROOT"] = str(root.resolve())
    env["RPKIT_TRACE_LOG"] = str(log)
    return env


def mark(name: str) -> None:
    """Put a mark in the trace of this (traced) process."""
    log = os.environ["RPKIT_TRACE_LOG"]
    record = f"K {os.getpid()} 0 {len(name)} 0 0\n{name}".encode()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, record)
    finally:
        os.close(fd)


def parse(log: Path, root: Path) -> list[Call]:
    """The trace's calls, with paths relative to ``root`` (shared memory files left out)."""
    raw = log.read_bytes() if log.exists() else b""
    prefix = str(root.resolve())
    calls, at = [], 0
    while at < len(raw):
        end = raw.index(b"\n", at)
        op, pid, arg, l1, l2, dl = raw[at:end].decode().split(" ")
        at = end + 1
        p1 = raw[at : at + int(l1)].decode(errors="surrogateescape")
        at += int(l1)
        p2 = raw[at : at + int(l2)].decode(errors="surrogateescape")
        at += int(l2)
        data = raw[at : at + int(dl)]
        at += int(dl)
        if op != "K":
            if p1.endswith(" (deleted)"):  # written through a descriptor of a removed file
                continue
            p1, p2 = (_relative(p, prefix) for p in (p1, p2))
            if p1.endswith(IGNORED_SUFFIXES) or (p2 and p2.endswith(IGNORED_SUFFIXES)):
                continue
        calls.append(Call(op, int(pid), int(arg), p1, p2, data))
    return calls


def _relative(path: str, prefix: str) -> str:
    if path == prefix:
        return ""
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else path


def replay(calls: list[Call], dest: Path) -> None:
    """Apply every call onto ``dest``, a copy of the starting files."""
    for c in calls:
        target = dest / c.path
        if c.op == "C":
            target.touch()
        elif c.op == "L":  # a link to a file from outside: the same bytes under a new name
            (dest / c.path2).write_bytes(c.data)
        elif c.op == "W":
            with open(target, "r+b") as f:
                f.seek(c.arg)
                f.write(c.data)
        elif c.op == "T":
            os.truncate(target, c.arg)
        elif c.op == "R":
            os.replace(target, dest / c.path2)
        elif c.op == "U":
            target.unlink()
        elif c.op == "M":
            target.mkdir()
        elif c.op == "D":
            target.rmdir()


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``, shared memory left out."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.endswith(IGNORED_SUFFIXES):
            continue
        out[rel] = None if path.is_dir() else path.read_bytes()
    return out
