"""What a person does in JupyterLab, as Playwright steps: open, clear, Run All Cells, read.

The assertions read the page: prompts, output areas (JupyterLab gives each its
MIME type in ``data-mime-type``; an error's traceback is rendered as
``application/vnd.jupyter.stderr``), widget views (``.jupyter-widgets``) and images.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from .harness import Server, wait_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# the notebook on show (a restored workspace may hold other, hidden tabs)
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
WIDGET_TROUBLE = ("Error displaying widget", "Loading widget...", "Loading widget…")


def open_notebook(page: Any, lab: Server, path: str) -> None:
    """Open ``path`` (relative to the server's root) and wait for its kernel to be idle."""
    page.goto(lab.url(f"/lab/tree/{path}?reset"))  # reset: no tab of an earlier test
    page.locator(f"{NB} .jp-Notebook").first.wait_for(state="visible", timeout=60_000)
    wait_for(f"the kernel of {path} to start and be idle", lambda: kernel_idle(page), 90)


def kernel_idle(page: Any) -> bool:
    status = " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts())
    return bool(re.search(r"\|\s*Idle", status))


def menu(page: Any, top: str, item: str) -> None:
    """Click ``top`` in the menu bar, then ``item`` in the menu that opens."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    entry = page.locator(".lm-Menu-content > .lm-Menu-item:visible").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$"))
    )
    entry.first.click()


def prompts(page: Any) -> list[str]:
    return [p.strip() for p in page.locator(f"{NB} .jp-CodeCell .jp-InputPrompt").all_inner_texts()]


def error_outputs(page: Any) -> list[str]:
    """The text of every error or stderr output in the open notebook."""
    return page.locator(
        f"{NB} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()


def run_all(page: Any, name: str, timeout: float = 240) -> list[str]:
    """Clear the outputs, Run All Cells, and wait until every code cell ran (or one failed)."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    wait_for(
        f"the outputs of {name} to be cleared",
        lambda: (
            page.locator(f"{NB} .jp-OutputArea-output").count() == 0
            and all(p in ("[ ]:", "[ ]") for p in prompts(page))
        ),
        30,
    )
    menu(page, "Run", "Run All Cells")

    def finished() -> bool:
        if error_outputs(page) and kernel_idle(page):
            return True
        seen = prompts(page)
        return bool(seen) and all(re.fullmatch(r"\[\d+\]:", p) for p in seen) and kernel_idle(page)

    wait_for(f"every cell of {name} to run (prompts: {prompts(page)})", finished, timeout, 0.5)
    return prompts(page)


def widget_outputs(page: Any) -> Any:
    """Output areas that hold a rendered widget view."""
    return page.locator(f"{NB} .jp-OutputArea-output:has(> .jupyter-widgets)")


def widget_view(page: Any, n: int = 0) -> Any:
    """The top widget (the panel's box) of the ``n``-th widget output."""
    return widget_outputs(page).nth(n).locator(":scope > .jupyter-widgets").first


def wait_widgets_settled(page: Any, name: str, timeout: float = 60) -> None:
    """No output says a widget is still loading or failed to display."""

    def settled() -> bool:
        text = page.locator(f"{NB} .jp-Notebook").first.inner_text()
        return not any(t in text for t in WIDGET_TROUBLE)

    wait_for(f"the widgets of {name} to finish loading", settled, timeout)


def images(page: Any, scope: str = ".jp-OutputArea-output.jp-RenderedImage img") -> list[dict]:
    """Each image's natural size (0 when it did not decode) and whether it loaded."""
    return page.locator(f"{NB} {scope}").evaluate_all(
        "els => els.map(e => ({w: e.naturalWidth, h: e.naturalHeight, done: e.complete}))"
    )


def committed_outputs(notebook: Path) -> dict[str, int]:
    """What the committed notebook's stored outputs hold: widget views and PNG charts."""
    nb = json.loads(notebook.read_text())
    counts = {"widgets": 0, "images": 0, "code_cells": 0}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        counts["code_cells"] += 1
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            counts["widgets"] += WIDGET_VIEW in data
            counts["images"] += "image/png" in data
    return counts


def shut_down_kernels(lab: Server) -> None:
    """End every kernel session of the server (a finished notebook keeps no kernel)."""
    auth = {"Authorization": f"token {lab.token}"}
    listing = urllib.request.Request(f"{lab.base}/api/sessions", headers=auth)
    with urllib.request.urlopen(listing, timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(
            f"{lab.base}/api/sessions/{s['id']}", headers=auth, method="DELETE"
        )
        urllib.request.urlopen(req, timeout=30).close()


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells (nbformat 4) for the panel tests."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))
