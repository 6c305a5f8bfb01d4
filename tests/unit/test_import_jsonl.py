"""JSON-lines conversation datasets: a chat a line, streamed, content strings or parts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rpkit
from rpkit.importers import import_file, import_jsonl, jsonl

from ..helpers import EXPORTS, file_state

SAMPLE = EXPORTS / "jsonl" / "roleplay.jsonl"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return Path(shutil.copyfile(SAMPLE, tmp_path / SAMPLE.name))


def live(conn, chat_id: int) -> list[dict]:
    return [
        {**json.loads(p), "kind": k, "ts": ts}
        for k, p, ts in conn.execute(
            "SELECT kind, payload, ts FROM event_log WHERE chat_id = ? AND kind IN "
            "('user_turn', 'assistant_turn') AND superseded_by IS NULL ORDER BY id",
            (chat_id,),
        )
    ]


def shown(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if p.get("type") == "text")
    return content or ""


def test_sample_transcripts(conn, sample):
    report = import_jsonl(conn, sample)
    assert (report.chats, report.turns, report.retired, report.hidden) == (3, 9, 3, 3)
    conversations = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    for chat_id, conv in enumerate(conversations, start=1):
        expected = [
            shown(m)
            for m in conv["messages"]
            if m["role"] in ("user", "assistant") and m.get("content")
        ]
        assert [t["text"] for t in live(conn, chat_id)] == expected
    first = live(conn, 1)
    assert first[1]["model"] == "gpt-4o-mini" and first[0]["ts"] == "2024-11-20T21:15:00.000000Z"
    assert live(conn, 2)[0]["ts"] == "2024-11-20T21:20:00.000000Z"  # epoch seconds
    chats = conn.execute(
        "SELECT json_extract(payload, '$.title'), json_extract(payload, '$.conversation_id'), "
        "json_extract(payload, '$.model') FROM event_log WHERE kind = 'chat_created'"
    ).fetchall()
    assert chats == [
        ("rp-001: Captain, the port engine is smoking.", "rp-001", "gpt-4o-mini"),
        ("rp-002: Describe the map I found.", "rp-002", None),
        ("Roll for the lock.", None, None),
    ]
    assert sorted(report.warnings) == [
        "image and other non-text parts left out (only text is imported) "
        "(roleplay.jsonl line 2, message 0)",
        "lines without a timestamp: their turns are stamped with the time of the import "
        "(roleplay.jsonl)",
    ]
    assert rpkit.verify(conn).ok


def test_system_tool_calls_and_tool_output_are_hidden_turns(conn, sample):
    import_jsonl(conn, sample)
    hidden = conn.execute(
        "SELECT chat_id, json_extract(payload, '$.text'), json_extract(payload, '$.role'), "
        "json_extract(payload, '$.tool_calls') FROM event_log WHERE hidden = 1 ORDER BY id"
    ).fetchall()
    assert hidden == [
        (1, "You are Captain Ilse Varga of the airship Kestrel.", "system", None),
        (3, "", None, '["roll_dice"]'),
        (3, "17", "tool", None),
    ]


def test_reimport_adds_nothing_and_a_grown_file_adds_its_new_lines(conn, sample):
    import_jsonl(conn, sample)
    assert import_jsonl(conn, sample).events == 0
    line = {"messages": [{"role": "user", "content": "And then?"}]}
    with sample.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    grown = import_jsonl(conn, sample)
    assert (grown.chats, grown.turns, grown.already_imported) == (1, 1, 9)


def test_the_file_is_streamed_never_read_whole(conn, sample, monkeypatch):
    def whole(*args, **kwargs):
        raise AssertionError("the JSON-lines importer read the whole file")

    monkeypatch.setattr(Path, "read_bytes", whole)
    monkeypatch.setattr(Path, "read_text", whole)
    parsed = jsonl.read(sample)
    assert not isinstance(parsed.chats, list)  # a plan that reads the file again
    assert parsed.records() == 9
    report = import_file(sample.with_name("streamed.db"), "jsonl", sample)
    assert (report.chats, report.turns) == (3, 9)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{oops", ["line 2", "not JSON"]),
        ('{"messages": 3}', ["line 2", "not a conversation"]),
        ('{"messages": [{"role": "wizard", "content": "x"}]}', ["line 2, message 0", "'wizard'"]),
        ('{"messages": [{"role": "user", "content": 5}]}', ["line 2, message 0", "content"]),
        ('{"messages": [{"role": "user", "content": [{"type": "text"}]}]}', ["line 2", "text"]),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_written(db_path, sample, line, words):
    with rpkit.open_db(db_path) as conn:
        import_jsonl(conn, sample)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[1] = line
    bad = sample.with_name("bad.jsonl")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = file_state(db_path)
    with pytest.raises(rpkit.ImportFormatError) as err:
        import_file(db_path, "jsonl", bad)
    for word in ["bad.jsonl", *words]:
        assert word in str(err.value)
    assert file_state(db_path) == before
    report = import_file(db_path, "jsonl", bad, skip_bad=True)
    assert len(report.bad_records) == 1 and report.bad_records[0].startswith("bad.jsonl: line 2")


def test_a_json_document_is_named_not_refused_at_line_one(conn, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps([{"mapping": {}, "title": "x"}], indent=1), encoding="utf-8")
    with pytest.raises(rpkit.ImportFormatError, match="looks like ChatGPT"):
        import_jsonl(conn, path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}, indent=1))
    with pytest.raises(rpkit.ImportFormatError, match="one JSON document, not JSON lines"):
        import_jsonl(conn, path)


def test_a_sillytavern_chat_is_named(conn, tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"name": "Bo", "is_user": True, "mes": "hi"}) + "\n")
    with pytest.raises(rpkit.ImportFormatError, match="looks like SillyTavern"):
        import_jsonl(conn, path)
