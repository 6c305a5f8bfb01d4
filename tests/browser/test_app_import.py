"""The Voila app on a classified import, in Chromium: the affinity chart spreads over the turns.

A user imports the SillyTavern sample folder with ``rpkit import``, derives affinity
with ``rpkit classify`` (both run as commands) and opens the app on the history.
``classify`` appends every update after every turn of the log; each must still be
drawn at the turn it was derived from, not all at the last turn (one vertical line).
The page's chart is a picture, so the test reads the chart's points table (under the
picture, read back from the drawn lines) and compares it with the log.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from itertools import accumulate
from pathlib import Path

import pytest

from .harness import ROOT, query, start_app, unexpected_requests, wait_for, wait_visible
from .panels import AffinityExplorerPage, loaded_size

pytestmark = pytest.mark.browser

TURN_KINDS = "('user_turn', 'assistant_turn')"


@pytest.fixture(scope="module")
def classified_import(tmp_path_factory) -> Path:
    """A history made as a user makes it: ``rpkit import`` of a copy, then ``rpkit classify``."""
    folder = tmp_path_factory.mktemp("classified-import")
    exports = shutil.copytree(ROOT / "data" / "exports" / "sillytavern", folder / "sillytavern")
    db = folder / "history.db"
    cli = str(Path(sys.executable).with_name("rpkit"))
    for args in (["import", str(exports), str(db)], ["classify", str(db)]):
        done = subprocess.run([cli, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"rpkit {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return db


@pytest.fixture(scope="module")
def import_app(browser_context, classified_import, tmp_path_factory):
    server = start_app(classified_import, tmp_path_factory.mktemp("import-app-home"))
    try:
        yield server
    finally:
        server.stop()


def expected_points(db: Path, x: str) -> list[tuple[str, float, float]]:
    """(pair, x, running affinity) of each live update, from the log alone.

    On ``x="turn"`` an update sits at the number of live turns up to the turn it was
    derived from (its ``cause_id``); on ``x="event"`` at that turn's id.
    """
    rows = query(
        db,
        "SELECT json_extract(u.payload, '$.src') || ' → ' || json_extract(u.payload, '$.dst'), "
        "u.cause_id, (SELECT COUNT(*) FROM event_log t WHERE t.kind IN "
        f"{TURN_KINDS} AND t.superseded_by IS NULL AND t.id <= u.cause_id), "
        "json_extract(u.payload, '$.delta') "
        "FROM event_log u WHERE u.kind = 'edge_update' AND u.superseded_by IS NULL ORDER BY u.id",
    )
    points = []
    for pair in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == pair]
        running = accumulate(r[3] for r in mine)
        points += [
            (pair, float(r[2] if x == "turn" else r[1]), total)
            for r, total in zip(mine, running, strict=True)
        ]
    return points


def shown_points(page) -> list[tuple[str, float, float]]:
    """(pair, x, affinity) of each row of the chart's points table on the page."""
    rows = page.locator(".rpkit-affinity .rpkit-chart-points tr[data-pair]").evaluate_all(
        "rows => rows.map(r => [r.dataset.pair, Number(r.dataset.x), Number(r.dataset.y)])"
    )
    return [tuple(r) for r in rows]


def same_points(shown, expected) -> bool:
    return len(shown) == len(expected) and all(
        s[0] == e[0] and s[1] == e[1] and abs(s[2] - e[2]) < 1e-5
        for s, e in zip(shown, expected, strict=True)
    )


def test_the_app_charts_a_classified_import_over_its_turns(
    import_app, classified_import, page, steps
):
    db = classified_import
    (last_turn,) = query(db, f"SELECT MAX(id) FROM event_log WHERE kind IN {TURN_KINDS}")[0]
    updates = query(db, "SELECT id FROM event_log WHERE kind = 'edge_update'")
    # the case of the issue: every update comes after every turn in the log
    assert len(updates) == 15 and all(u > last_turn for (u,) in updates)
    by_turn = expected_points(db, "turn")
    pairs = len({p[0] for p in by_turn})

    page.goto(import_app.url("/"))
    wait_visible(page, ".rpkit-affinity img.widget-image", "the app's affinity chart")
    explorer = AffinityExplorerPage(page.locator(".rpkit-affinity").first)
    explorer.wait_status(f"{pairs} pair(s), x = turn, {len(updates)} updates.")
    w, h = loaded_size("the chart's picture", explorer.chart)
    assert w >= 600 and h >= 200, (w, h)
    steps.shot(page, "loaded")

    # the default chart (x = turn): each update at the turn it was derived from
    wait_for("the chart's points", lambda: shown_points(page), 30)
    shown = shown_points(page)
    assert same_points(shown, by_turn), (shown, by_turn)
    turns = sorted({x for _, x, _ in shown})
    assert len(turns) == len(updates)  # one turn per update here: not one vertical line
    assert turns[0] <= 2 and turns[-1] == 18, turns  # from the first turns to the last
    page.locator(".rpkit-chart-points summary").first.click()
    steps.shot(page, "points-table")

    # the event axis places them at their turns' ids
    explorer.x_button("event").click()
    explorer.wait_status(f"{pairs} pair(s), x = event, {len(updates)} updates.")
    by_event = expected_points(db, "event")
    wait_for(
        "the chart's points on the event axis",
        lambda: same_points(shown_points(page), by_event),
        30,
    )
    assert max(x for _, x, _ in shown_points(page)) <= last_turn
    steps.shot(page, "event-axis")
    assert not page.js_errors, page.js_errors
    assert not unexpected_requests(page.context), unexpected_requests(page.context)
