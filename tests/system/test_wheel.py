"""The wheel: built from the sources, installed with its core dependencies only, in a new venv.

There the command line makes and reads a history, and each part that needs an
extra says which one (``pip install 'rpkit[corpus]'``) instead of failing on a
missing module. pip fetches the core dependencies (pandas, numpy, click, tqdm,
orjson) from its cache or the package index.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import rpkit
from rpkit.demo import build_demo
from rpkit.operations import open_db
from rpkit.store import head_id

from ..helpers import ROOT

pytestmark = pytest.mark.slow

CORE = {"pandas", "numpy", "click", "tqdm", "orjson", "pysqlite3"}
EXTRAS = {
    "notebook": {"ipywidgets", "matplotlib", "voila", "jupyterlab", "ipykernel"},
    "corpus": {"dask", "distributed", "pyarrow", "ijson", "matplotlib"},
    "classify": {"vaderSentiment"},
    "datasets": {"pyarrow", "ijson", "zstandard"},
    "all": {"rpkit"},
}


def run(*args, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def ok(*args, cwd: Path, timeout: int = 600) -> str:
    proc = run(*args, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """``python -m build`` on a copy of the sources (so no stale build/ is packed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "rpkit", src / "rpkit", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp / "dist"
    ok(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, src, cwd=tmp)
    (wheel,) = dist.glob("rpkit-*.whl")
    (sdist,) = dist.glob("rpkit-*.tar.gz")
    return {"tmp": tmp, "wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def venv(built) -> Path:
    """A new venv holding the wheel and its core dependencies; its bin folder."""
    env = built["tmp"] / "venv"
    ok(sys.executable, "-m", "venv", env, cwd=built["tmp"])
    bin_dir = env / "bin"
    ok(bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
       built["wheel"], cwd=built["tmp"])  # fmt: skip
    return bin_dir


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(z.read(name))


def name_of(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0)


def test_the_metadata_lists_the_core_and_the_extras(built):
    meta = metadata(built["wheel"])
    requires = meta.get_all("Requires-Dist")
    core = [r for r in requires if ";" not in r]
    assert {name_of(r) for r in core} == CORE
    assert all(">=" in r for r in requires if not r.startswith("rpkit[")), requires
    assert set(EXTRAS) | {"test"} <= set(meta.get_all("Provides-Extra"))
    for extra, names in EXTRAS.items():
        marked = [r for r in requires if re.search(rf"extra == \"{extra}\"", r)]
        assert {name_of(r) for r in marked} == names, (extra, marked)
    (everything,) = [r for r in requires if r.startswith("rpkit[")]
    assert set(everything.split(";")[0][6:-1].split(",")) == {
        "notebook",
        "corpus",
        "classify",
        "datasets",
    }


def test_the_wheel_holds_the_package_only(built):
    with zipfile.ZipFile(built["wheel"]) as z:
        names = z.namelist()
    assert {n.split("/")[0] for n in names} == {"rpkit", f"rpkit-{rpkit.__version__}.dist-info"}
    assert "rpkit/extras.py" in names and "rpkit/cli/corpus.py" in names


def test_the_venv_has_the_core_dependencies_only(venv):
    installed = ok(venv / "python", "-m", "pip", "list", "--format=freeze", cwd=venv)
    names = {line.split("==")[0].lower() for line in installed.split()}
    for absent in ("matplotlib", "ipywidgets", "dask", "distributed", "pyarrow", "ijson"):
        assert absent not in names
    assert "vadersentiment" not in names
    assert {n.lower() for n in CORE} | {"rpkit"} <= names


def test_the_command_line_works_on_the_core(venv, tmp_path):
    build_demo(tmp_path / "expected.db")  # the same defaults as `rpkit demo`
    with open_db(tmp_path / "expected.db") as conn:
        events = head_id(conn)
    out = ok(venv / "rpkit", "demo", "demo.db", cwd=tmp_path)
    assert out.strip() == f"wrote {events} events to demo.db"
    out = ok(venv / "rpkit", "info", "demo.db", cwd=tmp_path)
    assert re.search(rf"^events\s+{events} \(\d+ retired\), newest id {events}$", out, re.M)
    assert f"projected at {events}" in out
    assert re.search(r"^chat 1\s+\d+ turns", out, re.M)
    out = ok(venv / "rpkit", "--help", cwd=tmp_path)
    assert "corpus     Not installed: pip install 'rpkit[corpus]'." in out
    proc = run(venv / "rpkit", "corpus", "summary", "corpus", cwd=tmp_path)
    assert proc.returncode == 1
    assert "pip install 'rpkit[corpus]'" in proc.stderr
    before = (tmp_path / "demo.db").read_bytes()
    proc = run(venv / "rpkit", "classify", "demo.db", cwd=tmp_path)
    assert proc.returncode == 1
    assert "VaderClassifier needs vaderSentiment" in proc.stderr
    assert "pip install 'rpkit[classify]'" in proc.stderr
    assert (tmp_path / "demo.db").read_bytes() == before


@pytest.mark.parametrize(
    ("part", "extra"),
    [
        ("rpkit.corpus", "corpus"),
        ("rpkit.widgets", "notebook"),
        ("rpkit.plots", "notebook"),
        ("rpkit.app", "notebook"),
    ],
)
def test_a_part_without_its_extra_says_what_to_install(venv, tmp_path, part, extra):
    proc = run(venv / "python", "-c", f"import {part}", cwd=tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"rpkit.errors.MissingExtraError: {part} needs ")
    assert last.endswith(f"pip install 'rpkit[{extra}]'")
    code = (
        f"import rpkit\ntry:\n    import {part}\nexcept rpkit.RpkitError as e:\n    print(e.extra)"
    )
    assert ok(venv / "python", "-c", code, cwd=tmp_path).strip() == extra
