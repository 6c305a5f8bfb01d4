"""``rpkit.extras.require``: a part imported without its extra names the pip line to run."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.errors import MissingExtraError, RpkitError
from rpkit.extras import EXTRAS, require, stand_in_command

from ..helpers import ROOT


def test_a_missing_module_names_the_extra():
    with pytest.raises(MissingExtraError) as info:
        require("corpus", "json", "rpkit_no_such_module", part="rpkit.corpus")
    exc = info.value
    assert str(exc) == (
        "rpkit.corpus needs rpkit_no_such_module, which is not installed: "
        "pip install 'rpkit[corpus]'"
    )
    assert (exc.extra, exc.missing, exc.name) == (
        "corpus",
        ["rpkit_no_such_module"],
        "rpkit_no_such_module",
    )
    assert isinstance(exc, RpkitError) and isinstance(exc, ImportError)


def test_every_missing_module_is_named():
    with pytest.raises(MissingExtraError, match=r"needs rpkit_no_a, rpkit_no_b, which are not"):
        require("classify", "rpkit_no_a", "rpkit_no_b")


def test_installed_modules_pass():
    assert require("notebook", "json", "sqlite3") is None
    for extra in EXTRAS:  # this venv has everything (make install: .[all,test])
        assert require(extra, part="test") is None


def test_an_unknown_extra_needs_its_modules_named():
    with pytest.raises(ValueError, match="unknown extra 'nope'"):
        require("nope")


def test_the_error_is_public():
    assert rpkit.MissingExtraError is MissingExtraError
    assert "MissingExtraError" in rpkit.__all__


def test_the_extras_named_are_the_wheels():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(EXTRAS) <= set(extras)
    (everything,) = extras["all"]
    assert everything.startswith("rpkit[") and everything.endswith("]")
    assert set(everything[6:-1].split(",")) == set(EXTRAS)


def test_the_stand_in_command_says_what_to_install():
    exc = MissingExtraError(
        "rpkit.corpus needs dask: pip install 'rpkit[corpus]'", extra="corpus", missing=["dask"]
    )
    runner = CliRunner()
    for args in (["export", "out", "a.db"], ["--help"], []):
        r = runner.invoke(stand_in_command("corpus", exc), args)
        assert r.exit_code == 1, r.output
        assert "pip install 'rpkit[corpus]'" in r.output


HIDE = "import sys\nfor m in {mods!r}: sys.modules[m] = None  # as if not installed\n"


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("part", "hidden", "extra"),
    [
        ("rpkit.corpus", ["dask"], "corpus"),
        ("rpkit.widgets", ["ipywidgets"], "notebook"),
        ("rpkit.app", ["ipywidgets"], "notebook"),
        ("rpkit.plots", ["matplotlib"], "notebook"),
    ],
)
def test_each_part_checks_its_extra(part, hidden, extra):
    code = HIDE.format(mods=hidden) + (
        "import rpkit\n"
        "try:\n"
        f"    import {part}\n"
        "except rpkit.MissingExtraError as exc:\n"
        "    print(exc.extra, '|', exc)\n"
    )
    proc = python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{extra} | {part} needs {hidden[0]}")
    assert f"pip install 'rpkit[{extra}]'" in proc.stdout


def test_the_command_line_works_without_the_corpus_extra():
    code = HIDE.format(mods=["dask", "distributed", "pyarrow", "ijson", "matplotlib"]) + (
        "from click.testing import CliRunner\n"
        "from rpkit.cli import main\n"
        "r = CliRunner().invoke(main, ['--help'])\n"
        "print(r.exit_code, r.output)\n"
        "r = CliRunner().invoke(main, ['corpus', 'summary', 'x'])\n"
        "print(r.exit_code, r.output)\n"
        "print(sorted(m for m in ('dask', 'matplotlib', 'ipywidgets') if sys.modules.get(m)))\n"
    )
    proc = python(code)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "0 Usage: " in out and "corpus     Not installed: pip install 'rpkit[corpus]'." in out
    assert "1 Error: rpkit.corpus needs dask, distributed, pyarrow, ijson, matplotlib" in out
    assert out.rstrip().endswith("[]")


def test_the_command_line_does_not_import_the_extras():
    """``rpkit.cli`` imports ``rpkit.corpus``: its check looks Dask up without importing it."""
    proc = python(
        "import sys\nimport rpkit.cli\n"
        "assert 'rpkit.corpus' in sys.modules\n"
        "print(sorted(m for m in ('dask', 'distributed', 'ijson', 'matplotlib',"
        " 'ipywidgets', 'vaderSentiment') if m in sys.modules))"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"  # (pandas imports pyarrow itself when it is there)
