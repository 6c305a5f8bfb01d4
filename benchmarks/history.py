"""Demo histories of a given size, built once through the public API and cached."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import rpkit
from rpkit.demo import build_demo
from rpkit.store import SCHEMA_VERSION
from rpkit.store.sqlite import sqlite3

CACHE_DIR = Path(__file__).resolve().parent / ".cache"


def cache_path(
    events: int, seed: int, cache_dir: Path = CACHE_DIR, chats: int = 3, own_bots: bool = False
) -> Path:
    """Where the history of ``events`` events, ``seed``, ``chats`` (and ``own_bots``) is kept."""
    tag = ("" if chats == 3 else f"-c{chats}") + ("-own" if own_bots else "")
    name = f"demo-e{events}{tag}-s{seed}-schema{SCHEMA_VERSION}-rpkit{rpkit.__version__}.db"
    return cache_dir / name


def settle(path: Path) -> None:
    """Fold the WAL into the main file, so that one file is the whole history.

    The file stays in WAL mode, as rpkit leaves it, so that opening a copy does
    not pay for switching modes.
    """
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def cached_history(
    events: int,
    seed: int,
    cache_dir: Path = CACHE_DIR,
    *,
    chats: int = 3,
    own_bots: bool = False,
    rebuild: bool = False,
) -> tuple[Path, float | None]:
    """The cached demo history (built if missing) and the build time if built now.

    The build goes through ``rpkit.demo.build_demo`` (public ``append``,
    ``edit_turn``... in one transaction), so its rate is the bulk import rate of
    a realistic mix of events.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_path(events, seed, cache_dir, chats, own_bots)
    info = path.with_suffix(".json")
    if path.exists() and not rebuild:
        took = json.loads(info.read_text())["build_seconds"] if info.exists() else None
        return path, took
    tmp = path.with_name(f".{path.name}.{os.getpid()}.building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    build_demo(tmp, events=events, seed=seed, chats=chats, own_bots=own_bots)
    took = time.perf_counter() - start
    settle(tmp)
    os.replace(tmp, path)
    info.write_text(
        json.dumps(
            {
                "events": events,
                "seed": seed,
                "chats": chats,
                "own_bots": own_bots,
                "build_seconds": took,
            }
        )
    )
    return path, took
