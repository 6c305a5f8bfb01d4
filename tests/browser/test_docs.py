"""The documentation site of ``make docs``, served on 127.0.0.1 and read in Chromium.

The site is built once per session (the ``docs_site`` fixture, which
``tests/contracts/test_docs.py`` shares) and served with ``python -m http.server`` on
a free loopback port, stopped afterwards. The test opens the index and a tutorial
page, and checks that their charts are pictures that loaded, of a plausible size,
and that no page asked for anything off this machine.
"""

from __future__ import annotations

import json
import secrets
import sys

import pytest

from .harness import ROOT, Server, free_port, unexpected_requests, wait_visible

pytestmark = pytest.mark.browser

TUTORIAL = "02-affinity-over-time"
IMAGES = "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"


@pytest.fixture(scope="module")
def site(docs_site, browser_context, tmp_path_factory):
    """``python -m http.server`` on the built site; stopped afterwards, also after a failure."""
    done, html = docs_site
    if done.returncode != 0:
        pytest.fail(f"sphinx-build -W failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = Server(
        "the docs server",
        [*cmd, "--directory", str(html)],
        port=port,
        token=secrets.token_hex(8),  # http.server ignores it; the harness's Server wants one
        env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
        cwd=html,
        log=tmp_path_factory.mktemp("docs-server") / "http.log",
    )
    try:
        server.wait_ready("/index.html", timeout=30)
        yield server
    finally:
        server.stop()


def stored_pngs(name: str) -> int:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
    )


def loaded_images(page) -> list[list]:
    return page.evaluate(IMAGES)


def test_docs_index_and_a_tutorial_show_their_charts(site, browser_context, page, steps):
    page.goto(f"{site.base}/index.html")
    wait_visible(page, "article.bd-article h1", "the index page's title")
    assert page.locator("article.bd-article h1").first.inner_text().startswith("rpkit")
    images = loaded_images(page)
    assert [src for src, *_ in images] == ["_images/affinity.png"], images
    assert all(complete and width > 100 for _, complete, width in images), images
    nav = page.locator(".bd-sidebar-primary, .bd-header").first.inner_text()
    steps.shot(page, "index")

    page.goto(f"{site.base}/tutorials/{TUTORIAL}.html")
    wait_visible(page, "article.bd-article h1", f"the title of tutorial {TUTORIAL}")
    assert "Affinity over time" in page.locator("article.bd-article h1").first.inner_text()
    images = loaded_images(page)
    assert len(images) == stored_pngs(TUTORIAL) >= 1, images
    for src, complete, width in images:
        assert complete and width > 100, f"{src}: complete={complete}, naturalWidth={width}"
    steps.shot(page, "tutorial")
    first = page.locator("article.bd-article img").first
    first.scroll_into_view_if_needed()
    page.screenshot(path=str(steps.folder / f"{steps.n + 1:02d}-first-chart-in-view.png"))
    steps.n += 1

    page.goto(f"{site.base}/api/rpkit.html")
    wait_visible(page, "dt#rpkit\\.execute_rewind", "execute_rewind on the API page")
    steps.shot(page, "api")

    assert "Tutorials" in nav or page.locator("a", has_text="Tutorials").count() > 0
    assert page.js_errors == []
    assert unexpected_requests(browser_context) == []
