"""The documentation site builds with warnings as errors, and loads nothing from another host.

``make docs`` builds it into ``docs/_build/html``; here the same build goes into a
temporary folder (the ``docs_site`` fixture, shared with ``tests/browser/test_docs.py``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

TUTORIALS = [
    "01-quickstart",
    "02-affinity-over-time",
    "03-rewind",
    "04-import-real-chats",
    "05-chats-as-a-tree",
    "06-corpus",
    "07-training-data",
]
PAGES = [
    "index",
    "getting-started",
    "tutorials",
    "concepts",
    "guarantees",
    "performance",
    "api/index",
    "api/rpkit",
    "api/frames",
    "api/plots",
    "api/widgets",
    "api/importers",
    "api/exports",
    "api/corpus",
    "api/classifiers",
    "cli",
    "changelog",
    "contributing",
    *(f"tutorials/{name}" for name in TUTORIALS),
]


class Loads(HTMLParser):
    """What a page makes the browser fetch: scripts, style sheets, fonts, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "link" and a.get("href") and a.get("rel") not in ("canonical",):
            self.urls.append(a["href"])
        elif tag in ("img", "iframe", "source", "video", "audio") and a.get("src"):
            self.urls.append(a["src"])


def off_host(url: str) -> bool:
    return bool(urlsplit(url).netloc) or url.startswith("//")


@pytest.fixture(scope="module")
def html(docs_site) -> Path:
    done, out = docs_site
    assert done.returncode == 0, (
        f"sphinx-build -W failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    return out


def test_the_site_builds_with_warnings_as_errors(html):
    missing = [page for page in PAGES if not (html / f"{page}.html").is_file()]
    assert missing == []


def test_no_page_loads_anything_from_another_host(html):
    found = {}
    for page in html.rglob("*.html"):
        parser = Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        if far := [url for url in parser.urls if off_host(url)]:
            found[str(page.relative_to(html))] = far
    assert found == {}


def test_no_style_sheet_imports_from_another_host(html):
    far = {
        str(css.relative_to(html)): hits
        for css in (html / "_static").rglob("*.css")
        if (hits := re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", css.read_text()))
    }
    assert far == {}


@pytest.mark.parametrize("name", TUTORIALS)
def test_each_tutorial_page_shows_its_stored_charts(html, name):
    """Every PNG output the notebook stores is an image on its page, copied into the site."""
    import json

    from ..helpers import ROOT

    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    stored = sum(
        "image/png" in out.get("data", {})
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
    )
    parser = Loads()
    parser.feed((html / "tutorials" / f"{name}.html").read_text(encoding="utf-8"))
    images = [u for u in parser.urls if u.endswith(".png")]
    assert len(images) == stored
    for url in images:
        assert (html / "tutorials" / url).resolve().is_file(), url


def test_the_api_pages_document_the_public_names(html):
    """Every public function and class (constants re-exported from a submodule are not listed)."""
    import rpkit
    from rpkit import corpus, frames

    text = (html / "api" / "rpkit.html").read_text(encoding="utf-8")
    for name in ("open_db", "execute_rewind", "undo_rewind", "fork_chat", "restore_snapshot"):
        assert f'id="rpkit.{name}"' in text, name
    assert 'id="rpkit.RpkitError"' in text
    for module in (frames, corpus):
        page = module.__name__.rsplit(".", 1)[-1]
        text = (html / "api" / f"{page}.html").read_text(encoding="utf-8")
        missing = [
            n
            for n in module.__all__
            if callable(getattr(module, n)) and f'id="{module.__name__}.{n}"' not in text
        ]
        assert missing == [], page
    assert rpkit.__version__ in (html / "index.html").read_text(encoding="utf-8")


def test_the_cli_page_documents_every_command(html):
    from rpkit.cli import main

    text = (html / "cli.html").read_text(encoding="utf-8")
    missing = [name for name in main.commands if f'<section id="rpkit-{name}">' not in text]
    assert missing == []
