"""Crash safety: SIGKILL a rewind, a restore, a rebuild, an import and a migration at many points.

Each operation runs in a child process (``tests/_crash_child.py``, started with
``sys.executable``) on a fresh copy of a small history. A first run to the end
counts the operation's *points* (SQLite statements, every 200 VM instructions
inside them, and each fsync and rename); the trials then kill the child at points
spread evenly over the whole run, plus at random delays (which also land inside
SQLite's own writes, where no hook can reach). After every kill:

* ``PRAGMA integrity_check`` is ok;
* the full ``event_log`` (every column of every row) is exactly the state before
  or exactly the state after the operation;
* the projection matches the log (``verify``), with no repair needed;
* every ``*.sqlite`` in ``snapshots/`` is complete (``read_snapshot_meta(check=True)``)
  and holds exactly the state it was taken of; ``list_snapshots`` never lists a
  temporary ``.partial`` file, and the next snapshot removes leftovers.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import rpkit
from rpkit.operations import read_snapshot_meta
from rpkit.store.sqlite import sqlite3

from ..helpers import settle

CHILD = Path(__file__).with_name("_crash_child.py")
COUNTED_TRIALS = 100  # kill points spread over the run, per operation
TAIL_POINTS = 10  # and each of the last points (commit, checkpoint, close)
TIMED_TRIALS = 20  # kills after a random delay, per operation
EVENTS = 300

pytestmark = pytest.mark.slow


# -- the child -----------------------------------------------------------------


class Child:
    """The crash-trial child process: one JSON request in, one JSON reply out."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, op: str, args: dict, **how) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, "args": args, **how}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the crash child died"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def child():
    c = Child()
    yield c
    c.close()


# -- states --------------------------------------------------------------------


def log_of(path: Path) -> list[tuple]:
    """Every column of every event, in id order (a missing or empty file: no events)."""
    if not path.exists():
        return []
    con = sqlite3.connect(path)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "event_log" not in names:
            return []
        return con.execute("SELECT * FROM event_log ORDER BY id").fetchall()
    finally:
        con.close()


def integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def partials(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.partial*")) if folder.is_dir() else []


def records_in(folder: Path) -> list[Path]:
    """The rewind records in a snapshots folder (not the whole-file copies)."""
    files = sorted(folder.glob("*.sqlite")) if folder.is_dir() else []
    return [p for p in files if read_snapshot_meta(p)["format"] == "record"]


def copy_case(base: Path, dest: Path) -> Path:
    shutil.copytree(base, dest)
    return dest


class Tally:
    """Outcomes of one operation's trials, printed for RELIABILITY.md (pytest -s)."""

    def __init__(self, op: str) -> None:
        self.op = op
        self.outcomes: Counter[str] = Counter()
        self.snapshots_checked = 0
        self.partials_left = 0

    def report(self) -> str:
        return (
            f"{self.op}: {sum(self.outcomes.values())} trials, {dict(self.outcomes)}, "
            f"{self.snapshots_checked} snapshots checked, {self.partials_left} runs left a "
            ".partial (all removed by the next snapshot)"
        )


def check_after_crash(
    case: Path,
    *,
    db_name: str,
    before: list[tuple],
    after: list[tuple],
    snapshot_logs: list[list[tuple]],
    projected_at: set[int] | None,
    tally: Tally,
    result: dict,
) -> None:
    """Every guarantee of a crash trial, checked on the files the child left."""
    db = case / db_name
    if db.exists():
        assert integrity(db) == "ok"
    log = log_of(db)
    assert log in (before, after), (
        f"{result}: the log is neither the state before ({len(before)} events) nor after "
        f"({len(after)}), it has {len(log)}"
    )
    state = "after" if log == after and log != before else "before"
    tally.outcomes[f"{result['status']}:{state}"] += 1

    if db.exists():
        with rpkit.open_db(db) as conn:
            report = rpkit.verify(conn)
        if projected_at is None:
            assert report.ok, repr(report)
        else:  # a rebuild to a point: the tables match the log at that point
            assert report.differences.empty, repr(report)
            assert report.projected_at in projected_at

    folder = case / "snapshots"
    files = sorted(folder.glob("*.sqlite")) if folder.is_dir() else []
    for path in files:
        assert not path.name.startswith(".")
        read_snapshot_meta(path, check=True)
        assert log_of(path) in snapshot_logs
        tally.snapshots_checked += 1
    listed = rpkit.list_snapshots(case)
    assert sorted(Path(p) for p in listed["path"]) == files
    left = partials(folder)
    if left:
        tally.partials_left += 1
        assert not any(".partial" in str(p) for p in listed["path"])
        with rpkit.open_db(db) as conn:
            rpkit.take_snapshot(conn, data_dir=case, kind="manual")
        assert partials(folder) == [], "the next snapshot should remove dead .partial files"


def kill_points(total: int, n: int, tail: int = TAIL_POINTS) -> list[int]:
    """``n`` points spread evenly over ``1..total``, plus each of the last ``tail``.

    The tail is where the commit, the checkpoint and the close happen.
    """
    if total <= n + tail:
        return list(range(1, total + 1))
    spread = {1 + round(i * (total - 1) / (n - 1)) for i in range(n)}
    return sorted(spread | set(range(total - tail + 1, total + 1)))


def run_trials(
    child: Child,
    tmp_path: Path,
    base: Path,
    op: str,
    make_args,
    *,
    db_name: str,
    projected_at: set[int] | None = None,
    snapshot_logs_of=None,
) -> Tally:
    """Count the points of ``op`` on a copy of ``base``, then crash it at many of them."""
    before = log_of(base / db_name)
    probe = copy_case(base, tmp_path / "probe")
    first = child.run(op, make_args(probe), kill_at=0)
    assert first["status"] == "done", first["error"]
    after = log_of(probe / db_name)
    assert after != before
    snapshot_logs = snapshot_logs_of(before) if snapshot_logs_of else [before]
    # a rewind record holds the events it removed: those the finished run's records hold
    snapshot_logs += [log_of(p) for p in records_in(probe / "snapshots")]
    tally = Tally(op)
    rng = random.Random(f"{op}-timing")
    plans = [{"kill_at": k} for k in kill_points(first["points"], COUNTED_TRIALS)]
    plans += [{"kill_delay": rng.uniform(0, first["elapsed"] * 1.5)} for _ in range(TIMED_TRIALS)]
    for i, how in enumerate(plans):
        case = copy_case(base, tmp_path / f"trial-{i}")
        result = child.run(op, make_args(case), **how)
        assert result["status"] in {"killed", "done"}, result["error"]
        check_after_crash(
            case,
            db_name=db_name,
            before=before,
            after=after,
            snapshot_logs=snapshot_logs,
            projected_at=projected_at,
            tally=tally,
            result=result,
        )
        shutil.rmtree(case)
    killed = sum(n for k, n in tally.outcomes.items() if k.startswith("killed"))
    assert killed >= COUNTED_TRIALS * 0.9, tally.report()
    # kills land both before the commit and after it (between the commit and the close)
    assert tally.outcomes["killed:before"] and tally.outcomes["killed:after"], tally.report()
    print(f"\n[crash] {tally.report()} over {first['points']} points")
    return tally


# -- the histories -------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A demo history of a few hundred events with edits, regenerations and a hide."""
    folder = tmp_path_factory.mktemp("crash-base")
    rpkit.demo.build_demo(folder / "history.db", events=EVENTS, seed=5)
    settle(folder / "history.db")
    return folder


def test_crash_during_rewind(child, tmp_path, base):
    """A rewind that writes a record (the default): the record is whole or absent."""
    with rpkit.open_db(base / "history.db") as conn:
        # a point that brings retired events back, so the rewind also un-retires
        target = conn.execute(
            "SELECT MIN(superseded_by) - 1 FROM event_log WHERE superseded_by IS NOT NULL"
        ).fetchone()[0]
    assert 0 < target < EVENTS
    run_trials(
        child,
        tmp_path,
        base,
        "rewind",
        lambda case: {
            "db_path": str(case / "history.db"),
            "data_dir": str(case),
            "after_event_id": target,
        },
        db_name="history.db",
    )


@pytest.fixture(scope="module")
def restore_base(tmp_path_factory, base) -> Path:
    """The demo history, with a snapshot of it taken before more turns and an edit."""
    folder = tmp_path_factory.mktemp("crash-restore")
    shutil.copyfile(base / "history.db", folder / "history.db")
    with rpkit.open_db(folder / "history.db") as conn:
        snap = rpkit.take_snapshot(conn, data_dir=folder, kind="manual")
        chat = conn.execute("SELECT MIN(id) FROM chats").fetchone()[0]
        for i in range(30):
            turn = rpkit.append(conn, "user_turn", {"text": f"later turn {i}"}, chat_id=chat)
        rpkit.edit_turn(conn, turn, "edited after the snapshot")
    shutil.move(snap, folder / "kept.sqlite")  # outside snapshots/, so only new ones are there
    settle(folder / "history.db")
    return folder


def test_crash_during_restore(child, tmp_path, restore_base):
    run_trials(
        child,
        tmp_path,
        restore_base,
        "restore",
        lambda case: {
            "db_path": str(case / "history.db"),
            "data_dir": str(case),
            "snapshot": str(case / "kept.sqlite"),
        },
        db_name="history.db",
    )


@pytest.fixture(scope="module")
def record_restore_base(tmp_path_factory, base) -> Path:
    """The demo history after a rewind that wrote a record, and appends and an edit since."""
    folder = tmp_path_factory.mktemp("crash-record-restore")
    shutil.copyfile(base / "history.db", folder / "history.db")
    snap = rpkit.execute_rewind(
        db_path=folder / "history.db", data_dir=folder, after_event_id=EVENTS - 60
    )
    with rpkit.open_db(folder / "history.db") as conn:
        chat = conn.execute("SELECT MIN(id) FROM chats").fetchone()[0]
        for i in range(20):
            turn = rpkit.append(conn, "user_turn", {"text": f"later turn {i}"}, chat_id=chat)
        rpkit.edit_turn(conn, turn, "edited after the rewind")
    shutil.move(snap, folder / "record.sqlite")  # outside snapshots/, so only new ones are there
    settle(folder / "history.db")
    return folder


def test_crash_during_restore_from_record(child, tmp_path, record_restore_base):
    """Restoring a record takes away what came since (recording it), then puts it back."""
    run_trials(
        child,
        tmp_path,
        record_restore_base,
        "restore",
        lambda case: {
            "db_path": str(case / "history.db"),
            "data_dir": str(case),
            "snapshot": str(case / "record.sqlite"),
        },
        db_name="history.db",
        snapshot_logs_of=lambda before: [],
    )


@pytest.fixture(scope="module")
def prune_base(tmp_path_factory, base) -> Path:
    """The demo history with a copy and six rewind records (two per chat) to prune."""
    folder = tmp_path_factory.mktemp("crash-prune")
    shutil.copyfile(base / "history.db", folder / "history.db")
    with rpkit.open_db(folder / "history.db") as conn:
        rpkit.take_snapshot(conn, data_dir=folder, kind="manual")
        chats = [r[0] for r in conn.execute("SELECT id FROM chats ORDER BY id")]
    for chat in chats[:3]:
        for _ in range(2):
            with rpkit.open_db(folder / "history.db") as conn:
                last = conn.execute("SELECT MAX(id) FROM event_log WHERE chat_id = ?", (chat,))
                last = last.fetchone()[0]
            rpkit.execute_rewind(
                db_path=folder / "history.db",
                data_dir=folder,
                after_event_id=last - 2,
                chat_id=chat,
            )
    settle(folder / "history.db")
    return folder


def test_crash_during_prune(child, tmp_path, prune_base):
    """Killed mid-prune, each snapshot is there whole or gone whole; the history is untouched."""
    log = log_of(prune_base / "history.db")
    listed = rpkit.list_snapshots(prune_base)
    every = {Path(p).name: log_of(Path(p)) for p in listed["path"]}
    args = {"data_dir": None, "keep": 0, "confirm": True}
    probe = copy_case(prune_base, tmp_path / "probe")
    first = child.run("prune", {**args, "data_dir": str(probe)}, kill_at=0)
    assert first["status"] == "done", first["error"]
    kept = {p.name for p in (probe / "snapshots").glob("*.sqlite")}
    assert 0 < len(kept) < len(every)
    tally = Tally("prune")
    left: Counter[int] = Counter()
    # a prune has few points (about 40): each is killed twice, so at least 50 kills land
    # whatever the timed kills do
    plans = [{"kill_at": k} for k in kill_points(first["points"], COUNTED_TRIALS) for _ in "ab"]
    rng = random.Random("prune-timing")
    plans += [{"kill_delay": rng.uniform(0, first["elapsed"] * 1.5)} for _ in range(TIMED_TRIALS)]
    for i, how in enumerate(plans):
        case = copy_case(prune_base, tmp_path / f"trial-{i}")
        result = child.run("prune", {**args, "data_dir": str(case)}, **how)
        assert result["status"] in {"killed", "done"}, result["error"]
        names = {p.name for p in (case / "snapshots").glob("*.sqlite")}
        assert kept <= names <= set(every), names
        for name in names:  # each one there is whole and holds what it held
            assert log_of(case / "snapshots" / name) == every[name]
        left[len(names)] += 1
        check_after_crash(
            case,
            db_name="history.db",
            before=log,
            after=log,
            snapshot_logs=list(every.values()),
            projected_at=None,
            tally=tally,
            result=result,
        )
        shutil.rmtree(case)
    killed = sum(n for k, n in tally.outcomes.items() if k.startswith("killed"))
    assert killed >= 50, tally.report()
    assert left[len(every)] and left[len(kept)], left  # kills before and after the removals
    print(f"\n[crash] {tally.report()}, snapshots left {dict(left)} over {first['points']} points")


@pytest.fixture(scope="module")
def project_base(tmp_path_factory, base) -> Path:
    """The demo history with its tables rebuilt to show event 120 only."""
    folder = tmp_path_factory.mktemp("crash-project")
    shutil.copyfile(base / "history.db", folder / "history.db")
    with rpkit.open_db(folder / "history.db") as conn:
        rpkit.project(conn, upto=120)
        # an edit made by another program that writes the log without projecting
        conn.execute(
            "INSERT INTO event_log(ts, chat_id, kind, payload) "
            "SELECT ts, chat_id, 'user_turn', '{\"text\": \"raw\"}' FROM event_log "
            "WHERE kind = 'user_turn' ORDER BY id DESC LIMIT 1"
        )
    settle(folder / "history.db")
    return folder


def test_crash_during_rebuild(child, tmp_path, project_base):
    log = log_of(project_base / "history.db")
    head = log[-1][0]
    # The log does not change, so "before" and "after" are the tables: at 120 or at head.
    tally = Tally("project")
    tables: Counter[str] = Counter()
    probe = copy_case(project_base, tmp_path / "probe")
    first = child.run("project", {"db_path": str(probe / "history.db")}, kill_at=0)
    assert first["status"] == "done", first["error"]
    with rpkit.open_db(probe / "history.db") as conn:
        assert rpkit.verify(conn).ok
    plans = [{"kill_at": k} for k in kill_points(first["points"], COUNTED_TRIALS)]
    rng = random.Random("project-timing")
    plans += [{"kill_delay": rng.uniform(0, first["elapsed"] * 1.5)} for _ in range(TIMED_TRIALS)]
    for i, how in enumerate(plans):
        case = copy_case(project_base, tmp_path / f"trial-{i}")
        result = child.run("project", {"db_path": str(case / "history.db")}, **how)
        assert result["status"] in {"killed", "done"}, result["error"]
        check_after_crash(
            case,
            db_name="history.db",
            before=log,
            after=log,
            snapshot_logs=[],
            projected_at={120, head},
            tally=tally,
            result=result,
        )
        with rpkit.open_db(case / "history.db") as conn:
            at = rpkit.store.get_meta(conn, "projected_at")
        tables[f"{result['status']}, tables at {'head' if at == head else 120}"] += 1
        shutil.rmtree(case)
    assert tables["killed, tables at 120"] and tables["killed, tables at head"], tables
    print(f"\n[crash] {tally.report()}, {dict(tables)} over {first['points']} points")


def sillytavern_export(path: Path, messages: int) -> Path:
    """A SillyTavern chat file with ``messages`` messages; every bot reply has two swipes."""
    rows = [{"user_name": "Wren", "character_name": "Mira", "create_date": "2024-6-5 @14h 56m 50s"}]
    for i in range(messages):
        when = f"2024-6-5 @{15 + i // 60}h {i % 60:02d}m 00s"
        if i % 2:
            text = f"reply {i}"
            rows.append(
                {
                    "name": "Mira",
                    "is_user": False,
                    "is_system": False,
                    "send_date": when,
                    "mes": text,
                    "swipes": [f"draft {i}", text],
                    "swipe_id": 1,
                    "extra": {},
                }
            )
        else:
            rows.append(
                {
                    "name": "Wren",
                    "is_user": True,
                    "is_system": i % 50 == 48,
                    "send_date": when,
                    "mes": f"line {i}",
                    "extra": {},
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_crash_during_import(child, tmp_path, base):
    """An import is one transaction: killed, the history has all of it or none of it."""
    folder = tmp_path / "import-base"
    shutil.copytree(base, folder)
    sillytavern_export(folder / "Mira - 2024-6-5@14h56m50s.jsonl", 120)
    run_trials(
        child,
        tmp_path,
        folder,
        "import",
        lambda case: {
            "module": "rpkit.importers",
            "function": "import_file",
            "args": [
                str(case / "history.db"),
                "sillytavern",
                str(case / "Mira - 2024-6-5@14h56m50s.jsonl"),
            ],
        },
        db_name="history.db",
    )


@pytest.fixture(scope="module")
def v1_base(tmp_path_factory, base) -> Path:
    """The demo log in a version-1 history (no undo log, nothing projected yet)."""
    folder = tmp_path_factory.mktemp("crash-migrate")
    old = sqlite3.connect(folder / "history.db")
    rpkit.store.schema.create_v1(old)
    old.execute("ATTACH DATABASE ? AS demo", (str(base / "history.db"),))
    old.execute("INSERT INTO event_log SELECT * FROM demo.event_log")
    old.commit()
    old.execute("DETACH DATABASE demo")
    old.close()
    return folder


def schema_version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(
            con.execute("SELECT value FROM rpkit_meta WHERE key = 'schema_version'").fetchone()[0]
        )
    finally:
        con.close()


def test_crash_during_migration(child, tmp_path, v1_base):
    """Opening a version-1 history migrates and projects it in one transaction."""
    log = log_of(v1_base / "history.db")
    probe = copy_case(v1_base, tmp_path / "probe")
    first = child.run("open", {"db_path": str(probe / "history.db")}, kill_at=0)
    assert first["status"] == "done", first["error"]
    assert schema_version(probe / "history.db") == rpkit.store.schema.SCHEMA_VERSION
    tally = Tally("migrate")
    versions: Counter[str] = Counter()
    plans = [{"kill_at": k} for k in kill_points(first["points"], COUNTED_TRIALS)]
    for i, how in enumerate(plans):
        case = copy_case(v1_base, tmp_path / f"trial-{i}")
        result = child.run("open", {"db_path": str(case / "history.db")}, **how)
        assert result["status"] in {"killed", "done"}, result["error"]
        version = schema_version(case / "history.db")
        versions[f"{result['status']}, left at version {version}"] += 1
        # the check opens the history: a version-1 file is migrated then, as on any open
        check_after_crash(
            case,
            db_name="history.db",
            before=log,
            after=log,
            snapshot_logs=[],
            projected_at=None,
            tally=tally,
            result=result,
        )
        shutil.rmtree(case)
    final = rpkit.store.schema.SCHEMA_VERSION
    assert versions["killed, left at version 1"] and versions[f"killed, left at version {final}"]
    print(f"\n[crash] {tally.report()}, {dict(versions)} over {first['points']} points")


# -- chats as a tree -----------------------------------------------------------


def _chat_point(path: Path) -> tuple[int, int]:
    """Chat 2 and a point of it that un-retires an edit, with later events in other chats."""
    with rpkit.open_db(path) as conn:
        row = conn.execute(
            "SELECT e.chat_id, MIN(e.superseded_by) - 1 FROM event_log e "
            "WHERE e.superseded_by IS NOT NULL AND e.chat_id IS NOT NULL "
            "GROUP BY e.chat_id ORDER BY e.chat_id LIMIT 1"
        ).fetchone()
    return row[0], row[1]


def test_crash_during_chat_rewind(child, tmp_path, base):
    chat, point = _chat_point(base / "history.db")
    run_trials(
        child,
        tmp_path,
        base,
        "rewind",
        lambda case: {
            "db_path": str(case / "history.db"),
            "data_dir": str(case),
            "after_event_id": point,
            "chat_id": chat,
        },
        db_name="history.db",
    )


@pytest.fixture(scope="module")
def undo_base(tmp_path_factory, base) -> Path:
    """The demo history after a rewind of one chat, and an append to another since."""
    folder = tmp_path_factory.mktemp("crash-undo")
    shutil.copyfile(base / "history.db", folder / "history.db")
    chat, point = _chat_point(folder / "history.db")
    snap = rpkit.execute_rewind(
        db_path=folder / "history.db", data_dir=folder, after_event_id=point, chat_id=chat
    )
    with rpkit.open_db(folder / "history.db") as conn:
        other = conn.execute("SELECT MIN(id) FROM chats WHERE id != ?", (chat,)).fetchone()[0]
        rpkit.append(conn, "user_turn", {"text": "meanwhile"}, chat_id=other)
    shutil.move(snap, folder / "rewind.sqlite")
    settle(folder / "history.db")
    return folder


def test_crash_during_undo_rewind(child, tmp_path, undo_base):
    snapshot_log = log_of(undo_base / "rewind.sqlite")
    run_trials(
        child,
        tmp_path,
        undo_base,
        "undo",
        lambda case: {
            "db_path": str(case / "history.db"),
            "data_dir": str(case),
            "snapshot": str(case / "rewind.sqlite"),
        },
        db_name="history.db",
        snapshot_logs_of=lambda before: [snapshot_log],
    )


def test_crash_during_fork(child, tmp_path, base):
    with rpkit.open_db(base / "history.db") as conn:
        turn = conn.execute(  # a retired turn late in its chat: many turns are copied
            "SELECT MAX(id) FROM event_log WHERE kind LIKE '%_turn' AND superseded_by IS NOT NULL"
        ).fetchone()[0]
    run_trials(
        child,
        tmp_path,
        base,
        "fork",
        lambda case: {
            "db_path": str(case / "history.db"),
            "turn_event_id": turn,
            "ts": "2026-01-06T10:00:00Z",  # the same log on every run
        },
        db_name="history.db",
    )
