"""All-or-nothing blocks over one connection, nested or not, and durable ones.

A history runs with ``synchronous = NORMAL`` (WAL): a commit is safe against a
process crash at once, and against a power cut once the WAL is next synced (at
a checkpoint). That suits appends. A destructive operation (rewind, undo,
restore, fork, and whatever deletes or rewrites history) asks for
``atomic(conn, durable=True)``: its own transaction runs with ``synchronous =
FULL``, so SQLite syncs the WAL before the commit returns, and the connection
goes back to its level afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from .sqlite import sqlite3

_savepoints = itertools.count()

DURABLE_LEVEL = "FULL"  # WAL: the WAL is synced at each commit (EXTRA adds nothing in WAL mode)


@contextmanager
def atomic(
    conn: sqlite3.Connection, *, write: bool = True, durable: bool = False
) -> Iterator[sqlite3.Connection]:
    """Run a block all-or-nothing.

    Without an open transaction it starts one (``BEGIN IMMEDIATE`` for writers, so
    two writers queue on the busy timeout instead of failing) and commits it; inside
    a caller's transaction it uses a savepoint, so a failure undoes only this block.
    ``durable``: when the block's own transaction commits, the commit is on disk
    (``synchronous = FULL`` for that transaction only). Inside a caller's
    transaction the caller's commit decides: SQLite cannot change the level there.
    """
    if not conn.in_transaction:
        level = None
        if durable:
            level = conn.execute("PRAGMA synchronous").fetchone()[0]
            conn.execute(f"PRAGMA synchronous = {DURABLE_LEVEL}")
        try:
            with _transaction(conn, write):
                yield conn
        finally:
            if level is not None:
                conn.execute(f"PRAGMA synchronous = {int(level)}")
        return
    name = f"rpkit_{next(_savepoints)}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    else:
        conn.execute(f"RELEASE {name}")


@contextmanager
def _transaction(conn: sqlite3.Connection, write: bool) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    try:
        conn.commit()
    except BaseException:  # e.g. a deferred foreign key: the transaction is still open
        conn.rollback()
        raise
