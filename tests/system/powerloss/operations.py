"""The operations the power-loss trials record, as data: add one with an ``Operation``.

``setup`` runs in the test process, untraced, and makes the starting files in
``root``; it returns the arguments (JSON) of ``run``, which runs in the traced
child and calls ``returned()`` the moment the operation has returned to its
caller (before the caller closes anything). The checker reads the rest of an
entry: which history to open, where its snapshots are, the kind of snapshot its
after-state needs, whether it commits in steps, the corpus it writes.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import rpkit
from rpkit.demo import build_demo
from rpkit.importers import import_file
from rpkit.store.sqlite import sqlite3

from ...helpers import EXPORTS, ROOT

DB = "h.db"
SILLYTAVERN = EXPORTS / "sillytavern" / "Mira - 2024-6-5@14h56m50s.jsonl"
V2_FIXTURE = ROOT / "tests" / "fixtures" / "v2-history.db"


@dataclass(frozen=True)
class Operation:
    name: str
    setup: Callable[[Path], dict]
    run: Callable[[Path, dict, Callable[[], None]], None]
    history: str | None = DB  # the history the checker opens (relative to root), if any
    data_dir: str = "."  # the folder whose snapshots/ the operation writes
    snapshot_kind: str | None = None  # its after-state never exists without this snapshot
    steps: bool = False  # commits in several transactions: a prefix of the new rows is fine
    corpus: str | None = None  # the corpus folder it writes, checked instead of a log
    held: bool = False  # another process keeps the history open (no checkpoint on close)


@functools.cache
def _template() -> Path:
    """A demo history of 200 events, built once per process, its WAL folded in."""
    folder = Path(tempfile.mkdtemp(prefix="rpkit-powerloss-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / DB
    build_demo(path, events=200, seed=7)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    Path(f"{path}-wal").unlink(missing_ok=True)
    return path


def _demo(root: Path) -> Path:
    db = root / DB
    shutil.copy(_template(), db)
    return db


def _chat_point(db: Path) -> tuple[int, int]:
    """A chat with several turns and a turn halfway through it."""
    with rpkit.open_db(db) as conn:
        chat, turns = conn.execute(
            "SELECT chat_id, COUNT(*) FROM event_log WHERE kind IN ('user_turn', "
            "'assistant_turn') GROUP BY chat_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM event_log WHERE chat_id = ? AND kind IN ('user_turn', "
                "'assistant_turn') ORDER BY id",
                (chat,),
            )
        ]
    return chat, ids[len(ids) // 2]


def _rewind_setup(root: Path) -> dict:
    db = _demo(root)
    with rpkit.open_db(db) as conn:
        head = rpkit.store.head_id(conn)
    return {"after_event_id": head - 60}


def _rewind(root: Path, args: dict, returned) -> None:
    # a whole-file copy (cp in a child process, the planted snapshot faults); the other
    # rewinds write rewind records, the default
    rpkit.execute_rewind(db_path=root / DB, data_dir=root / "data", keep="copy", **args)
    returned()


def _rewind_alone(root: Path, args: dict, returned) -> None:
    rpkit.execute_rewind(db_path=root / DB, **args)  # the last connection: it checkpoints
    returned()


def _chat_rewind_setup(root: Path) -> dict:
    chat, turn = _chat_point(_demo(root))
    return {"after_event_id": turn, "chat_id": chat}


def _chat_rewind(root: Path, args: dict, returned) -> None:
    rpkit.execute_rewind(db_path=root / DB, data_dir=root / "elsewhere" / "data", **args)
    returned()


def _undo_setup(root: Path) -> dict:
    db = _demo(root)
    chat, turn = _chat_point(db)
    snap = rpkit.execute_rewind(db_path=db, after_event_id=turn, chat_id=chat)
    return {"snapshot": snap.name}


def _undo(root: Path, args: dict, returned) -> None:
    rpkit.undo_rewind(db_path=root / DB, snapshot=args["snapshot"])
    returned()


def _restore_setup(root: Path) -> dict:
    db = _demo(root)
    with rpkit.open_db(db) as conn:
        snap = rpkit.take_snapshot(conn, kind="manual")
        chat, _ = _chat_point(db)
        for i in range(20):
            rpkit.append(conn, "user_turn", {"text": f"later {i}"}, chat_id=chat)
    return {"snapshot": snap.name}


def _restore(root: Path, args: dict, returned) -> None:
    rpkit.restore_snapshot(db_path=root / DB, snapshot=args["snapshot"])
    returned()


def _restore_record_setup(root: Path) -> dict:
    db = _demo(root)
    chat, turn = _chat_point(db)
    record = rpkit.execute_rewind(db_path=db, after_event_id=turn, chat_id=chat)
    with rpkit.open_db(db) as conn:
        for i in range(20):
            rpkit.append(conn, "user_turn", {"text": f"later {i}"}, chat_id=chat)
    return {"snapshot": record.name}


def _prune_setup(root: Path) -> dict:
    db = _demo(root)
    chat, turn = _chat_point(db)
    with rpkit.open_db(db) as conn:
        rpkit.take_snapshot(conn, kind="manual")
    for _ in range(8):  # eight records of one chat, each undone: the newest is kept
        record = rpkit.execute_rewind(db_path=db, after_event_id=turn, chat_id=chat)
        rpkit.undo_rewind(db_path=db, snapshot=record.name)
    return {"keep": 1}


def _prune(root: Path, args: dict, returned) -> None:
    rpkit.prune_snapshots(db_path=root / DB, keep=args["keep"], confirm=True)
    returned()


def _fork_setup(root: Path) -> dict:
    _, turn = _chat_point(_demo(root))
    return {"turn": turn}


def _fork(root: Path, args: dict, returned) -> None:
    with rpkit.open_db(root / DB) as conn:
        rpkit.fork_chat(conn, args["turn"], ts="2026-01-01T00:00:00+00:00")
        returned()  # the connection is still open: nothing checkpoints the WAL


def _import_setup(root: Path) -> dict:
    return {"source": str(SILLYTAVERN)}


def _import(root: Path, args: dict, returned) -> None:
    import_file(root / DB, None, args["source"])
    returned()


def _classify_setup(root: Path) -> dict:
    import_file(root / DB, None, SILLYTAVERN)
    return {}


def _classify(root: Path, args: dict, returned) -> None:
    with rpkit.open_db(root / DB) as conn:
        rpkit.classify(conn)
    returned()


def _migrate_setup(root: Path) -> dict:
    shutil.copy(V2_FIXTURE, root / DB)
    return {}


def _migrate(root: Path, args: dict, returned) -> None:
    with rpkit.open_db(root / DB):
        pass
    returned()


def _export_setup(root: Path) -> dict:
    _demo(root)
    return {}


def _export(root: Path, args: dict, returned) -> None:
    from rpkit.corpus import export

    export([root / DB], root / "corpora" / "c1", durable=True)
    returned()


def _build_setup(root: Path) -> dict:
    return {"source": str(EXPORTS / "sillytavern")}


def _build(root: Path, args: dict, returned) -> None:
    from rpkit.corpus import build

    build(args["source"], root / "corpora" / "b1", format="sillytavern", shard_size=2, durable=True)
    returned()


OPERATIONS = [
    Operation("rewind", _rewind_setup, _rewind, data_dir="data", snapshot_kind="rewind", held=True),
    Operation("rewind_alone", _rewind_setup, _rewind_alone, snapshot_kind="rewind"),
    Operation(
        "chat_rewind",
        _chat_rewind_setup,
        _chat_rewind,
        data_dir="elsewhere/data",
        snapshot_kind="rewind",
        held=True,
    ),
    Operation("undo_rewind", _undo_setup, _undo, held=True),
    Operation("restore_snapshot", _restore_setup, _restore, snapshot_kind="pre-restore", held=True),
    Operation(
        "restore_record", _restore_record_setup, _restore, snapshot_kind="pre-restore", held=True
    ),
    Operation("prune", _prune_setup, _prune),
    Operation("fork_chat", _fork_setup, _fork),
    Operation("import", _import_setup, _import),
    Operation("classify", _classify_setup, _classify, steps=True),
    Operation("migrate", _migrate_setup, _migrate),
    Operation("export_durable", _export_setup, _export, corpus="corpora/c1"),
    Operation("build_durable", _build_setup, _build, history=None, corpus="corpora/b1"),
]
BY_NAME = {op.name: op for op in OPERATIONS}
