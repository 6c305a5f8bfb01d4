"""Counts in messages and reports read as English: "1 event", "2 events"."""

from __future__ import annotations

import pytest

import rpkit
from rpkit import frames
from rpkit.display import counted
from rpkit.store import head_id


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [
        (0, "event", None, "0 events"),
        (1, "event", None, "1 event"),
        (2, "event", None, "2 events"),
        (1, "history", "histories", "1 history"),
        (205, "history", "histories", "205 histories"),
        (1, "retired event", None, "1 retired event"),
    ],
)
def test_counted_is_singular_only_for_one(n, noun, plural, expected):
    assert counted(n, noun, plural) == expected


def test_a_rewind_of_one_event_says_one_event(demo_path):
    with rpkit.open_db(demo_path) as conn:
        preview = frames.rewind_preview(conn, head_id(conn) - 1)
    assert preview.preview["total_events"] == 1
    assert "removes 1 event (" in preview.summary()
