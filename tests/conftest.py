"""Fixtures shared by every test: real SQLite files in temporary folders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib
import pytest

import rpkit

from .helpers import build_docs, build_template

matplotlib.use("Agg")
rpkit.set_progress(False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def conn(db_path: Path):
    with rpkit.open_db(db_path) as c:
        yield c


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The 300-event demo history, built once per session; copy it, never change it."""
    return build_template(tmp_path_factory.mktemp("demo-template") / "demo.db")


@pytest.fixture
def demo_path(tmp_path: Path, demo_template: Path) -> Path:
    """A fresh copy of the demo template (WAL checkpointed, no sidecar files)."""
    path = tmp_path / "demo.db"
    shutil.copyfile(demo_template, path)
    return path


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The documentation site built once per session into a temporary folder.

    Returns the finished ``sphinx-build`` and the HTML folder; the tests that use it
    check its exit status themselves, so a failed build fails each of them loudly.
    """
    out = tmp_path_factory.mktemp("docs") / "html"
    return build_docs(out), out
