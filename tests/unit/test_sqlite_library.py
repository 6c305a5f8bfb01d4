"""The SQLite rpkit uses: 3.51.3 or newer (the WAL-reset fix), on every connection it opens."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings

import pandas as pd
from click.testing import CliRunner

import rpkit
from rpkit.cli import main
from rpkit.store import sqlite as library
from rpkit.store.sqlite import MINIMUM, sqlite3


def version_of(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.search(r"SQLite (\d+\.\d+\.\d+)", text).group(1).split("."))


def test_the_sqlite_in_use_has_the_wal_reset_fix():
    assert tuple(int(p) for p in sqlite3.sqlite_version.split(".")) >= MINIMUM


def test_open_db_gives_a_connection_of_that_library(db_path):
    with rpkit.open_db(db_path) as conn:
        assert isinstance(conn, sqlite3.Connection)
        assert conn.execute("SELECT sqlite_version()").fetchone()[0] == library.SQLITE_VERSION


def test_rpkit_info_and_verify_name_the_version(demo_path):
    runner = CliRunner()
    info = runner.invoke(main, ["info", str(demo_path)], catch_exceptions=False)
    shown = [line for line in info.output.splitlines() if line.startswith("sqlite")]
    assert len(shown) == 1 and version_of(shown[0]) >= MINIMUM
    checked = runner.invoke(main, ["verify", str(demo_path)], catch_exceptions=False)
    assert version_of(checked.output) == version_of(shown[0])
    with rpkit.open_db(demo_path) as conn:
        report = rpkit.verify(conn)
    assert report.sqlite == library.describe() and library.SQLITE_VERSION in report._repr_html_()


def test_pandas_reads_an_rpkit_connection_without_a_warning(demo_path):
    with rpkit.open_db(demo_path) as conn:
        expected = conn.execute("SELECT COUNT(*), MAX(id) FROM event_log").fetchone()
        with warnings.catch_warnings(record=True) as caught:
            frame = pd.read_sql_query("SELECT COUNT(*) AS n, MAX(id) AS head FROM event_log", conn)
    assert tuple(frame.iloc[0]) == expected
    assert [str(w.message) for w in caught] == []


WARN_ON_OLD = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("always")
    import rpkit
    from rpkit.store.sqlite import LIBRARY, SQLITE_VERSION
    with warnings.catch_warnings(record=True) as caught:
        for _ in range(3):
            with rpkit.open_db(sys.argv[1]):
                pass
    shown = [str(w.message) for w in caught if issubclass(w.category, rpkit.RpkitWarning)]
    print(LIBRARY, SQLITE_VERSION, len(shown))
    print(shown[0] if shown else "")
    """
)


def _open_with(tmp_path, forced: str) -> tuple[str, str, int, str]:
    env = {"RPKIT_SQLITE": forced, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", WARN_ON_OLD, str(tmp_path / f"{forced}.db")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [*done.stdout.splitlines(), ""]
    name, version, count = lines[0].split()
    return name, version, int(count), lines[1]


def test_an_older_sqlite_warns_once_naming_the_version_and_the_fix(tmp_path):
    import sqlite3 as stdlib  # the standard library's, to compare with

    name, version, count, message = _open_with(tmp_path, "stdlib")
    assert (name, version) == ("sqlite3", stdlib.sqlite_version)
    if tuple(int(p) for p in version.split(".")) >= MINIMUM:
        assert count == 0
    else:
        assert count == 1
        assert version in message and "pip install 'pysqlite3>=0.6.1'" in message


def test_the_bundled_sqlite_gives_no_warning(tmp_path):
    name, version, count, _ = _open_with(tmp_path, "pysqlite3")
    assert name == "pysqlite3" and count == 0
    assert tuple(int(p) for p in version.split(".")) >= MINIMUM
