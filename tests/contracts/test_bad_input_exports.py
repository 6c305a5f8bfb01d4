"""Bad input to the exports (DESIGN §13): a specific error, a message that says what to do, nothing written.

Each case checks the output folder byte for byte (no partial file, no
temporary file left behind, an existing output unchanged) and the history
file byte for byte, through the library and through ``rpkit export``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit import exports
from rpkit.cli import main
from rpkit.errors import RpkitError, UnknownChatError

from ..helpers import file_state


def folder_state(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def out_dir(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "taken.jsonl").write_bytes(b'{"kept": true}\n')
    (out / "taken.html").write_bytes(b"<p>kept</p>")
    return out


CASES = [
    ("unknown kind", "alpaca", "a.jsonl", {}, exports.UnknownExportError, "alpaca"),
    ("suffix fits no format", "messages", "a.csv", {}, exports.ExportFormatError, ".csv"),
    ("no suffix", "preferences", "pairs", {}, exports.ExportFormatError, "(none)"),
    ("sharegpt as parquet", "sharegpt", "a.parquet", {}, exports.ExportFormatError, ".json"),
    ("transcript as txt", "transcript", "a.txt", {"chat_id": 1}, exports.ExportFormatError, ".md"),
    ("output exists", "messages", "taken.jsonl", {}, exports.ExportExistsError, "replace"),
    (
        "html exists",
        "transcript",
        "taken.html",
        {"chat_id": 1},
        exports.ExportExistsError,
        "replace",
    ),
    ("folder missing", "messages", "nowhere/a.jsonl", {}, exports.ExportPathError, "nowhere"),
    ("unknown chat", "transcript", "a.html", {"chat_id": 99}, UnknownChatError, "99"),
    (
        "names not a dict",
        "messages",
        "a.jsonl",
        {"names": ["Wren"]},
        exports.ExportNamesError,
        "list",
    ),
    (
        "names to an int",
        "preferences",
        "a.jsonl",
        {"names": {"Wren": 1}},
        exports.ExportNamesError,
        "'Wren'",
    ),
    ("names from an int", "convokit", "ck", {"names": {3: "x"}}, exports.ExportNamesError, "3"),
    (
        "names to empty",
        "messages",
        "a.parquet",
        {"names": {"Wren": " "}},
        exports.ExportNamesError,
        "non-empty",
    ),
    (
        "paths unknown",
        "messages",
        "a.jsonl",
        {"paths": "some"},
        exports.ExportArgumentError,
        "'some'",
    ),
    (
        "context negative",
        "preferences",
        "a.jsonl",
        {"context": -1},
        exports.ExportArgumentError,
        "-1",
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "options", "error", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_export_raises_and_writes_nothing(
    demo_path, out_dir, kind, name, options, error, named
):
    before, history = folder_state(out_dir), file_state(demo_path)
    with rpkit.open_db(demo_path) as conn, pytest.raises(error) as caught:
        exports.export(kind, conn, out_dir / name, **options)
    assert isinstance(caught.value, RpkitError)
    assert named in str(caught.value)
    assert folder_state(out_dir) == before
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(Path(k).name for k in before)
    assert file_state(demo_path) == history


CLI_CASES = [
    ("suffix", ["messages", "{db}", "{out}/a.csv"], ".csv"),
    ("exists", ["preferences", "{db}", "{out}/taken.jsonl"], "--replace"),
    ("unknown chat", ["transcript", "{db}", "{out}/a.md", "--chat", "99"], "99"),
    ("no chat", ["transcript", "{db}", "{out}/a.md"], "--chat"),
    ("chat for messages", ["messages", "{db}", "{out}/a.jsonl", "--chat", "1"], "--chat"),
    ("name without =", ["messages", "{db}", "{out}/a.jsonl", "--name", "Wren"], "OLD=NEW"),
]


@pytest.mark.parametrize(
    ("args", "named"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_bad_export_command_exits_1_and_writes_nothing(demo_path, out_dir, args, named):
    before, history = folder_state(out_dir), file_state(demo_path)
    argv = ["export", *(a.format(db=demo_path, out=out_dir) for a in args)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1, result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert folder_state(out_dir) == before
    assert file_state(demo_path) == history


def test_a_failing_write_leaves_no_partial_file(demo_path, out_dir, monkeypatch):
    """A write that fails half way (here: the disk full after some rows) leaves nothing."""
    from rpkit.exports import rows

    real = rows.orjson.dumps
    calls = {"n": 0}

    def failing(obj, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(obj, *a, **k)

    before = folder_state(out_dir)
    monkeypatch.setattr(rows.orjson, "dumps", failing)
    with rpkit.open_db(demo_path) as conn, pytest.raises(OSError):
        exports.messages(conn, out_dir / "taken.jsonl", replace=True)
    assert folder_state(out_dir) == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["taken.html", "taken.jsonl"]
