"""The README's code runs as written (so it never lies).

Its Python snippets run on the demo history, and its console block runs line by line
with the installed ``rpkit`` command, in order, in a temporary folder: once on the
local scheduler, and once with ``--cluster`` on its corpus lines, against a real
``dask scheduler`` and two ``dask worker`` processes. The Python
snippets of the documentation site's getting-started page run the same way.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rpkit.demo import build_demo

from ..helpers import ROOT

README = ROOT / "README.md"
GETTING_STARTED = ROOT / "docs" / "getting-started.md"
RPKIT = Path(sys.executable).parent / "rpkit"  # the command of the environment under test


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def console_lines(path: Path) -> list[str]:
    """Every ``$ `` line of the file's console blocks, in order."""
    blocks = re.findall(r"```console\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


SNIPPETS = [(path, code) for path in (README, GETTING_STARTED) for code in python_blocks(path)]
COMMANDS = console_lines(README)


def test_readme_has_a_python_snippet_and_a_console_block():
    assert python_blocks(README)
    assert len(COMMANDS) >= 5


def test_every_console_block_line_is_a_command():
    """A line of a console block that is neither a command nor its output would be left untested."""
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            assert line.startswith("$ rpkit "), f"not an rpkit command: {line!r}"


@pytest.mark.parametrize(
    "path, code",
    SNIPPETS,
    ids=[f"{path.stem}-snippet{i}" for i, (path, _) in enumerate(SNIPPETS)],
)
def test_snippet_runs(path, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build_demo(tmp_path / "demo.db")  # the same history as `rpkit demo demo.db`
    namespace: dict = {}
    exec(compile(code, str(path.relative_to(ROOT)), "exec"), namespace)
    if "snap" in namespace:  # a snippet that rewound to a point it previewed first
        assert Path(namespace["snap"]).exists()
        assert namespace["preview"]["after_event_id"] == namespace.get("point", 300)


def run_console(lines: list[str], cwd: Path, cluster: str | None = None) -> None:
    """Run each line with the installed ``rpkit``; ``cluster``: the corpus lines on it."""
    assert RPKIT.is_file(), f"the rpkit command is not installed beside {sys.executable}"
    for line in lines:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "rpkit"
        if cluster is not None and argv[1] == "corpus":
            argv += ["--cluster", cluster]
        done = subprocess.run(
            [str(RPKIT), *argv[1:]],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (
            f"`{shlex.join(argv)}` exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )


def test_readme_console_block_runs(tmp_path):
    run_console(COMMANDS, tmp_path)


def test_readme_corpus_lines_run_on_a_real_cluster(tmp_path):
    """The README's corpus lines with ``--cluster``, on a ``dask scheduler`` and two ``dask
    worker`` processes started as from a shell, each in a folder of its own."""
    from rpkit.corpus import open_corpus

    from ..corpus.processes import start_cluster

    corpus = [line for line in COMMANDS if line.startswith("rpkit corpus ")]
    assert len(corpus) >= 2
    here = tmp_path / "client"
    here.mkdir()
    processes, _ = start_cluster(tmp_path / "dask", workers=2)
    try:
        run_console(COMMANDS, here, cluster=processes.address)
        for worker in ("w0", "w1"):  # the work went to the shared folder, not the workers'
            assert not (processes.folder(worker) / "corpus").exists()
    finally:
        processes.stop()
    assert open_corpus(here / "corpus").histories == ["demo"]
