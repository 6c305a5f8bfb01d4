"""The package's layers import downward only, with no circle, and no private name crosses a module.

It also holds two facts to one place each: kind names appear in SQL only in
``rpkit.kinds``, and conditions on ``superseded_by`` (the visibility rule) only
in ``rpkit.store``.

Every import statement counts, those inside functions too. The layers, bottom
up: shared utilities, the store, the kinds, the projection, the log,
operations, analysis, front ends, corpora, the command line, and the package
itself.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rpkit.kinds import KINDS

from ..helpers import ROOT

PACKAGE = ROOT / "rpkit"

LAYERS = [
    (
        "utilities",
        [
            "rpkit.errors",
            "rpkit.progress",
            "rpkit.display",
            "rpkit.gcpause",
            "rpkit.dtypes",
            "rpkit.durable",
            "rpkit.extras",
        ],
    ),
    ("store", ["rpkit.store"]),
    ("kinds", ["rpkit.kinds"]),
    ("projection", ["rpkit.projection"]),
    ("log", ["rpkit.log"]),
    ("operations", ["rpkit.operations"]),
    ("analysis", ["rpkit.frames", "rpkit.plots"]),
    (
        "front ends",
        [
            "rpkit.classifiers",
            "rpkit.demo",
            "rpkit.importers",
            "rpkit.exports",
            "rpkit.widgets",
            "rpkit.app",
        ],
    ),
    ("corpora", ["rpkit.corpus"]),
    ("command line", ["rpkit.cli"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("rpkit")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("rpkit"):
                names = [a.name for a in node.names]
                # "from . import x" names a module
                subs = [
                    f"{target}.{n}"
                    for n in names
                    if (PACKAGE.parent / f"{target}.{n}".replace(".", "/"))
                    .with_suffix(".py")
                    .exists()
                    or (PACKAGE.parent / f"{target}.{n}".replace(".", "/")).is_dir()
                ]
                found += [(s, []) for s in subs] or [(target, names)]
                if subs and target != "rpkit":  # "from . import x" runs the package first
                    found.append((target, []))
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def graph() -> dict[str, list[tuple[str, list[str]]]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    for rank, (_name, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    assert module == "rpkit", f"{module} belongs to no layer: add it to LAYERS"
    return len(LAYERS)


def test_every_module_belongs_to_a_layer():
    for module in graph():
        layer_of(module)


def test_layers_import_downward_only():
    upward = [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for m, targets in graph().items()
        for t, _names in targets
        if layer_of(t) > layer_of(m)
    ]
    assert upward == []


def cycles_in(edges: dict[str, set[str]]) -> list[str]:
    """Every circle found by a depth-first walk, as ``a -> b -> a``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                found.append(" -> ".join([*path[path.index(t) :], t]))
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    return found


def test_the_import_graph_has_no_cycle():
    edges = {m: {t for t, _ in targets if t != m} for m, targets in graph().items()}
    assert cycles_in(edges) == []


def test_the_cycle_check_sees_a_cycle():
    assert cycles_in({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert cycles_in({"a": {"b"}, "b": set()}) == []


def test_no_private_name_is_imported_from_another_module():
    private = [
        f"{m} imports {n} from {t}"
        for m, targets in graph().items()
        for t, names in targets
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    private += [
        f"{m} imports the private module {t}"
        for m, targets in graph().items()
        for t, _ in targets
        if t.rsplit(".", 1)[-1].startswith("_")
        and not t.endswith("__init__")
        and not t.rsplit(".", 1)[-1].startswith("__")
    ]
    assert private == []


def test_modules_stay_readable_in_a_sitting():
    long = {
        module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 420
    }
    assert long == {}


# -- facts declared once: kind names and the visibility rule -------------------------

SQL_WORDS = re.compile(r"\b(SELECT|UPDATE|DELETE|INSERT|WHERE|FROM|JOIN)\b")
# A condition on superseded_by other than naming ids (= ?, IN ...): the visibility rule.
VISIBILITY = re.compile(r"superseded_by\s*(IS\s+(NOT\s+)?NULL|>|<)", re.I)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def string_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string in ``source`` but docstrings; an f-string's parts joined."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    inner = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            inner |= {id(v) for v in node.values}
            out.append((node.lineno, "".join(map(str, parts))))
    for node in ast.walk(tree):
        string = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if string and id(node) not in skip and id(node) not in inner:
            out.append((node.lineno, node.value))
    return out


def facts_written_twice(module: str, source: str) -> list[str]:
    """Kind names in SQL outside ``rpkit.kinds``; visibility conditions outside ``rpkit.store``."""
    found = []
    names = "|".join(sorted(KINDS))
    quoted = re.compile(rf"'({names})'")
    bare = re.compile(rf"\b({names})\b")
    for line, text in string_texts(source):
        if not module.startswith("rpkit.kinds"):
            hit = quoted.search(text) or (SQL_WORDS.search(text) and bare.search(text))
            if hit:
                found.append(f"{module}:{line}: kind {hit.group(1)!r} in SQL; use rpkit.kinds")
        if not module.startswith("rpkit.store") and (hit := VISIBILITY.search(text)):
            found.append(f"{module}:{line}: {hit.group(0)!r} by hand; use rpkit.store.visibility")
    return found


def test_kind_names_and_the_visibility_rule_are_written_once():
    found = [
        f
        for p in sorted(PACKAGE.rglob("*.py"))
        for f in facts_written_twice(module_name(p), p.read_text())
    ]
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        """conn.execute("SELECT id FROM event_log WHERE kind = 'edge_update'")""",
        """Q = ("SELECT payload FROM event_log "\n     "WHERE kind IN ('user_turn', 'assistant_turn')")""",
        """q = f"SELECT id FROM event_log WHERE kind = 'chat_created' AND id > {n}\"""",
        """conn.execute("SELECT id FROM event_log WHERE superseded_by IS NULL")""",
        """w = "(superseded_by IS NULL OR superseded_by > ?)\"""",
        """q = f"DELETE FROM event_log WHERE id <= ? AND superseded_by > {n}\"""",
    ],
)
def test_the_check_finds_a_planted_fact_in_the_frames(snippet):
    assert facts_written_twice("rpkit.frames.planted", snippet) != []


def test_the_check_leaves_docstrings_appends_and_the_store_alone():
    assert facts_written_twice("rpkit.frames.fine", '"""kind = \'edge_update\' in SQL."""') == []
    assert facts_written_twice("rpkit.demo", 'append(conn, "edge_update", {})') == []
    assert facts_written_twice("rpkit.store.visibility", 'L = "superseded_by IS NULL"') == []
    assert facts_written_twice("rpkit.kinds.builtin", "Q = \"WHERE kind = 'user_turn'\"") == []


# The choice, its test, and the tests' borrowing of the standard library's pure-Python dump
CHOOSES_SQLITE = {"rpkit.store.sqlite", "test_sqlite_library.py", "helpers.py"}


def sqlite_imports(module: str, source: str) -> list[str]:
    """``import sqlite3`` (or ``pysqlite3``) outside ``rpkit.store.sqlite``, which chooses one."""
    if module in CHOOSES_SQLITE:
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        found += [
            f"{module}:{node.lineno}: imports {n}; use rpkit.store.sqlite's sqlite3"
            for n in names
            if n.split(".")[0] in ("sqlite3", "pysqlite3")
        ]
    return found


def test_every_connection_uses_the_sqlite_rpkit_chose():
    """An ``except sqlite3.OperationalError`` catches nothing from another library's connection."""
    found = [
        f
        for p in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py")])
        for f in sqlite_imports(
            module_name(p) if p.is_relative_to(PACKAGE) else p.name, p.read_text()
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    "snippet", ["import sqlite3", "from sqlite3 import connect", "import pysqlite3.dbapi2 as db"]
)
def test_the_sqlite_check_finds_a_planted_import(snippet):
    assert sqlite_imports("rpkit.frames.planted", f"def f():\n    {snippet}\n") != []
    assert sqlite_imports("rpkit.frames.fine", "from ..store.sqlite import sqlite3") == []
