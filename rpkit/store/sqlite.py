"""The SQLite library every rpkit connection uses, chosen once.

SQLite 3.7.0 through 3.51.2 has a WAL-reset bug: two connections to one file
that write or checkpoint at the same moment can corrupt it (fixed in 3.51.3,
https://sqlite.org/wal.html#walresetbug). That is rpkit's model: a notebook
connection next to the panel, snapshots taken under the write lock. So rpkit
uses the standard library's ``sqlite3`` when the SQLite it links is 3.51.3 or
newer, otherwise ``pysqlite3`` (a dependency: its wheels bundle a current
SQLite with the same API), and the standard library with a warning only when
neither is new enough.

Every module of rpkit imports ``sqlite3`` from here, so its exception classes
(``sqlite3.OperationalError``) are those of the library that made the
connection. ``RPKIT_SQLITE=stdlib`` or ``=pysqlite3`` forces one (for tests and
comparisons).
"""

from __future__ import annotations

import os
import types
import warnings

from ..errors import RpkitWarning

MINIMUM = (3, 51, 3)
"""The oldest SQLite rpkit trusts with concurrent WAL connections."""

_PANDAS_WARNING = r"pandas only supports SQLAlchemy connectable"


def _version(module: types.ModuleType) -> tuple[int, ...]:
    return tuple(int(part) for part in module.sqlite_version.split("."))


def _pysqlite3() -> types.ModuleType | None:
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        return None
    return dbapi2


def _choose() -> types.ModuleType:
    import sqlite3 as stdlib

    forced = os.environ.get("RPKIT_SQLITE", "")
    if forced == "stdlib":
        return stdlib
    bundled = _pysqlite3()
    if forced == "pysqlite3" and bundled is not None:
        return bundled
    if _version(stdlib) >= MINIMUM or bundled is None:
        return stdlib
    return bundled if _version(bundled) >= _version(stdlib) else stdlib


sqlite3 = _choose()
"""The ``sqlite3`` module rpkit uses (the standard library's or ``pysqlite3.dbapi2``)."""

SQLITE_VERSION: str = sqlite3.sqlite_version
LIBRARY: str = "sqlite3" if sqlite3.__name__ == "sqlite3" else "pysqlite3"

_warned = False


def describe() -> str:
    """One line for ``rpkit info`` and ``verify``: the SQLite version and where it comes from."""
    note = "" if _version(sqlite3) >= MINIMUM else f", older than {_text(MINIMUM)}"
    return f"SQLite {SQLITE_VERSION} (from {LIBRARY}{note})"


def _text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def check_version() -> None:
    """Warn once per process when the SQLite in use is older than :data:`MINIMUM`.

    Also lets ``pandas.read_sql_query(sql, conn)`` take a ``pysqlite3``
    connection without its "other DBAPI2 objects are not tested" warning:
    pandas reads it with the same code as a standard library connection, and
    rpkit's tests check that it does.
    """
    global _warned
    if LIBRARY == "pysqlite3":
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=UserWarning)
    if _warned or _version(sqlite3) >= MINIMUM:
        return
    _warned = True
    warnings.warn(
        f"rpkit is using SQLite {SQLITE_VERSION}, which has the WAL-reset bug of "
        f"SQLite before {_text(MINIMUM)} (concurrent writers can corrupt a history); "
        "install the current SQLite with: pip install 'pysqlite3>=0.6.1'",
        RpkitWarning,
        stacklevel=3,
    )
