"""ChatGPT exports: the current path is the transcript, sibling branches are retired."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.cli import main
from rpkit.importers import import_chatgpt

from ..helpers import ROOT, file_state, sql_dump

SAMPLE = ROOT / "data" / "exports" / "chatgpt" / "conversations.json"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return Path(shutil.copyfile(SAMPLE, tmp_path / "conversations.json"))


def conversations() -> list[dict]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data, name: str = "conversations.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def transcript(conn, chat_id: int) -> list[str]:
    return [
        json.loads(p)["text"]
        for (p,) in conn.execute(
            "SELECT payload FROM event_log WHERE chat_id = ? AND kind IN "
            "('user_turn', 'assistant_turn') AND superseded_by IS NULL ORDER BY id",
            (chat_id,),
        )
    ]


def nodes(conn) -> dict[str, tuple]:
    """Turns by node id: (id, kind, ts, superseded_by)."""
    return {
        ref: (i, k, ts, sup)
        for i, k, ts, sup, ref in conn.execute(
            "SELECT id, kind, ts, superseded_by, json_extract(payload, '$.source.ref') "
            "FROM event_log WHERE kind IN ('user_turn', 'assistant_turn')"
        )
    }


def current_path_texts(conv: dict) -> list[str]:
    """The visible messages of a conversation, read straight from its tree."""
    out, node = [], conv["current_node"]
    while node is not None:
        n = conv["mapping"][node]
        msg = n.get("message")
        if msg and msg["author"]["role"] in {"user", "assistant"}:
            parts = [p if isinstance(p, str) else p.get("text") for p in msg["content"]["parts"]]
            text = "\n".join(p for p in parts if p)
            if text:
                out.append(text)
        node = n.get("parent")
    return out[::-1]


def test_sample_report(conn, sample):
    report = import_chatgpt(conn, sample)
    assert (report.chats, report.turns, report.retired, report.hidden, report.bots) == (
        2,
        12,
        4,
        1,
        1,
    )
    assert report.skipped == {"node without a message": 2, "empty system message": 1}
    assert report.warnings == [
        "image or file parts dropped (only text is imported) (conversations.json node u3)"
    ]
    assert conn.execute("SELECT id, title FROM chats ORDER BY id").fetchall() == [
        (1, "Naming a fantasy tavern"),
        (2, "Betrayal scene"),
    ]
    assert rpkit.verify(conn).ok


def test_visible_transcript_is_the_current_path(conn, sample):
    import_chatgpt(conn, sample)
    for chat_id, conv in enumerate(conversations(), start=1):
        assert transcript(conn, chat_id) == current_path_texts(conv)
    # multimodal_text reduced to its text part
    assert transcript(conn, 1)[4] == (
        "Here is a sketch of the inn. Does it fit her? Great work so far, thank you!"
    )


def test_sibling_replies_are_retired_by_the_on_path_sibling(conn, sample):
    import_chatgpt(conn, sample)
    n = nodes(conn)
    # An edited question: u2a and the answer below it are retired by u2b.
    assert n["u2a"][3] == n["u2b"][0] and n["a2a"][3] == n["u2b"][0]
    assert n["u2a"][0] < n["a2a"][0] < n["u2b"][0]
    revision = "SELECT json_extract(payload, '$.revision') FROM event_log WHERE id = ?"
    assert conn.execute(revision, (n["u2b"][0],)).fetchone() == ("sibling",)
    # A regenerated answer: a2b1 is retired by a2b2.
    assert n["a2b1"][3] == n["a2b2"][0] > n["a2b1"][0]
    for ref in ("u1", "a1", "u2b", "a2b2", "u3", "a3"):
        assert n[ref][3] is None
    # The hidden custom instructions: a system message turned into a hidden turn.
    sys_id, kind, _, sup = n["ctx"]
    assert kind == "user_turn"
    assert conn.execute("SELECT kind FROM event_log WHERE id = ?", (sup,)).fetchone() == (
        "turn_hidden",
    )
    payload = json.loads(
        conn.execute("SELECT payload FROM event_log WHERE id = ?", (sys_id,)).fetchone()[0]
    )
    assert payload["role"] == "system"
    assert payload["source"] == {"format": "chatgpt", "file": "conversations.json", "ref": "ctx"}


def test_dates_are_the_messages_create_time(conn, sample):
    import_chatgpt(conn, sample)
    n = nodes(conn)
    assert n["u1"][2] == "2024-06-10T06:13:30.000000Z"  # 1718000010
    assert n["b1"][2] == "2024-06-21T20:00:07.750000Z"  # 1719000007.75
    assert conn.execute("SELECT created_at FROM chats WHERE id = 2").fetchone() == (
        "2024-06-21T20:00:00.500000Z",
    )


def test_second_import_adds_nothing(conn, sample):
    first = import_chatgpt(conn, sample)
    before = sql_dump(conn)
    again = import_chatgpt(conn, sample)
    assert sql_dump(conn) == before
    assert (again.events, again.already_imported) == (0, first.turns)


def test_one_conversation_object(conn, tmp_path):
    conv = conversations()[1]
    report = import_chatgpt(conn, write(tmp_path, conv, "one.json"))
    assert (report.chats, report.turns) == (1, 2)
    assert transcript(conn, 1) == current_path_texts(conv)


def test_without_current_node_the_newest_branch_is_followed(conn, tmp_path):
    conv = conversations()[0]
    del conv["current_node"]
    report = import_chatgpt(conn, write(tmp_path, [conv]))
    assert transcript(conn, 1)[-1].startswith("It fits perfectly")
    assert any("no current_node; followed the newest branch" in w for w in report.warnings)


def test_messages_past_current_node_become_hidden(conn, tmp_path):
    conv = conversations()[0]
    conv["current_node"] = "a2b2"
    report = import_chatgpt(conn, write(tmp_path, [conv]))
    assert transcript(conn, 1)[-1].startswith("Mira: warm")
    n = nodes(conn)
    for ref in ("u3", "a3"):
        kind = conn.execute("SELECT kind FROM event_log WHERE id = ?", (n[ref][3],)).fetchone()
        assert kind == ("turn_hidden",)
    assert any("past current_node" in w for w in report.warnings)


def _broken(change) -> list[dict]:
    data = copy.deepcopy(conversations())
    change(data[0])
    return data


def _set(d: dict, path: str, value) -> None:
    *head, last = path.split(".")
    for key in head:
        d = d[key]
    d[last] = value


BAD = {
    "unknown role": (
        lambda c: _set(c, "mapping.u1.message.author.role", "narrator"),
        "node u1: unknown author role 'narrator'",
    ),
    "parts not a list": (
        lambda c: _set(c, "mapping.u1.message.content.parts", "hello"),
        "node u1: content.parts must be a list",
    ),
    "dangling child": (
        lambda c: c["mapping"]["a3"]["children"].append("ghost"),
        "node a3 lists child ghost, which is not in the mapping",
    ),
    "current node missing": (
        lambda c: _set(c, "current_node", "ghost"),
        "current_node ghost is not in the mapping",
    ),
    "cycle": (
        lambda c: _set(c, "mapping.root.parent", "a3"),
        "cycle",
    ),
    "wrong parent": (
        lambda c: _set(c, "mapping.a3.parent", "u1"),
        "node a3 is a child of u3 but names 'u1' as parent",
    ),
    "message not an object": (
        lambda c: _set(c, "mapping.u1.message", "hi"),
        "node u1: message must be an object",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_conversations_are_refused_and_nothing_is_written(
    db_path, sample, tmp_path, case
):
    change, message = BAD[case]
    with rpkit.open_db(db_path) as conn:
        import_chatgpt(conn, sample)
    before = file_state(db_path)
    bad = write(tmp_path, _broken(change), "bad.json")
    with rpkit.open_db(db_path) as conn:
        with pytest.raises(rpkit.ImportFormatError) as err:
            import_chatgpt(conn, bad)
    assert str(err.value).startswith("bad.json: ") and message in str(err.value)
    assert file_state(db_path) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"mapping": {}, "title": "x"', "the JSON ends early"),
        (b'[{"mapping": {}}, ]', "line 1 column 19: not valid JSON (Expecting value)"),
        (b'{"title": "x"}', "expected a list of conversations or one conversation"),
        (b'["x"]', "this is not a ChatGPT export"),
        ('[{"title": "caf\u00e9", "mapping": {}}]'.encode("latin-1"), "not UTF-8"),
        (b'[{"id": "a", "conversations": []}]', "it looks like ShareGPT"),
        (
            b'{"user_name": "U", "character_name": "B"}\n{"mes": "x", "is_user": true}\n',
            "it looks like SillyTavern",
        ),
    ],
)
def test_malformed_files_are_refused(conn, tmp_path, data, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(data)
    with pytest.raises(rpkit.ImportFormatError, match="bad.json") as err:
        import_chatgpt(conn, bad)
    assert message in str(err.value)
    assert conn.execute("SELECT COUNT(*) FROM event_log").fetchone() == (0,)


def test_skip_bad_skips_a_bad_node_or_conversation(conn, tmp_path):
    data = _broken(lambda c: _set(c, "mapping.u3.message.author.role", "narrator"))
    data.append({"title": "no mapping"})
    report = import_chatgpt(conn, write(tmp_path, data), skip_bad=True)
    assert report.bad_records == [
        "conversations.json: node u3: unknown author role 'narrator'; expected one of assistant, "
        "system, tool, user",
        "conversations.json: conversation 2: not a ChatGPT conversation (no 'mapping' object)",
    ]
    assert report.chats == 2
    assert "Here is a sketch" not in " ".join(transcript(conn, 1))
    assert transcript(conn, 1)[-1].startswith("It fits perfectly")


def test_cli(tmp_path, sample):
    result = CliRunner().invoke(main, ["import", "chatgpt", str(sample), str(tmp_path / "h.db")])
    assert result.exit_code == 0, result.output
    assert "12 new: 8 visible, 4 retired (3 alternatives, 1 hidden)" in result.output


def test_the_unpacked_export_folder(conn, sample, tmp_path):
    report = import_chatgpt(conn, sample.parent)
    assert (report.files, report.chats) == (["conversations.json"], 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(rpkit.ImportFormatError, match="empty: the folder has no conversations"):
        import_chatgpt(conn, empty)
