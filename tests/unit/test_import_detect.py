"""Format detection: `rpkit import PATH DB` says what it took the file for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.cli import main
from rpkit.importers import FORMATS, detect_format, import_file

from ..helpers import EXPORTS, ROOT

DATASETS = ROOT / "tests" / "fixtures" / "datasets"

SAMPLES = {
    "sillytavern/Mira - 2024-6-5@14h56m50s.jsonl": "sillytavern",
    "sillytavern": "sillytavern",
    "chatgpt/conversations.json": "chatgpt",
    "chatgpt": "chatgpt",
    "sharegpt/roleplay.json": "sharegpt",
    "claude/conversations.json": "claude",
    "claude": "claude",
    "agnai/night-market.json": "agnai",
    "jsonl/roleplay.jsonl": "jsonl",
}
DATASET_SAMPLES = {
    "pippa.jsonl": "pippa",
    "wildchat.jsonl": "wildchat",
    "wildchat-extra-column.parquet": "wildchat",
    "lmsys.jsonl.gz": "lmsys",
    "lmsys.jsonl.zst": "lmsys",
    "arena.json": "arena",
    "arena-parquet": "arena",
    "preference.jsonl": "preference",
    "hh-rlhf.jsonl": "hh_rlhf",
    "logs": "textgen",
    "logs/chat/Shopkeeper/20250105-14-30-00.json": "textgen",
    "cai-tools.json": "cai",
    "cai-site.json": "cai",
}


@pytest.mark.parametrize("name", sorted(DATASET_SAMPLES))
def test_every_dataset_fixture_is_recognised(name):
    assert detect_format(DATASETS / name) == DATASET_SAMPLES[name]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_is_recognised(name):
    assert detect_format(EXPORTS / name) == SAMPLES[name]


def test_every_format_has_a_sample():
    assert set(SAMPLES.values()) | set(DATASET_SAMPLES.values()) == set(FORMATS)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([{"chat_metadata": {}, "user_name": "unused", "character_name": "unused"}], "sillytavern"),
        ([{"user_name": "You", "character_names": ["A", "B"], "create_date": 1}], "sillytavern"),
        ([{"name": "A", "is_user": False, "is_system": "", "mes": "hi"}], "sillytavern"),
        ([{"conversations": [{"from": "human", "value": "hi"}]}], "sharegpt"),
        ([{"messages": [{"role": "user", "content": "hi"}]}], "jsonl"),
    ],
)
def test_json_lines_are_judged_by_their_first_line(tmp_path, lines, expected):
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert detect_format(path) == expected


def test_a_group_definition_alone_is_refused_saying_what_it_is(tmp_path):
    path = tmp_path / "1721443860861.json"
    path.write_text(json.dumps({"id": "1", "name": "Pub", "members": ["A.png"], "chats": ["c"]}))
    with pytest.raises(rpkit.ImportFormatError, match="SillyTavern group definition"):
        detect_format(path)
    with pytest.raises(rpkit.ImportFormatError, match="SillyTavern group definition"):
        import_file(tmp_path / "h.db", "sillytavern", path)
    assert not (tmp_path / "h.db").exists()


def test_no_match_lists_the_formats_and_the_nearest(tmp_path):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps([{"title": "x", "create_time": 1.5, "nodes": {}}]))
    with pytest.raises(rpkit.ImportFormatError) as err:
        detect_format(path)
    message = str(err.value)
    assert message.startswith("odd.json: ")
    for fmt in FORMATS:
        assert fmt in message
    assert "the nearest match is chatgpt" in message and "create_time, title" in message
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(rpkit.ImportFormatError, match="notes.txt: neither JSON nor JSON lines"):
        detect_format(text)


def test_cli_import_without_a_format(tmp_path):
    folder = Path(shutil.copytree(EXPORTS, tmp_path / "exports"))
    db = tmp_path / "h.db"
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(folder / "claude" / "conversations.json"), str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("conversations.json: detected claude (a Claude.ai")
    assert "chats             2 new" in result.output
    again = runner.invoke(main, ["import", "claude", str(folder / "claude"), str(db)])
    assert again.exit_code == 0 and "already imported  6 messages" in again.output
    result = runner.invoke(main, ["import", str(folder / "sillytavern"), str(db), "--skip-bad"])
    assert result.exit_code == 0 and "detected sillytavern" in result.output


def test_cli_unknown_format_and_undetectable_file(tmp_path):
    runner = CliRunner()
    odd = tmp_path / "odd.json"
    odd.write_text("{}")
    db = tmp_path / "h.db"
    result = runner.invoke(main, ["import", "whatsapp", str(odd), str(db)])
    assert result.exit_code != 0 and "unknown export format 'whatsapp'" in result.output
    result = runner.invoke(main, ["import", str(odd), str(db)])
    assert result.exit_code != 0 and "matches none of the formats" in result.output
    assert not db.exists()


def test_cli_a_folder_named_like_a_format_is_detected(tmp_path, monkeypatch):
    shutil.copytree(EXPORTS / "claude", tmp_path / "claude")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["import", "claude", "h.db"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("claude: detected claude")
