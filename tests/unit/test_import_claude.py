"""Claude.ai exports: text blocks are the transcript, thinking and files go to the payload."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

import rpkit
from rpkit.importers import import_claude, import_file

from ..helpers import EXPORTS, file_state

SAMPLE = EXPORTS / "claude" / "conversations.json"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return Path(shutil.copyfile(SAMPLE, tmp_path / "conversations.json"))


def turns(conn, chat_id: int, *, live: bool = True) -> list[dict]:
    where = "AND superseded_by IS NULL" if live else ""
    return [
        {**json.loads(p), "id": i, "kind": k, "ts": ts, "superseded_by": sup}
        for i, k, p, ts, sup in conn.execute(
            "SELECT id, kind, payload, ts, superseded_by FROM event_log WHERE chat_id = ? "
            f"AND kind IN ('user_turn', 'assistant_turn') {where} ORDER BY id",
            (chat_id,),
        )
    ]


def shown(message: dict) -> str:
    """What Claude.ai shows of a message: its text blocks (or the flat text of old exports)."""
    blocks = [b["text"] for b in message["content"] if b["type"] == "text"]
    return "".join(blocks) if message["content"] else message["text"]


def test_sample_transcripts_are_what_claude_shows(conn, sample):
    report = import_claude(conn, sample)
    assert (report.chats, report.turns, report.retired, report.bots) == (2, 6, 0, 1)
    assert report.warnings == []
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    for chat_id, conv in enumerate(data, start=1):
        got = turns(conn, chat_id)
        assert [t["text"] for t in got] == [shown(m) for m in conv["chat_messages"]]
        assert [t["kind"] for t in got] == [
            "user_turn" if m["sender"] == "human" else "assistant_turn"
            for m in conv["chat_messages"]
        ]
        assert [datetime.fromisoformat(t["ts"]) for t in got] == [
            datetime.fromisoformat(m["created_at"]) for m in conv["chat_messages"]
        ]
    assert conn.execute("SELECT title FROM chats ORDER BY id").fetchall() == [
        ("Lighthouse keeper",),
        ("Untitled conversation",),
    ]
    assert conn.execute("SELECT id, name FROM bots").fetchall() == [("claude", "Claude")]
    assert rpkit.verify(conn).ok


def test_thinking_and_files_are_in_the_payload_not_the_text(conn, sample):
    import_claude(conn, sample)
    answer, question = turns(conn, 1)[1], turns(conn, 1)[2]
    assert answer["thinking"] == "The user wants a keeper who is wary but kind."
    assert "wary" not in answer["text"]
    assert question["attachments"] == [
        {"file_name": "letter.txt", "file_type": "txt", "file_size": 212}
    ]
    assert question["files"] == [{"file_name": "harbour-seal.png"}]


def test_reimport_adds_nothing(conn, sample):
    import_claude(conn, sample)
    again = import_claude(conn, sample)
    assert (again.events, again.already_imported) == (0, 6)


ROOT = "00000000-0000-4000-8000-000000000000"


def _message(uuid: str, sender: str, text: str, parent: str, minute: int) -> dict:
    return {
        "uuid": uuid,
        "text": text,
        "content": [{"type": "text", "text": text}],
        "sender": sender,
        "created_at": f"2025-01-01T10:{minute:02d}:00Z",
        "parent_message_uuid": parent,
        "attachments": [],
        "files": [],
    }


def test_branches_are_retired_by_the_newest_line(conn, tmp_path):
    """An edited question (a sibling of the first) retires the first and its answer."""
    conv = {
        "uuid": "c-1",
        "name": "Edited",
        "created_at": "2025-01-01T10:00:00Z",
        "chat_messages": [
            _message("q1", "human", "Tell me a sea story.", ROOT, 0),
            _message("a1", "assistant", "Once, a gull...", "q1", 1),
            _message("q2", "human", "Tell me a short sea story.", ROOT, 2),
            _message("a2", "assistant", "Salt. Wind. Home.", "q2", 3),
        ],
    }
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]), encoding="utf-8")
    report = import_claude(conn, path)
    assert (report.turns, report.retired) == (4, 2)
    live = turns(conn, 1)
    assert [t["text"] for t in live] == ["Tell me a short sea story.", "Salt. Wind. Home."]
    every = {t["source"]["ref"]: t for t in turns(conn, 1, live=False)}
    assert every["q1"]["superseded_by"] == every["q2"]["id"]
    assert every["a1"]["superseded_by"] == every["q2"]["id"]
    assert every["q2"]["revision"] == "sibling"
    assert (import_claude(conn, path).events, rpkit.verify(conn).ok) == (0, True)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d[0]["chat_messages"][1].update(sender="robot"), ["message 1", "'robot'"]),
        (lambda d: d[0]["chat_messages"][2].update(content="x"), ["message 2", "list of blocks"]),
        (lambda d: d[1].update(chat_messages={}), ["conversation 1", "chat_messages"]),
    ],
)
def test_bad_records_are_refused_and_nothing_is_written(db_path, sample, change, words):
    with rpkit.open_db(db_path) as conn:
        import_claude(conn, sample)
    data = json.loads(sample.read_text(encoding="utf-8"))
    change(data)
    bad = sample.with_name("bad.json")
    bad.write_text(json.dumps(data), encoding="utf-8")
    before = file_state(db_path)
    with pytest.raises(rpkit.ImportFormatError) as err:
        import_file(db_path, "claude", bad)
    for word in ["bad.json", *words]:
        assert word in str(err.value)
    assert file_state(db_path) == before


def test_a_chatgpt_export_is_named(conn, tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"mapping": {}, "title": "x"}]), encoding="utf-8")
    with pytest.raises(rpkit.ImportFormatError, match="looks like ChatGPT"):
        import_claude(conn, path)
