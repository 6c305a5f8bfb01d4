"""No rpkit call drops the POSIX locks the process's own connections hold on a history.

POSIX advisory locks belong to a process, and closing any file descriptor of a
file releases all of them. Were rpkit to open() and close() a history file
while a connection of the same process has it open, that connection would lose
its shared lock: another process closing its own connection would then think it
was the last, checkpoint and delete the WAL and its index, and the first
connection's next commit would go to a deleted file: lost. Each test holds a
connection, calls rpkit, lets a child process open and close the history, then
commits through the held connection and checks the commit is on disk.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import rpkit

from ..helpers import log_rows

OPEN_AND_CLOSE = textwrap.dedent(
    """
    import sqlite3, sys
    c = sqlite3.connect(sys.argv[1])
    c.execute("SELECT COUNT(*) FROM event_log").fetchone()
    c.close()
    """
)


APPEND = textwrap.dedent(
    """
    import sys, rpkit
    with rpkit.open_db(sys.argv[1]) as conn:
        print(rpkit.append(conn, "you_set", {"name": "from another process"}))
    """
)


def _open_and_close_elsewhere(db) -> None:
    subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(db)], check=True)


def _append_elsewhere(db) -> int:
    done = subprocess.run(
        [sys.executable, "-c", APPEND, str(db)], check=True, capture_output=True, text=True
    )
    return int(done.stdout.strip())


@pytest.mark.parametrize(
    "call",
    [
        lambda conn, db, tmp: rpkit.take_snapshot(conn, data_dir=tmp, kind="manual"),
        lambda conn, db, tmp: rpkit.open_db(db).__enter__().close(),
        lambda conn, db, tmp: rpkit.list_snapshots(tmp),
    ],
    ids=["take_snapshot", "open_db", "list_snapshots"],
)
def test_a_held_connection_keeps_its_commits(demo_path, tmp_path, call):
    with rpkit.open_db(demo_path) as conn:
        rpkit.append(conn, "you_set", {"name": "before"})
        call(conn, demo_path, tmp_path)
        _open_and_close_elsewhere(demo_path)  # it must not find itself the last connection
        theirs = _append_elsewhere(demo_path)
        ours = rpkit.append(conn, "you_set", {"name": "after"})
    with rpkit.open_db(demo_path) as again:
        ids = [r[0] for r in log_rows(again)]
        assert ids[-2:] == [theirs, ours] and ours == theirs + 1
        assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_rewind_inside_a_held_transaction_keeps_what_it_writes(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn, rpkit.store.atomic(conn):
        rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")  # as a rewind takes it
        _open_and_close_elsewhere(demo_path)
        new = rpkit.append(conn, "you_set", {"name": "written under the lock"})
    theirs = _append_elsewhere(demo_path)
    with rpkit.open_db(demo_path) as again:
        assert [r[0] for r in log_rows(again)][-2:] == [new, theirs]
