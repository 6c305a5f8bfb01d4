"""Helpers the tests share: paths of the project, file states, rows of a history, the docs build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from sqlite3.dump import _iterdump  # the standard library's SQL dump, for sql_dump

import pandas as pd

from rpkit.demo import build_demo
from rpkit.operations import plain_value
from rpkit.store import PROJECTED
from rpkit.store.sqlite import sqlite3

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
EXPORTS = DATA / "exports"
DEMO_DB = DATA / "demo.db"
DEMO_EVENTS = DATA / "demo-events.jsonl"


def settle(path: Path) -> None:
    """Checkpoint the WAL into the main file so the file's bytes are the whole state."""
    c = sqlite3.connect(path)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


def file_state(path: Path) -> bytes:
    """The bytes of a history file, after folding any WAL into it."""
    settle(path)
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    return path.read_bytes()


def build_template(path: Path) -> Path:
    """The tests' demo history: 300 events, seed 11, WAL checkpointed."""
    build_demo(path, events=300, seed=11)
    settle(path)
    return path


def copy_demo(folder: Path) -> Path:
    """A private copy of ``data/demo.db`` in ``folder`` (``data/`` is only read)."""
    path = folder / "demo.db"
    shutil.copyfile(DEMO_DB, path)
    return path


def sql_dump(conn: sqlite3.Connection) -> list[str]:
    """A connection's whole content as SQL text: ``Connection.iterdump``, which
    ``pysqlite3`` leaves out, from the standard library's pure-Python dump."""
    return list(_iterdump(conn))


def dump(path: Path) -> list[str]:
    """The whole content of a history, as SQL text (stable under WAL)."""
    c = sqlite3.connect(path)
    try:
        return sql_dump(c)
    finally:
        c.close()


def log_rows(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT id, ts, chat_id, kind, payload, cause_id, hidden, superseded_by "
        "FROM event_log ORDER BY id"
    ).fetchall()


def table_rows(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every projected table as sorted rows of plain values."""
    out = {}
    for name, t in PROJECTED.items():
        cols = ", ".join(t.column_names)
        out[name] = conn.execute(
            f"SELECT {cols} FROM {name} ORDER BY {', '.join(t.key)}"
        ).fetchall()
    return out


def frame_rows(frames) -> dict[str, list[tuple]]:
    """``state_at`` frames as the same sorted plain rows as ``table_rows``."""

    def plain(v):
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return plain_value(v)

    return {
        name: [tuple(plain(v) for v in rec.values()) for rec in frame.to_dict("records")]
        for name, frame in frames.items()
    }


def build_docs(out: Path) -> subprocess.CompletedProcess:
    """Build the documentation site into ``out`` as ``make docs`` does (warnings are errors)."""
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    return subprocess.run(
        [*cmd, str(ROOT / "docs"), str(out)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
