"""Fixtures of the browser tests: one JupyterLab, one Voila app and one Chromium for all
of them (package scope: they stop when the last browser test is done, also after a
failure), a page per test, and numbered screenshots of each step.

Without Chromium (or Playwright) the tests skip, saying how to install it; under
``CI=true`` a skipped browser test is reported as a failure, so CI always runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from . import harness

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if item.get_closest_marker("browser") is None:
        return
    setattr(item, f"report_{report.when}", report)
    if report.skipped and _under_ci():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"a browser test may not skip under CI=true: {reason}"
    folder = getattr(item, "screenshots", None)
    if report.failed and folder is not None:
        report.sections.append(("screenshots", f"screenshots of each step: {folder}"))


@pytest.fixture(scope="package")
def browser_context(tmp_path_factory):
    """Debian's Chromium (headless, new profile, loopback only) for all the browser tests."""
    reason = harness.missing_browser_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = harness.launch_chromium(
            playwright, tmp_path_factory.mktemp("chromium") / "profile"
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="package")
def lab_root(tmp_path_factory) -> Path:
    """A temporary copy of notebooks/ and data/ (JupyterLab's root; data/ is never touched)."""
    root = tmp_path_factory.mktemp("lab-root")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "snapshots")
    shutil.copytree(harness.ROOT / "notebooks", root / "notebooks", ignore=ignore)
    shutil.copytree(harness.ROOT / "data", root / "data", ignore=ignore)
    (root / "scratch").mkdir()
    return root


@pytest.fixture(scope="package")
def lab(browser_context, lab_root, tmp_path_factory):
    """One real ``jupyter lab`` for all the browser tests; stopped afterwards, also after a failure."""
    server = harness.start_lab(lab_root, tmp_path_factory.mktemp("lab-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def app_history(tmp_path_factory) -> Path:
    """The history the app serves: a copy of the demo, in a folder of its own."""
    folder = tmp_path_factory.mktemp("app-history")
    shutil.copyfile(harness.ROOT / "data" / "demo.db", folder / "demo.db")
    return folder / "demo.db"


@pytest.fixture(scope="package")
def app(browser_context, app_history, tmp_path_factory):
    """The Voila app of ``make app`` on ``app_history``; stopped afterwards."""
    server = harness.start_app(app_history, tmp_path_factory.mktemp("app-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser_context, request):
    """A new tab; when the test fails, a last screenshot of it joins the step screenshots."""
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        folder = getattr(request.node, "screenshots", None)
        if report is not None and report.failed and folder is not None:
            with contextlib.suppress(Exception):  # the page may be gone with the failure
                page.screenshot(path=str(folder / "99-at-failure.png"), full_page=True)
        page.close()


@pytest.fixture
def steps(request) -> harness.Steps:
    """Screenshots of each step in tests/browser/screenshots/<test>/ (named on failure)."""
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    shots = harness.Steps(SCREENSHOTS / name)
    request.node.screenshots = shots.folder
    return shots
