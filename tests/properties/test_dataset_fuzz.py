"""Fuzzed dataset readers: any JSON value in any field of each dataset fixture.

As ``test_import_fuzz`` does for the app exports: the outcome is a clean import
(which a second import does not repeat) or an ImportFormatError naming the
file (and, for a record, the record); never a traceback, never a half-written
history.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rpkit
from rpkit.importers import import_file

from ..helpers import ROOT, file_state
from .test_import_fuzz import FUZZ, JSON, _log, _places, _put, history  # noqa: F401

DATASETS = ROOT / "tests" / "fixtures" / "datasets"
SAMPLES = {  # format: (fixture, JSON lines?)
    "pippa": ("pippa.jsonl", True),
    "wildchat": ("wildchat.jsonl", True),
    "lmsys": ("lmsys.jsonl.gz", True),
    "arena": ("arena.json", False),
    "preference": ("preference.jsonl", True),
    "hh_rlhf": ("hh-rlhf.jsonl", True),
    "textgen": ("logs/chat/Shopkeeper/20250105-14-30-00.json", False),
    "cai": ("cai-site.json", False),
}
RECORD = ("line ", "record ", "chat ", "the log")


def _load(fmt: str) -> Any:
    name, lines = SAMPLES[fmt]
    path = DATASETS / name
    if name.endswith(".gz"):
        import gzip

        text = gzip.decompress(path.read_bytes()).decode()
    else:
        text = path.read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()] if lines else json.loads(text)


def _dump(fmt: str, doc: Any) -> bytes:
    lines = SAMPLES[fmt][1] and isinstance(doc, list)
    text = "".join(json.dumps(x) + "\n" for x in doc) if lines else json.dumps(doc)
    if SAMPLES[fmt][0].endswith(".gz"):
        import gzip

        return gzip.compress(text.encode(), mtime=0)
    return text.encode()


def _attempt(base: Path, fmt: str, data: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(shutil.copyfile(base, Path(tmp) / "h.db"))
        path = Path(tmp) / "logs" / "chat" / "Shopkeeper" / Path(SAMPLES[fmt][0]).name
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
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
@settings(FUZZ, max_examples=30)
@given(data=st.data(), value=JSON, delete=st.booleans())
def test_any_json_value_in_any_field_of_a_dataset(history, fmt, data, value, delete):  # noqa: F811
    doc = _load(fmt)
    places = _places(doc)
    at = places[data.draw(st.integers(0, len(places) - 1), label="place")]
    _attempt(history, fmt, _dump(fmt, _put(doc, at, value, delete)))


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_the_unchanged_dataset_fixtures_import(history, fmt):  # noqa: F811
    assert _attempt(history, fmt, _dump(fmt, _load(fmt))) == "imported"


def test_a_bad_record_is_named(tmp_path):
    path = tmp_path / "wildchat.jsonl"
    good = _load("wildchat")
    good[1]["conversation"] = "not a list"
    path.write_text("".join(json.dumps(x) + "\n" for x in good))
    with pytest.raises(rpkit.ImportFormatError, match=r"wildchat.jsonl: line 2: the conversation"):
        import_file(tmp_path / "h.db", "wildchat", path)
    report = import_file(tmp_path / "h.db", "wildchat", path, skip_bad=True)
    assert report.records == 4 and len(report.bad_records) == 1
