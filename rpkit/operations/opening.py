"""Opening a history as a context manager, with the projection built on migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike

from ..projection import rebuild
from ..store import connect, head_id
from ..store.sqlite import sqlite3


def _rebuild(conn: sqlite3.Connection) -> None:
    rebuild(conn, head_id(conn))  # a migrated history gets a projection built by this version


@contextmanager
def open_db(path: str | PathLike[str]) -> Iterator[sqlite3.Connection]:
    """Open a history as a context manager: commit on a clean exit, roll back on an error.

    A new file gets the schema; an older rpkit schema is migrated and
    re-projected in one transaction; anything else is refused untouched.

    >>> with open_db("history.db") as conn:            # doctest: +SKIP
    ...     append(conn, "you_set", {"name": "Ada"})
    """
    conn = connect(path, on_migrate=_rebuild)
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()
    finally:
        conn.close()
