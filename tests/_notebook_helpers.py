"""Helpers for the notebook-layer tests: the committed demo history, copied."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
DEMO_DB = DATA / "demo.db"
DEMO_EVENTS = DATA / "demo-events.jsonl"


def copy_demo(folder: Path) -> Path:
    """A private copy of ``data/demo.db`` in ``folder`` (``data/`` is only read)."""
    path = folder / "demo.db"
    shutil.copyfile(DEMO_DB, path)
    return path


def dump(path: Path) -> list[str]:
    """The whole content of a history, as SQL text (stable under WAL)."""
    c = sqlite3.connect(path)
    try:
        return list(c.iterdump())
    finally:
        c.close()
