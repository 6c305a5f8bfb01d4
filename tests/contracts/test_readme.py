"""The README's Python snippets run as written, on the demo history (so they never lie)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rpkit.demo import build_demo

from ..helpers import ROOT

README = ROOT / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build_demo(tmp_path / "demo.db")  # the same history as `rpkit demo demo.db`
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    if "snap" in namespace:  # the library snippet rewound and restored
        assert Path(namespace["snap"]).exists()
        assert namespace["preview"]["after_event_id"] == 300
