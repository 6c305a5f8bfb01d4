"""Draw docs/app.png, the README's picture of the app: ``make app-screenshot``.

It serves the app (as ``make app`` does) on a copy of the demo history, opens it in
Debian's headless Chromium, picks chat 3 and the turn an edit replaced, presses
Preview, and takes the screenshot. Nothing in data/ changes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import harness  # noqa: E402
from tests.browser.panels import RewindPanelPage, natural_size  # noqa: E402

OUT = ROOT / "docs" / "app.png"


def main() -> int:
    reason = harness.missing_browser_reason()
    if reason:
        print(reason)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="rpkit-shot-") as tmp:
        work = Path(tmp)
        (work / "history").mkdir()
        db = work / "history" / "demo.db"
        shutil.copyfile(ROOT / "data" / "demo.db", db)
        server = harness.start_app(db, work / "home")
        try:
            with sync_playwright() as playwright:
                context = harness.launch_chromium(playwright, work / "profile")
                page = context.new_page()
                page.set_viewport_size({"width": 1400, "height": 1150})
                page.goto(server.url("/"))
                harness.wait_visible(page, ".rpkit-rewind .widget-html", "the app's widgets")
                panel = RewindPanelPage(page.locator(".rpkit-rewind").first)
                panel.wait_status("3 chats.")
                panel.pick_chat(3)
                panel.show_retired.check()
                panel.pick_turn(24, retired=True)
                panel.preview_button.click()
                panel.wait_status("Preview of a rewind to turn #24")
                harness.wait_for("the preview chart", lambda: natural_size(panel.chart)[0], 30)
                page.locator(".rpkit-transcript tr[data-event='291']").scroll_into_view_if_needed()
                page.evaluate("window.scrollTo(0, 0)")
                OUT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(OUT))
                context.close()
        finally:
            server.stop()
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
