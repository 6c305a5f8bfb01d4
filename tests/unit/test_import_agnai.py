"""Agnaistic chat exports: three message shapes, retries, who the user is, no dates."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import rpkit
from rpkit.importers import import_agnai, import_file

from ..helpers import EXPORTS, file_state

SAMPLE = EXPORTS / "agnai" / "night-market.json"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return Path(shutil.copyfile(SAMPLE, tmp_path / SAMPLE.name))


def turns(conn, *, live: bool = True) -> list[dict]:
    where = "AND superseded_by IS NULL" if live else ""
    return [
        {**json.loads(p), "id": i, "kind": k, "ts": ts, "superseded_by": sup}
        for i, k, p, ts, sup in conn.execute(
            "SELECT id, kind, payload, ts, superseded_by FROM event_log "
            f"WHERE kind IN ('user_turn', 'assistant_turn') {where} ORDER BY id"
        )
    ]


def write(tmp_path: Path, messages: list, **top) -> Path:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({**top, "messages": messages}), encoding="utf-8")
    return path


def test_transcript_is_what_agnaistic_shows(conn, sample):
    before = datetime.now(UTC)
    report = import_agnai(conn, sample)
    assert (report.chats, report.turns, report.retired, report.bots) == (1, 8, 1, 2)
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    live = turns(conn)
    assert [t["text"] for t in live] == [m["msg"] for m in data["messages"]]
    assert [t["kind"] for t in live] == [
        "user_turn" if "userId" in m else "assistant_turn" for m in data["messages"]
    ]
    assert [t.get("bot_id") for t in live] == [
        "sable",
        None,
        "sable",
        "old-tobin",
        None,
        "old-tobin",
        "sable",
    ]
    assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Wren",)
    assert conn.execute("SELECT title FROM chats").fetchone() == ("night-market",)
    assert live[4]["ooc"] is True
    stamps = {datetime.fromisoformat(t["ts"]) for t in live}
    assert len(stamps) == 1 and before <= stamps.pop() <= datetime.now(UTC)
    assert report.warnings == [
        "Agnaistic exports (before createdAt) have no dates: undated turns are stamped with "
        "the time of the import (night-market.json)"
    ]
    assert rpkit.verify(conn).ok


def test_retries_are_kept_retired_by_the_message_shown(conn, sample):
    import_agnai(conn, sample)
    retired = [t for t in turns(conn, live=False) if t["superseded_by"] is not None]
    assert [t["text"] for t in retired] == ["*She shrugs.* No such thing, friend."]
    shown = next(t for t in turns(conn) if t["id"] == retired[0]["superseded_by"])
    assert shown["text"].startswith("*She taps a brass case.*")
    assert shown["revision"] == "retry"


def test_reimport_adds_nothing(conn, sample):
    import_agnai(conn, sample)
    again = import_agnai(conn, sample)
    assert (again.events, again.already_imported) == (0, 8)


def test_created_at_is_used_when_the_export_has_it(conn, tmp_path):
    path = write(
        tmp_path,
        [
            {"userId": "u1", "handle": "Kit", "msg": "Hello?", "createdAt": "2024-02-03T04:05:06Z"},
            {"characterId": "imported", "name": "Oda", "msg": "Here.", "createdAt": 1706933200000},
        ],
        name="Dock talk",
    )
    report = import_agnai(conn, path)
    assert report.warnings == []
    assert [t["ts"] for t in turns(conn)] == [
        "2024-02-03T04:05:06.000000Z",
        "2024-02-03T04:06:40.000000Z",
    ]
    assert conn.execute("SELECT title FROM chats").fetchone() == ("Dock talk",)


def test_an_export_without_a_user_is_the_characters_and_user_names_one(db_path, tmp_path):
    """Every message has a characterId: Agnaistic shows them all as characters."""
    messages = [
        {"characterId": "imported", "handle": "Narrator", "name": "Narrator", "msg": "Rain."},
        {"characterId": "temp-aaa_11112222", "msg": "*Leila shivers.*"},
        {"characterId": "temp-bbb_33334444", "name": "Kit", "msg": "Cold?"},
        {"characterId": "temp-bbb_33334444", "msg": "*Kit offers a coat.*"},
    ]
    path = write(tmp_path, messages)
    with rpkit.open_db(db_path) as conn:
        report = import_agnai(conn, path)
        assert [t["kind"] for t in turns(conn)] == ["assistant_turn"] * 4
        names = dict(conn.execute("SELECT id, name FROM bots"))
    assert names == {
        "narrator": "Narrator",
        "character-11112222": "Character 11112222",
        "kit": "Kit",
    }
    assert any("names no user" in w for w in report.warnings)
    assert any("'temp-aaa_11112222' is never named" in w for w in report.warnings)
    mine = tmp_path / "mine.db"
    with rpkit.open_db(mine) as conn:
        import_agnai(conn, path, user="Kit")
        assert [t["kind"] for t in turns(conn)][2:] == ["user_turn", "user_turn"]
        assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Kit",)


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([{"msg": "ok"}, {"characterId": "imported", "msg": 5}], ["message 1", "'msg'"]),
        ([{"msg": "ok"}, "hello"], ["message 1", "object"]),
        ([{"msg": "ok", "retries": "x"}], ["message 0", "retries"]),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_written(
    db_path, sample, tmp_path, messages, words
):
    with rpkit.open_db(db_path) as conn:
        import_agnai(conn, sample)
    before = file_state(db_path)
    with pytest.raises(rpkit.ImportFormatError) as err:
        import_file(db_path, "agnai", write(tmp_path, messages))
    for word in ["chat.json", *words]:
        assert word in str(err.value)
    assert file_state(db_path) == before


def test_not_an_agnaistic_export(conn, tmp_path):
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"chat": []}), encoding="utf-8")
    with pytest.raises(rpkit.ImportFormatError, match=r"chat.json: not an Agnaistic chat export"):
        import_agnai(conn, path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}), encoding="utf-8")
    with pytest.raises(rpkit.ImportFormatError, match="rpkit import jsonl"):
        import_agnai(conn, path)
