"""Fixtures shared by the core tests: real SQLite files in temporary folders."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import matplotlib
import pytest

import rpkit
from rpkit.demo import build_demo
from rpkit.store import PROJECTED

matplotlib.use("Agg")
rpkit.set_progress(False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def conn(db_path: Path):
    with rpkit.open_db(db_path) as c:
        yield c


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo-template") / "demo.db"
    build_demo(path, events=300, seed=11)
    settle(path)
    return path


@pytest.fixture
def demo_path(tmp_path: Path, _demo_template: Path) -> Path:
    """A fresh copy of a 300-event demo history (WAL checkpointed, no sidecar files)."""
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


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
    import pandas as pd

    from rpkit.operations import plain_value as _plain

    def plain(v):
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return _plain(v)

    return {
        name: [tuple(plain(v) for v in rec.values()) for rec in frame.to_dict("records")]
        for name, frame in frames.items()
    }
