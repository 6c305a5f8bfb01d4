"""The package's layers import downward only, with no circle, and no private name crosses a module.

Every import statement counts, those inside functions too. The layers, bottom
up: shared utilities, the store, the kinds, the projection, the log,
operations, analysis, front ends, corpora, the command line, and the package
itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

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
            "rpkit.classify",
            "rpkit.demo",
            "rpkit.importers",
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
