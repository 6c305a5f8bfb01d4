"""Every tutorial, opened in a real JupyterLab and run with Run All Cells in Chromium.

Each must run to the end with no error, render every widget it shows (JupyterLab's
widget front end, ``jupyterlab_widgets``, draws them; without it a widget is only
text), and draw its charts as images of a plausible size.
"""

from __future__ import annotations

import pytest

from . import jlab
from .harness import ROOT, unexpected_requests

pytestmark = pytest.mark.browser

TUTORIALS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs_in_jupyterlab(name, lab, page, steps):
    expected = jlab.committed_outputs(ROOT / "notebooks" / name)
    assert expected["code_cells"] > 0
    jlab.open_notebook(page, lab, f"notebooks/{name}")
    steps.shot(page, "opened")
    try:
        ran = jlab.run_all(page, name)
        steps.shot(page, "ran")
        errors = jlab.error_outputs(page)
        assert not errors, f"{name}: a cell failed or wrote to stderr:\n" + "\n".join(errors)
        assert ran == [f"[{i}]:" for i in range(1, expected["code_cells"] + 1)], ran

        jlab.wait_widgets_settled(page, name)
        views = jlab.widget_outputs(page)
        assert views.count() == expected["widgets"], (
            f"{name}: {views.count()} widgets rendered, the notebook shows {expected['widgets']} "
            "(is the widget front end, jupyterlab_widgets, installed?)"
        )
        for i in range(views.count()):
            views.nth(i).scroll_into_view_if_needed()
            steps.shot(page, f"widget-{i + 1}")
        charts = jlab.images(page)
        assert len(charts) == expected["images"], (
            f"{name}: {len(charts)} charts in the page, {expected['images']} stored"
        )
        for chart in charts:
            assert chart["done"] and chart["w"] >= 400 and chart["h"] >= 200, (name, charts)
        # a widget's own chart (an ipywidgets Image) decoded to a real picture
        widget_images = jlab.images(page, ".jupyter-widgets img.widget-image")
        for img in widget_images:
            assert img["done"] and img["w"] >= 400 and img["h"] >= 200, (name, widget_images)
        assert not page.js_errors, page.js_errors
        assert not unexpected_requests(page.context), unexpected_requests(page.context)
    finally:
        jlab.shut_down_kernels(lab)
