"""``names=`` in every export: speaker fields, texts, titles and personas (``rpkit.exports.names``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import rpkit
from rpkit import exports
from rpkit.cli import main
from rpkit.exports.convokit import FILES
from rpkit.exports.names import Renames

NAMES = {"you": "user", "Mira": "assistant", "Sir Corvin": "knight"}
GONE = re.compile(r"(?<!\w)(?:Wren|Ren|Mira|Sir Corvin)(?!\w)")


def test_renames_replace_whole_words_only_and_all_at_once():
    r = Renames({"Wren": "user", "Mira": "Wren", "Sir Corvin": "knight", "": "x"})
    assert r.text("Wren's tea, Mira.") == "user's tea, Wren."
    assert r.text("Wrenna and Miras stay; WREN stays") == "Wrenna and Miras stay; WREN stays"
    assert r.text("Sir Corvin and Sir Corvinus") == "knight and Sir Corvinus"
    assert r.text(None) is None
    col = pd.Series(["Mira", pd.NA], dtype="string")
    out = r.column(col)
    assert out.dtype == col.dtype and out.iloc[0] == "Wren" and out.isna().iloc[1]
    assert Renames({"a": "a"}).pattern is None


@pytest.fixture
def named_db(tmp_path) -> Path:
    """You (first "Ren", then "Wren"), Mira and Sir Corvin, named in texts, titles, personas."""
    db = tmp_path / "named.db"
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "you_set", {"name": "Ren"})
        rpkit.append(conn, "you_set", {"name": "Wren", "persona": "Wren, once Ren, a courier"})
        rpkit.append(
            conn, "bot_created", {"bot_id": "mira", "name": "Mira", "persona": "Mira keeps the inn"}
        )
        rpkit.append(conn, "bot_created", {"bot_id": "corvin", "name": "Sir Corvin"})
        rpkit.append(
            conn,
            "chat_created",
            {"title": "Mira and Wren", "bot_ids": ["mira", "corvin"]},
            chat_id=1,
        )
        rpkit.append(conn, "user_turn", {"text": "Hello Mira, I'm Wren."}, chat_id=1)
        first = rpkit.append(
            conn, "assistant_turn", {"bot_id": "mira", "text": "Ren! Wrenna's cousin?"}, chat_id=1
        )
        rpkit.regenerate_turn(conn, first, "Welcome back, Wren.")
        rpkit.append(
            conn,
            "assistant_turn",
            {"bot_id": "corvin", "text": "Sir Corvin bows to Wren's hat."},
            chat_id=1,
        )
    return db


def every_export(db: Path, out: Path, names: dict) -> dict[str, str]:
    """Each export kind's output text (ConvoKit's five files joined), written under ``out``."""
    out.mkdir()
    with rpkit.open_db(db) as conn:
        exports.messages(conn, out / "m.jsonl", paths="all", names=names)
        exports.preferences(conn, out / "p.jsonl", names=names)
        exports.convokit(conn, out / "ck", names=names)
        exports.sharegpt(conn, out / "s.json", names=names)
        exports.transcript(conn, out / "t.md", 1, names=names)
        exports.transcript(conn, out / "t.html", 1, names=names)
    files = {p.name: p.read_text() for p in out.iterdir() if p.is_file()}
    files["ck"] = "".join((out / "ck" / f).read_text() for f in FILES)
    return files


def test_every_export_honours_names_in_every_field(named_db, tmp_path):
    files = every_export(named_db, tmp_path / "out", NAMES)
    assert set(files) == {"m.jsonl", "p.jsonl", "s.json", "t.md", "t.html", "ck"}
    for kind, text in files.items():
        assert not GONE.findall(text), (kind, GONE.findall(text))
    live = json.loads(files["m.jsonl"].splitlines()[0])
    assert live["title"] == "assistant and user"
    assert [(m["name"], m["content"]) for m in live["messages"]] == [
        ("user", "Hello assistant, I'm user."),
        ("assistant", "Welcome back, user."),
        ("knight", "knight bows to user's hat."),
    ]
    (pair,) = [json.loads(line) for line in files["p.jsonl"].splitlines()]
    assert pair["rejected"] == [
        {"role": "assistant", "content": "user! Wrenna's cousin?", "name": "assistant"}
    ]
    speakers = json.loads((tmp_path / "out" / "ck" / "speakers.json").read_text())
    assert speakers == {
        "user": {"meta": {"rpkit_id": "user", "persona": "user, once user, a courier"}, "vectors": []},
        "assistant": {"meta": {"rpkit_id": "assistant", "persona": "assistant keeps the inn"}, "vectors": []},
        "knight": {"meta": {"rpkit_id": "knight", "persona": None}, "vectors": []},
    }  # fmt: skip
    conv = json.loads(files["s.json"])[0]["conversations"]
    assert [c["value"] for c in conv][0] == "Hello assistant, I'm user."
    assert "**knight:** knight bows to user's hat." in files["t.md"]
    assert "<title>chat 1: assistant and user</title>" in files["t.html"]


def test_without_names_nothing_is_rewritten(named_db, tmp_path):
    files = every_export(named_db, tmp_path / "out", None)
    live = json.loads(files["m.jsonl"].splitlines()[0])
    assert live["title"] == "Mira and Wren"
    assert live["messages"][2] == {
        "role": "assistant",
        "content": "Sir Corvin bows to Wren's hat.",
        "name": "Sir Corvin",
    }
    speakers = json.loads((tmp_path / "out" / "ck" / "speakers.json").read_text())
    assert speakers["Mira"]["meta"] == {"rpkit_id": "mira", "persona": "Mira keeps the inn"}


def test_a_speaker_id_key_is_not_replaced_as_a_word(named_db, tmp_path):
    with rpkit.open_db(named_db) as conn:
        rpkit.append(conn, "user_turn", {"text": "Thank you, mira and Mira."}, chat_id=1)
        rows = exports.message_rows(exports.read_tree(conn, names={"you": "U", "mira": "M"}))
    assert rows.iloc[0]["messages"][-1] == {
        "role": "user",
        "content": "Thank you, mira and M.",
        "name": "U",
    }


def test_the_cli_takes_name_for_sharegpt(named_db, tmp_path):
    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(
        main, ["export", "sharegpt", str(named_db), str(out), "--name", "Wren=user"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["conversations"][0]["value"] == "Hello Mira, I'm user."
