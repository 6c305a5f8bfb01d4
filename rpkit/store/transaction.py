"""All-or-nothing blocks over one connection, nested or not."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from .sqlite import sqlite3

_savepoints = itertools.count()


@contextmanager
def atomic(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """Run a block all-or-nothing.

    Without an open transaction it starts one (``BEGIN IMMEDIATE`` for writers, so
    two writers queue on the busy timeout instead of failing) and commits it; inside
    a caller's transaction it uses a savepoint, so a failure undoes only this block.
    """
    if not conn.in_transaction:
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
