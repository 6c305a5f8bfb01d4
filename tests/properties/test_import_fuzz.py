"""Fuzzed importers: any JSON value in any field of a real-shaped export.

Each example takes a sample export, puts an arbitrary JSON value at one place
in it (or deletes that field), and imports it into a history that already holds
another chat. The outcome is a clean import, which a second import does not
repeat, or an ImportFormatError naming the file; never a traceback, never a
half-written history.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit.importers import import_file
from rpkit.store.sqlite import sqlite3

from ..helpers import EXPORTS, file_state

SAMPLES = {
    "claude": (EXPORTS / "claude" / "conversations.json", False),
    "agnai": (EXPORTS / "agnai" / "night-market.json", False),
    "jsonl": (EXPORTS / "jsonl" / "roleplay.jsonl", True),
    "sillytavern": (EXPORTS / "sillytavern" / "Mira - 2024-6-5@14h56m50s.jsonl", True),
}
KEYS = [
    "messages", "msg", "characterId", "userId", "handle", "name", "retries", "ooc", "createdAt",
    "chat_messages", "sender", "content", "text", "type", "thinking", "attachments", "files",
    "uuid", "parent_message_uuid", "created_at", "role", "tool_calls", "timestamp", "model",
    "id", "mes", "is_user", "is_system", "swipes", "swipe_id", "swipe_info", "swipes_info",
    "send_date", "extra", "reasoning", "user_name", "character_name", "character_names",
    "chat_metadata", "members", "chats",
]  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "human", "assistant", "user", "system", "tool", "text", "imported"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _load(fmt: str) -> Any:
    path, lines = SAMPLES[fmt]
    text = path.read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()] if lines else json.loads(text)


def _places(doc: Any, at: tuple = ()) -> list[tuple]:
    """Every path to a value in ``doc`` (the root included)."""
    out = [at]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _places(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _places(value, (*at, i))
    return out


def _put(doc: Any, at: tuple, value: Any, delete: bool) -> Any:
    if not at:
        return value
    parent = doc
    for step in at[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[at[-1]]
    else:
        parent[at[-1]] = value
    return doc


def _dump(fmt: str, doc: Any) -> str:
    if SAMPLES[fmt][1] and isinstance(doc, list):
        return "".join(json.dumps(x) + "\n" for x in doc)
    return json.dumps(doc)


def _log(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT * FROM event_log ORDER BY id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """A history that already holds a chat from another export."""
    db = tmp_path_factory.mktemp("fuzz") / "base.db"
    import_file(db, "sharegpt", EXPORTS / "sharegpt" / "roleplay.json")
    return db


def _attempt(history: Path, fmt: str, text: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(shutil.copyfile(history, Path(tmp) / "h.db"))
        path = Path(tmp) / SAMPLES[fmt][0].name
        path.write_text(text, encoding="utf-8")
        before, log_before = file_state(db), _log(db)
        try:
            report = import_file(db, fmt, path)
        except rpkit.ImportFormatError as exc:
            assert path.name in str(exc), str(exc)
            assert file_state(db) == before
            return "refused"
        log_after = _log(db)
        assert log_after[: len(log_before)] == log_before
        assert len(log_after) - len(log_before) == report.events
        assert import_file(db, fmt, path).events == 0
        with rpkit.open_db(db) as conn:
            assert rpkit.verify(conn).ok
        return "imported"


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
@FUZZ
@given(data=st.data(), value=JSON, delete=st.booleans())
def test_any_json_value_in_any_field(history, fmt, data, value, delete):
    doc = _load(fmt)
    places = _places(doc)
    at = places[data.draw(st.integers(0, len(places) - 1), label="place")]
    _attempt(history, fmt, _dump(fmt, _put(doc, at, value, delete)))


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_the_unchanged_samples_import(history, fmt):
    assert _attempt(history, fmt, _dump(fmt, _load(fmt))) == "imported"
