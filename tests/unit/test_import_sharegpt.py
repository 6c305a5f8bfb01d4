"""ShareGPT datasets: a chat per conversation, system prompts hidden, no dates."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.cli import main
from rpkit.importers import import_sharegpt

from ..helpers import ROOT, file_state, sql_dump

SAMPLE = ROOT / "data" / "exports" / "sharegpt" / "roleplay.json"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return Path(shutil.copyfile(SAMPLE, tmp_path / "roleplay.json"))


def transcript(conn, chat_id: int) -> list[str]:
    return [
        json.loads(p)["text"]
        for (p,) in conn.execute(
            "SELECT payload FROM event_log WHERE chat_id = ? AND kind IN "
            "('user_turn', 'assistant_turn') AND superseded_by IS NULL ORDER BY id",
            (chat_id,),
        )
    ]


def test_sample(conn, sample):
    before = datetime.now(UTC)
    report = import_sharegpt(conn, sample)
    assert (report.chats, report.turns, report.retired, report.hidden, report.bots) == (
        3,
        12,
        2,
        2,
        1,
    )
    assert report.warnings == [
        "ShareGPT has no dates: every turn is stamped with the time of the import (roleplay.json)"
    ]
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    for chat_id, conv in enumerate(data, start=1):
        expected = [m["value"] for m in conv["conversations"] if m["from"] != "system"]
        assert transcript(conn, chat_id) == expected
    kinds = [
        k
        for (k,) in conn.execute(
            "SELECT kind FROM event_log WHERE chat_id = 1 AND superseded_by IS NULL "
            "AND kind LIKE '%turn' ORDER BY id"
        )
    ]
    assert kinds == ["user_turn", "assistant_turn"] * 2
    assert conn.execute("SELECT title FROM chats ORDER BY id").fetchall() == [
        ("rp_0: Sable, I know you took the ring. Just give it back.",),
        ("rp_1: Corvin, you saved my life today. I am grateful.",),
        ("rp_2: Mira, the stew tonight is wonderful!",),
    ]
    stamps = {
        datetime.fromisoformat(ts.replace("Z", "+00:00"))
        for (ts,) in conn.execute("SELECT ts FROM event_log")
    }
    assert len(stamps) == 1 and before <= stamps.pop() <= datetime.now(UTC)
    assert rpkit.verify(conn).ok


def test_system_prompts_are_hidden_turns(conn, sample):
    import_sharegpt(conn, sample)
    rows = conn.execute(
        "SELECT e.chat_id, json_extract(e.payload, '$.text'), json_extract(e.payload, '$.source.ref'),"
        " h.kind FROM event_log e JOIN event_log h ON h.id = e.superseded_by ORDER BY e.id"
    ).fetchall()
    assert rows == [
        (1, "You are Sable, a thief who trusts nobody.", "0/system", "turn_hidden"),
        (3, "Roleplay as Mira, the innkeeper.", "2/0", "turn_hidden"),
    ]


def test_second_import_adds_nothing(conn, sample):
    import_sharegpt(conn, sample)
    before = sql_dump(conn)
    again = import_sharegpt(conn, sample)
    assert sql_dump(conn) == before
    assert (again.events, again.already_imported) == (0, 12)


def test_jsonl_variant(conn, tmp_path):
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in data), encoding="utf-8")
    report = import_sharegpt(conn, path)
    assert (report.chats, report.turns) == (3, 12)


def test_other_role_names(conn, tmp_path):
    path = tmp_path / "d.json"
    path.write_text(
        json.dumps(
            [
                {
                    "conversations": [
                        {"from": "user", "value": "hi"},
                        {"from": "assistant", "value": "hello"},
                        {"from": "function_call", "value": "{}"},
                        {"from": "observation", "value": "42"},
                        {"from": "gpt", "value": ""},
                        {"from": "human", "value": "thanks"},
                    ]
                }
            ]
        )
    )
    report = import_sharegpt(conn, path)
    assert transcript(conn, 1) == ["hi", "hello", "thanks"]
    assert (report.turns, report.hidden, report.skipped) == (5, 2, {"empty message": 1})
    assert conn.execute("SELECT title FROM chats").fetchone() == ("hi",)


BAD = {
    "unknown from": (
        [{"id": "a", "conversations": [{"from": "narrator", "value": "x"}]}],
        "conversation 0 (id 'a'), message 0: unknown 'from' 'narrator'",
    ),
    "value not text": (
        [{"id": "a", "conversations": [{"from": "human", "value": 3}]}],
        "conversation 0 (id 'a'), message 0: 'value' must be a string",
    ),
    "message not an object": (
        [{"conversations": ["hi"]}],
        "conversation 0, message 0: a message must be an object",
    ),
    "no conversations": (
        [{"conversations": []}, {"id": "b"}],
        "conversation 1: not a ShareGPT conversation (no 'conversations' list)",
    ),
    "not a list": ({"data": []}, "expected a list of conversations, got a dict"),
    "chatgpt file": ([{"mapping": {}}], "it looks like ChatGPT"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_files_are_refused_and_nothing_is_written(db_path, sample, tmp_path, case):
    data, message = BAD[case]
    with rpkit.open_db(db_path) as conn:
        import_sharegpt(conn, sample)
    before = file_state(db_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with rpkit.open_db(db_path) as conn:
        with pytest.raises(rpkit.ImportFormatError) as err:
            import_sharegpt(conn, bad)
    assert str(err.value).startswith("bad.json: ") and message in str(err.value)
    assert file_state(db_path) == before


def test_truncated_file(conn, tmp_path):
    bad = tmp_path / "cut.json"
    bad.write_bytes(SAMPLE.read_bytes()[:300])
    with pytest.raises(rpkit.ImportFormatError, match="cut.json: line .*: the JSON ends early"):
        import_sharegpt(conn, bad)


def test_skip_bad(conn, tmp_path):
    path = tmp_path / "d.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "ok",
                    "conversations": [
                        {"from": "human", "value": "hi"},
                        {"from": "robot", "value": "beep"},
                        {"from": "gpt", "value": "hello"},
                    ],
                },
                "not a conversation",
            ]
        )
    )
    report = import_sharegpt(conn, path, skip_bad=True)
    assert report.bad_records == [
        "d.json: conversation 0 (id 'ok'), message 1: unknown 'from' 'robot'; expected "
        "human/user, gpt/assistant, system or tool",
        "d.json: conversation 1: not a ShareGPT conversation (str)",
    ]
    assert transcript(conn, 1) == ["hi", "hello"]


def test_cli(tmp_path, sample):
    db = tmp_path / "h.db"
    result = CliRunner().invoke(main, ["import", "sharegpt", str(sample), str(db)])
    assert result.exit_code == 0, result.output
    assert "chats             3 new" in result.output
    classified = CliRunner().invoke(main, ["classify", str(db)])
    assert classified.exit_code == 0 and "edge updates            10" in classified.output


def test_progress_bar_when_asked(conn, sample, capsys):
    rpkit.set_progress(True)
    try:
        import_sharegpt(conn, sample)
    finally:
        rpkit.set_progress(False)
    err = capsys.readouterr().err
    assert "import sharegpt:" in err and "/12 " in err


def test_another_file_with_the_same_name_is_reported_not_silently_dropped(conn, tmp_path):
    def export(folder: str, text: str) -> Path:
        path = tmp_path / folder / "share.json"
        path.parent.mkdir()
        convo = [{"from": "human", "value": text}, {"from": "gpt", "value": "hello"}]
        path.write_text(json.dumps([{"id": "c1", "conversations": convo}]), encoding="utf-8")
        return path

    import_sharegpt(conn, export("a", "hi from a"))
    report = import_sharegpt(conn, export("b", "hi from b"))
    assert report.events == 0 and report.already_imported == 2
    [warning] = [w for w in report.warnings if "other text" in w]
    assert "share.json message" in warning and "rename it" in warning
    assert transcript(conn, 1)[0].endswith("hi from a")
