"""Crash-trial child: runs one rpkit operation per request and SIGKILLs it at a chosen point.

The test starts this script once with ``sys.executable``; it imports rpkit once
(about a second) and then, for every trial read from stdin as a JSON line, forks a
worker process that runs the operation for real on real files. The worker kills
itself with SIGKILL at the requested *point*, or the parent kills it after a
delay; the reply (a JSON line on stdout) says how it ended and how many points
the run passed.

A point is any of: the start of an SQLite statement (``set_trace_callback``),
every ``PROGRESS_STEP`` virtual-machine instructions inside a statement
(``set_progress_handler``), just before and just after each ``commit()``, just
before each ``close()``, and just before and just after each ``os.fsync`` and
``os.replace`` (the snapshot's fsync-then-rename). The hooks are installed only in
the worker and only by this script: rpkit itself carries no test code. The
connections stay real ones; the hook only counts and, at the chosen point, kills.

Request: ``{"op": ..., "args": {...}, "kill_at": n}`` (0: run to the end) or
``{"op": ..., "args": {...}, "kill_delay": seconds}``.
Reply: ``{"status": "killed" | "done" | "error", "points": n, "error": text, "elapsed": s}``
(``elapsed``: seconds the operation ran, used only to spread timed kills).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import traceback

from rpkit.store.sqlite import sqlite3

PROGRESS_STEP = 200

_state = {"points": 0, "kill_at": 0}


def _point() -> None:
    _state["points"] += 1
    if _state["points"] == _state["kill_at"]:
        os.kill(os.getpid(), signal.SIGKILL)


class _Hooked(sqlite3.Connection):
    """A real connection with points around commit and close (after a commit the
    state is "after"; the close checkpoints the WAL into the file)."""

    def commit(self) -> None:
        _point()
        super().commit()
        _point()

    def close(self) -> None:
        _point()
        super().close()


def _install_hooks() -> None:
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", _Hooked)
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(lambda _sql: _point())

        def progress() -> int:
            _point()
            return 0

        conn.set_progress_handler(progress, PROGRESS_STEP)
        return conn

    sqlite3.connect = connect
    for name in ("fsync", "replace"):
        real = getattr(os, name)

        def wrapped(*args, _real=real, **kwargs):
            _point()
            out = _real(*args, **kwargs)
            _point()
            return out

        setattr(os, name, wrapped)


def _run(op: str, args: dict) -> None:
    import rpkit

    if op == "rewind":
        rpkit.execute_rewind(**args)
    elif op == "restore":
        rpkit.restore_snapshot(**args)
    elif op == "undo":
        rpkit.undo_rewind(**args)
    elif op == "prune":
        rpkit.prune_snapshots(**args)
    elif op == "fork":
        with rpkit.open_db(args["db_path"]) as conn:
            rpkit.fork_chat(conn, args["turn_event_id"], ts=args.get("ts"))
    elif op == "project":
        with rpkit.open_db(args["db_path"]) as conn:
            rpkit.project(conn)
    elif op == "open":  # migrates an older schema and projects it
        with rpkit.open_db(args["db_path"]):
            pass
    elif op == "snapshot":
        with rpkit.open_db(args["db_path"]) as conn:
            rpkit.take_snapshot(conn, data_dir=args["data_dir"], kind="manual")
    elif op == "import":
        from importlib import import_module

        module = import_module(args["module"])
        getattr(module, args["function"])(*args.get("args", []), **args.get("kwargs", {}))
    elif op == "demo":
        from rpkit.demo import build_demo

        build_demo(args["db_path"], events=args["events"], seed=args.get("seed", 7))
    else:
        raise ValueError(f"unknown op {op!r}")


def _worker(request: dict, ready_fd: int) -> None:
    """Runs in the forked process; never returns."""
    status = 0
    try:
        _state["kill_at"] = int(request.get("kill_at") or 0)
        _install_hooks()
        os.write(ready_fd, b"r")
        _run(request["op"], request["args"])
        os.write(ready_fd, json.dumps({"points": _state["points"]}).encode())
    except BaseException:  # report any error to the parent; the test decides
        os.write(ready_fd, json.dumps({"error": traceback.format_exc(limit=6)}).encode())
        status = 1
    finally:
        os.close(ready_fd)
        os._exit(status)


def _trial(request: dict) -> dict:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _worker(request, write_fd)
    os.close(write_fd)
    os.read(read_fd, 1)  # the worker is about to start the operation
    started = time.perf_counter()
    delay = request.get("kill_delay")
    if delay is not None:
        time.sleep(float(delay))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    elapsed = time.perf_counter() - started
    _, wait_status = os.waitpid(pid, 0)
    report = json.loads(b"".join(chunks) or b"{}")
    if os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == signal.SIGKILL:
        return {"status": "killed", "points": None, "error": None, "elapsed": elapsed}
    if "error" in report:
        return {"status": "error", "points": None, "error": report["error"], "elapsed": elapsed}
    return {"status": "done", "points": report["points"], "error": None, "elapsed": elapsed}


def main() -> None:
    os.environ["RPKIT_PROGRESS"] = "0"
    import rpkit  # noqa: F401  (import once, before forking)

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(_trial(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
