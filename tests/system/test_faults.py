"""Faults: a snapshot folder that cannot be made, written or filled; a read-only history;
a history deleted or replaced between the preview and the rewind.

Every fault is real, not mocked: a regular file where the folder should be; a
folder or file the process may not write (``chmod``; as root, whom permissions do
not stop, a read-only bind mount); a file-size limit (``RLIMIT_FSIZE``, in a child
process) or a small tmpfs for a full disk. Each
operation is refused before anything is deleted, with an error that names the
path and says what to do, and the history's bytes are unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import rpkit
from rpkit.demo import build_demo
from rpkit.store.sqlite import sqlite3

from ..helpers import ROOT, file_state, settle

IS_ROOT = os.geteuid() == 0


# -- helpers -------------------------------------------------------------------


def snapshot_files(data_dir: Path) -> list[str]:
    folder = data_dir / "snapshots"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@contextmanager
def unwritable(path: Path) -> Iterator[str]:
    """Make ``path`` (a file or a folder) unwritable for this process; yield how.

    Permissions do not stop root, so as root a read-only bind mount of the path is
    used; elsewhere ``chmod``. Skipped where neither works.
    """
    if not IS_ROOT:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield "chmod"
        finally:
            path.chmod(mode)
        return
    if subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode:
        pytest.skip("as root, only a read-only bind mount makes a path unwritable; mount refused")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield "read-only bind mount"
    finally:
        subprocess.run(["umount", str(path)], check=True)


def history(folder: Path, events: int = 150) -> Path:
    db = folder / "history.db"
    build_demo(db, events=events, seed=2)
    settle(db)
    return db


CHILD_CODE = """
import json, os, resource, signal, sys
import rpkit
rpkit.set_progress(False)
op, args, fsize = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
if fsize:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
try:
    if op == "rewind":
        rpkit.execute_rewind(**args)
    elif op == "restore":
        rpkit.restore_snapshot(**args)
    elif op == "open":
        with rpkit.open_db(args["db_path"]) as conn:
            rpkit.store.head_id(conn)
    print(json.dumps({"error": None}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc),
                      "rpkit": isinstance(exc, rpkit.RpkitError)}))
"""


def in_child(op: str, args: dict, *, fsize: int = 0) -> dict:
    """Run one rpkit operation in a child process under a file-size limit."""
    env = {**os.environ, "RPKIT_PROGRESS": "0", "MPLCONFIGDIR": tempfile.gettempdir()}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD_CODE, op, json.dumps(args), str(fsize)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the snapshot folder -------------------------------------------------------


def rewind_args(db: Path, data_dir: Path) -> dict:
    return {"db_path": str(db), "data_dir": str(data_dir), "after_event_id": 40}


@pytest.mark.parametrize("op", ["rewind", "restore", "snapshot"])
def test_snapshot_folder_that_cannot_be_created(tmp_path, op):
    db = history(tmp_path)
    with rpkit.open_db(db) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path / "elsewhere", kind="manual")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "snapshots").write_text("a file where the folder should be")
    before = file_state(db)
    with pytest.raises(rpkit.SnapshotDirError) as info:
        if op == "rewind":
            rpkit.execute_rewind(db_path=db, data_dir=data_dir, after_event_id=40)
        elif op == "restore":
            rpkit.restore_snapshot(db_path=db, data_dir=data_dir, snapshot=snap)
        else:
            with rpkit.open_db(db) as conn:
                rpkit.take_snapshot(conn, data_dir=data_dir, kind="manual")
    message = str(info.value)
    assert str(data_dir / "snapshots") in message and "cannot create" in message
    assert "data_dir" in message  # says what to do
    assert file_state(db) == before
    assert (data_dir / "snapshots").read_text() == "a file where the folder should be"


@pytest.mark.parametrize("op", ["rewind", "restore"])
def test_snapshot_folder_that_is_not_writable(tmp_path, op):
    db = history(tmp_path)
    with rpkit.open_db(db) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path / "elsewhere", kind="manual")
    folder = tmp_path / "snapshots"
    folder.mkdir()
    before = file_state(db)
    with unwritable(folder), pytest.raises(rpkit.SnapshotDirError) as info:
        if op == "rewind":
            rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=40)
        else:
            rpkit.restore_snapshot(db_path=db, data_dir=tmp_path, snapshot=snap)
    assert str(folder) in str(info.value) and "not writable" in str(info.value)
    assert file_state(db) == before
    assert snapshot_files(tmp_path) == []


@pytest.mark.parametrize("op", ["rewind", "restore"])
def test_snapshot_folder_full_by_a_file_size_limit(tmp_path, op):
    """RLIMIT_FSIZE makes the snapshot's writes fail past 96 KiB, as a full disk would.

    The rewind keeps a whole-file copy here: its record (a few KB) fits under the limit.
    """
    db = history(tmp_path, events=400)
    with rpkit.open_db(db) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path / "elsewhere", kind="manual")
    assert db.stat().st_size > 2 * 96 * 1024
    before = file_state(db)
    args = (
        {**rewind_args(db, tmp_path), "keep": "copy"}
        if op == "rewind"
        else {"db_path": str(db), "data_dir": str(tmp_path), "snapshot": str(snap)}
    )
    got = in_child(op, args, fsize=96 * 1024)
    assert got["rpkit"] and got["error"] in {"SnapshotDirError", "SnapshotError"}, got
    assert (
        "could not write a snapshot" in got["message"] and "nothing was changed" in got["message"]
    )
    assert str(tmp_path / "snapshots") in got["message"]
    assert file_state(db) == before
    assert snapshot_files(tmp_path) == []  # the partial copy was removed


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs needs root (the RLIMIT_FSIZE test covers a full disk)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_snapshot_folder_on_a_full_disk(tmp_path, small_tmpfs):
    db = history(tmp_path, events=400)
    assert db.stat().st_size > 2 * 64 * 1024
    before = file_state(db)
    with pytest.raises(rpkit.SnapshotError) as info:
        rpkit.execute_rewind(db_path=db, data_dir=small_tmpfs, after_event_id=40)
    message = str(info.value)
    assert "full" in message or "No space left" in message
    assert "nothing was changed" in message and "free some space" in message
    assert str(small_tmpfs / "snapshots") in message
    assert file_state(db) == before
    assert snapshot_files(small_tmpfs) == []


# -- a read-only history -------------------------------------------------------


def test_read_only_history(tmp_path):
    db = history(tmp_path)
    before = file_state(db)
    with unwritable(db):
        with pytest.raises(rpkit.ReadOnlyDatabaseError) as info, rpkit.open_db(db):
            pass
        message = str(info.value)
        assert str(db) in message and "read-only" in message
        assert "copy it to a writable folder" in message
        with pytest.raises(rpkit.ReadOnlyDatabaseError):
            rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=40)
    assert file_state(db) == before
    assert snapshot_files(tmp_path) == []


def test_history_in_a_folder_that_is_not_writable(tmp_path):
    """SQLite keeps -wal and -shm beside the history: a locked folder is refused up front."""
    folder = tmp_path / "locked"
    folder.mkdir()
    db = history(folder)
    before = file_state(db)
    with unwritable(folder) as how, pytest.raises(rpkit.ReadOnlyDatabaseError) as info:
        rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=40)
    if how == "chmod":  # the file itself is writable: the folder is the problem
        assert str(folder) in str(info.value) and "-wal" in str(info.value)
    else:  # a read-only mount: the file is read-only too
        assert str(db) in str(info.value) and "read-only" in str(info.value)
    assert file_state(db) == before
    assert snapshot_files(tmp_path) == []


def preview_of(db: Path, n: int = 40) -> dict:
    with rpkit.open_db(db) as conn:
        return rpkit.compute_rewind_preview(conn, n)


def test_history_deleted_between_preview_and_rewind(tmp_path):
    db = history(tmp_path)
    seen = preview_of(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(rpkit.NotADatabaseError) as info:
        rpkit.execute_rewind(
            db_path=db, data_dir=tmp_path, after_event_id=40, expected_preview=seen
        )
    assert str(db) in str(info.value) and "does not exist" in str(info.value)
    assert not db.exists()  # no empty history was created in its place
    assert snapshot_files(tmp_path) == []


def _other_history(db: Path) -> None:
    build_demo(db, events=150, seed=99, force=True)


def _shorter(db: Path) -> None:
    build_demo(db, events=30, seed=2, force=True)


def _grown(db: Path) -> None:
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "you_set", {"name": "someone else"})


def _edited(db: Path) -> None:
    with rpkit.open_db(db) as conn:
        turn = conn.execute(
            "SELECT MAX(id) FROM event_log WHERE kind = 'user_turn' AND superseded_by IS NULL"
        ).fetchone()[0]
        rpkit.edit_turn(conn, turn, "changed in another window")


def _foreign(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()


def _text(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_text("not a database\n")


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (_other_history, rpkit.StalePreviewError, ["changed since the preview", "preview again"]),
        (_shorter, rpkit.StalePreviewError, ["changed since the preview", "past the newest"]),
        (_grown, rpkit.StalePreviewError, ["changed since the preview", "preview again"]),
        (_edited, rpkit.StalePreviewError, ["changed since the preview", "preview again"]),
        (_foreign, rpkit.ForeignDatabaseError, ["another application", "notes"]),
        (_text, rpkit.NotADatabaseError, ["not an SQLite database"]),
    ],
    ids=["other-history", "shorter-history", "grown", "edited", "foreign-sqlite", "text-file"],
)
def test_history_replaced_between_preview_and_rewind(tmp_path, change, error, words):
    db = history(tmp_path)
    seen = preview_of(db)
    change(db)
    before = db.read_bytes() if change in (_foreign, _text) else file_state(db)
    with pytest.raises(error) as info:
        rpkit.execute_rewind(
            db_path=db, data_dir=tmp_path, after_event_id=40, expected_preview=seen
        )
    for word in words:
        assert word in str(info.value)
    after = db.read_bytes() if change in (_foreign, _text) else file_state(db)
    assert after == before
    assert snapshot_files(tmp_path) == []  # refused before the snapshot, let alone the cut


# -- findings of the crash and concurrency trials, pinned -----------------------


def test_rewind_into_a_gap_left_by_an_earlier_rewind_leaves_verify_ok(tmp_path):
    db = history(tmp_path, events=100)
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=80)
    with rpkit.open_db(db) as conn:
        for i in range(5):
            rpkit.append(conn, "you_set", {"name": f"again {i}"})
        head = rpkit.store.head_id(conn)
    assert head > 100  # ids 81..100 are a gap now
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=95)
    with rpkit.open_db(db) as conn:
        assert rpkit.store.head_id(conn) == 80
        report = rpkit.verify(conn)
        assert report.ok, repr(report)
        assert report.projected_at == 80


def test_restore_never_hands_out_an_id_twice(tmp_path):
    db = history(tmp_path, events=100)
    with rpkit.open_db(db) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
        later = [rpkit.append(conn, "you_set", {"name": f"later {i}"}) for i in range(3)]
    rpkit.restore_snapshot(db_path=db, data_dir=tmp_path, snapshot=snap)
    with rpkit.open_db(db) as conn:
        new = rpkit.append(conn, "you_set", {"name": "after the restore"})
    assert new == max(later) + 1  # not the id an event before the restore had


def test_dead_partial_snapshots_are_removed_by_the_next_snapshot(tmp_path):
    db = history(tmp_path, events=50)
    folder = tmp_path / "snapshots"
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    left = [folder / f".rewind-20260101T000000000000Z.{pid}.partial{s}" for s in ("", "-journal")]
    mine = folder / f".manual-20260101T000000000000Z.{os.getpid()}.partial"
    odd = [folder / f".x.{n}.partial" for n in ("0", "1", "9" * 30)]  # not pids we wrote
    for path in [*left, mine, *odd]:
        path.write_bytes(b"SQLite format 3\x00half")
    assert rpkit.list_snapshots(tmp_path).empty
    with rpkit.open_db(db) as conn:
        rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    assert not any(p.exists() for p in left)
    assert mine.exists()  # a live writer's (here: our own) temporary file is left alone
    assert all(p.exists() for p in odd)
    assert len(rpkit.list_snapshots(tmp_path)) == 1


def test_import_report_after_a_rewind_counts_what_it_wrote(tmp_path):
    """After a rewind the next ids skip the cut ones; the report must count events, not ids."""
    from rpkit.importers import import_file

    export = ROOT / "data/exports/sillytavern/Mira - 2024-6-5@14h56m50s.jsonl"
    db = history(tmp_path, events=150)
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=50)
    report = import_file(db, "sillytavern", export)
    with rpkit.open_db(db) as conn:
        count, first, last = conn.execute(
            "SELECT COUNT(*), MIN(id), MAX(id) FROM event_log WHERE id > 50"
        ).fetchone()
    assert (report.events, report.first_event_id, report.last_event_id) == (count, first, last)
