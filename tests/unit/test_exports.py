"""The exports of DESIGN §13, one by one, on small histories built through the library."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import rpkit
from rpkit import exports
from rpkit.cli import main
from rpkit.importers import import_file
from rpkit.log import append_replacing

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def tree_db(tmp_path) -> Path:
    return make_tree(tmp_path / "tree.db")


def make_tree(db: Path) -> Path:
    """A chat whose greeting has two swipes, a regeneration, an edit of each side, a hide, a fork."""
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "you_set", {"name": "Wren", "persona": "a courier"})
        rpkit.append(
            conn, "bot_created", {"bot_id": "mira", "name": "Mira", "persona": "innkeeper"}
        )
        rpkit.append(conn, "chat_created", {"title": "The Kettle", "bot_ids": ["mira"]}, chat_id=1)

        def say(t):
            return rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": t}, chat_id=1)

        s1, s2 = say("Welcome (swipe 1)"), say("Welcome (swipe 2)")
        greet = append_replacing(
            conn,
            "assistant_turn",
            {"bot_id": "mira", "text": "Welcome, traveller.", "revision": "swipe"},
            replaces=[s1, s2],
            chat_id=1,
        )
        ask = rpkit.append(conn, "user_turn", {"text": "A room, please."}, chat_id=1)
        first = say("No rooms left.")
        rpkit.append(
            conn, "edge_update", {"src": "mira", "dst": "you", "delta": -1.0}, cause_id=first
        )
        regen = rpkit.regenerate_turn(conn, first, "One room left, upstairs.")
        rpkit.append(
            conn, "edge_update", {"src": "mira", "dst": "you", "delta": 0.5}, cause_id=regen
        )
        rpkit.edit_turn(conn, ask, "A room for the night, please.")
        typo = say("Thats two silver.")
        fixed = rpkit.edit_turn(conn, typo, "That's two silver.")
        said = rpkit.append(conn, "user_turn", {"text": SCRIPT}, chat_id=1)
        oops = rpkit.append(conn, "user_turn", {"text": "(ooc: ignore this)"}, chat_id=1)
        rpkit.hide_turn(conn, oops)
        fork = rpkit.fork_chat(conn, fixed, title="The other room")
        rpkit.append(conn, "user_turn", {"text": "Too dear. Goodbye."}, chat_id=fork)
        assert said and greet and regen
    return db


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_messages_rows_are_live_paths_with_lineage(tree_db, tmp_path):
    with rpkit.open_db(tree_db) as conn:
        report = exports.messages(conn, tmp_path / "m.jsonl")
    rows = jsonl(tmp_path / "m.jsonl")
    assert report.rows == 2 and [r["chat_id"] for r in rows] == [1, 2]
    live = rows[0]["messages"]
    assert [(m["role"], m["name"], m["content"]) for m in live] == [
        ("assistant", "Mira", "Welcome, traveller."),
        ("user", "Wren", "A room for the night, please."),
        ("assistant", "Mira", "One room left, upstairs."),
        ("assistant", "Mira", "That's two silver."),
        ("user", "Wren", SCRIPT),
    ]
    assert rows[0]["title"] == "The Kettle" and rows[0]["parent_chat_id"] is None
    assert rows[0]["leaf_retired"] is False
    fork = rows[1]
    assert fork["parent_chat_id"] == 1 and fork["title"] == "The other room"
    assert [m["content"] for m in fork["messages"]][-1] == "Too dear. Goodbye."
    assert [m["content"] for m in fork["messages"]][:4] == [m["content"] for m in live[:4]]
    assert rows[0]["first_ts"].endswith("+00:00") and rows[0]["last_ts"] >= rows[0]["first_ts"]


def test_messages_paths_all_and_hidden_turns_and_names(tree_db, tmp_path):
    with rpkit.open_db(tree_db) as conn:
        tree = exports.read_tree(conn, names={"Wren": "user"}, roles=True)
        every = exports.message_rows(tree, paths="all")
        shown = exports.message_rows(tree, include_retired=True)
    alts = every[every["leaf_retired"]]
    # two swipes, one regeneration, two edits: each the path that ends in it
    assert len(alts) == 5
    swipe = alts.iloc[0]["messages"]
    assert [m["content"] for m in swipe] == ["Welcome (swipe 1)"]
    regen = alts[alts["leaf_event_id"] == alts["leaf_event_id"].iloc[3]].iloc[0]["messages"]
    assert regen[-1]["content"] in {"No rooms left.", "Thats two silver.", "A room, please."}
    assert {m["name"] for m in every.iloc[0]["messages"]} == {"user", "Mira"}
    assert shown.iloc[0]["messages"][-1]["content"] == "(ooc: ignore this)"
    assert every.iloc[0]["messages"][-1]["content"] == SCRIPT


def test_an_imported_system_message_is_in_every_conversation_where_it_was(tmp_path):
    """An import keeps a system prompt as a hidden turn with its role; the model read it."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps(
            {
                "system": "You are Mira, an innkeeper.",
                "conversations": [
                    {"from": "human", "value": "A room?"},
                    {"from": "gpt", "value": "Upstairs."},
                ],
            }
        )
        + "\n"
    )
    db = tmp_path / "h.db"
    import_file(db, "sharegpt", src)
    with rpkit.open_db(db) as conn:
        turn = conn.execute("SELECT MAX(id) FROM event_log WHERE kind = 'assistant_turn'")
        rpkit.regenerate_turn(conn, turn.fetchone()[0], "Upstairs, second door.")
        said = rpkit.append(conn, "user_turn", {"text": "(ooc: brb)"}, chat_id=1)
        rpkit.hide_turn(conn, said)  # hidden by you: left out
        exports.messages(conn, tmp_path / "m.jsonl")
        exports.sharegpt(conn, tmp_path / "s.json")
        exports.preferences(conn, tmp_path / "p.jsonl")
        exports.transcript(conn, tmp_path / "t.md", chat_id=1)
        exports.convokit(conn, tmp_path / "ck")
    expected = [
        ("system", "You are Mira, an innkeeper."),
        ("user", "A room?"),
        ("assistant", "Upstairs, second door."),
    ]
    (row,) = jsonl(tmp_path / "m.jsonl")
    assert [(m["role"], m["content"]) for m in row["messages"]] == expected
    assert [m["name"] for m in row["messages"]] == [None, "You", "Assistant"]  # no one says it
    (conv,) = json.loads((tmp_path / "s.json").read_text())
    assert [c["from"] for c in conv["conversations"]] == ["system", "human", "gpt"]
    (pair,) = jsonl(tmp_path / "p.jsonl")
    assert [(m["role"], m["content"]) for m in pair["prompt"]] == expected[:2]
    assert pair["rejected"][0]["content"] == "Upstairs."
    assert "**System:** You are Mira, an innkeeper." in (tmp_path / "t.md").read_text()
    said = {u["text"]: u["speaker"] for u in jsonl(tmp_path / "ck" / "utterances.jsonl")}
    assert said["You are Mira, an innkeeper."] == "System" and said["A room?"] == "You"
    assert "System" in json.loads((tmp_path / "ck" / "speakers.json").read_text())


def test_preferences_pair_every_swipe_regeneration_and_assistant_edit(tree_db, tmp_path):
    with rpkit.open_db(tree_db) as conn:
        exports.preferences(conn, tmp_path / "p.jsonl")
        with_user = exports.preference_rows(exports.read_tree(conn), include_user_edits=True)
        short = exports.preference_rows(exports.read_tree(conn), context=1)
    rows = jsonl(tmp_path / "p.jsonl")
    got = [(r["source"], r["rejected"][0]["content"], r["chosen"][0]["content"]) for r in rows]
    assert got == [
        ("swipe", "Welcome (swipe 1)", "Welcome, traveller."),
        ("swipe", "Welcome (swipe 2)", "Welcome, traveller."),
        ("regenerate", "No rooms left.", "One room left, upstairs."),
        ("edit", "Thats two silver.", "That's two silver."),
    ]
    assert rows[0]["prompt"] == [] and rows[0]["position"] == 1
    regen = rows[2]
    assert [m["content"] for m in regen["prompt"]] == [
        "Welcome, traveller.",
        "A room for the night, please.",
    ]
    assert regen["rejected_affinity_delta"] == -1.0 and regen["chosen_affinity_delta"] == 0.5
    assert rows[3]["chosen_affinity_delta"] is None
    assert len(with_user) == 5 and "A room, please." in [
        r[0]["content"] for r in with_user["rejected"]
    ]
    assert [len(p) for p in short["prompt"]] == [0, 0, 1, 1]


def convokit_folder(db: Path, out: Path) -> dict:
    with rpkit.open_db(db) as conn:
        exports.convokit(conn, out)
    return read_convokit(out)


def read_convokit(out: Path) -> dict:
    return {
        "utterances": jsonl(out / "utterances.jsonl"),
        **{
            name: json.loads((out / f"{name}.json").read_text())
            for name in ("speakers", "conversations", "corpus", "index")
        },
    }


def check_convokit(ck: dict) -> None:
    """ConvoKit's documented format: fields, one root per conversation, replies inside it, index types."""
    utts = ck["utterances"]
    by_id = {u["id"]: u for u in utts}
    assert len(by_id) == len(utts)
    fields = {
        "id",
        "conversation_id",
        "speaker",
        "reply_to",
        "timestamp",
        "text",
        "meta",
        "vectors",
    }
    assert all(set(u) == fields for u in utts)
    roots = {}
    for u in utts:
        assert u["speaker"] in ck["speakers"]
        if u["reply_to"] is None:
            assert u["conversation_id"] not in roots, "two roots in one conversation"
            roots[u["conversation_id"]] = u["id"]
        else:
            assert by_id[u["reply_to"]]["conversation_id"] == u["conversation_id"]
    assert set(roots) == set(ck["conversations"]) == {u["conversation_id"] for u in utts}
    assert all(root == conv for conv, root in roots.items())  # conversation id: its root's id
    for table, items in (
        ("utterances-index", [u["meta"] for u in utts]),
        ("speakers-index", [s["meta"] for s in ck["speakers"].values()]),
        ("conversations-index", [c["meta"] for c in ck["conversations"].values()]),
        ("overall-index", [ck["corpus"]]),
    ):
        index = ck["index"][table]
        for meta in items:
            assert set(meta) <= set(index)
            for k, v in meta.items():
                assert str(type(v)) in index[k], (table, k, v)
    assert ck["index"]["version"] == 1


def test_convokit_folder_is_one_tree_per_root_chat(tree_db, tmp_path):
    ck = convokit_folder(tree_db, tmp_path / "ck")
    check_convokit(ck)
    utts = {u["text"]: u for u in ck["utterances"] if u["meta"]["chat_id"] == 1}
    root = utts["The Kettle"]
    assert root["reply_to"] is None and root["meta"]["kind"] == "chat_created"
    # the greeting and its two swipes all answer the root: siblings
    for t in ("Welcome (swipe 1)", "Welcome (swipe 2)"):
        assert utts[t]["reply_to"] == root["id"] and utts[t]["meta"]["retired"] is True
        assert utts[t]["meta"]["replaced_how"] == "swipe"
    greet = [
        u
        for u in ck["utterances"]
        if u["text"] == "Welcome, traveller." and u["meta"]["chat_id"] == 1
    ][0]
    assert greet["reply_to"] == root["id"] and greet["meta"]["retired"] is False
    assert utts["No rooms left."]["reply_to"] == utts["One room left, upstairs."]["reply_to"]
    assert utts["No rooms left."]["meta"]["affinity_delta"] == -1.0
    fork = [u for u in ck["utterances"] if u["meta"]["chat_id"] == 2]
    assert fork[0]["reply_to"] == root["id"]  # its first copy answers the root, as the original
    assert fork[-1]["text"] == "Too dear. Goodbye." and fork[-1]["reply_to"] == fork[-2]["id"]
    assert {u["conversation_id"] for u in fork} == {root["id"]}
    assert len(ck["conversations"]) == 1
    assert ck["conversations"][root["id"]]["meta"]["chats"] == [1, 2]
    assert ck["speakers"]["Mira"]["meta"] == {"rpkit_id": "mira", "persona": "innkeeper"}


def test_convokit_of_the_demo_checks_and_replaces_a_folder(demo_path, tmp_path):
    check_convokit(convokit_folder(demo_path, tmp_path / "ck"))
    (tmp_path / "ck" / "stale.txt").write_text("from before")
    with rpkit.open_db(demo_path) as conn:
        exports.convokit(conn, tmp_path / "ck", replace=True)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == sorted(
        exports.convokit.__globals__["FILES"]
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sharegpt_json_and_jsonl(tree_db, tmp_path):
    with rpkit.open_db(tree_db) as conn:
        exports.sharegpt(conn, tmp_path / "s.json")
        exports.sharegpt(conn, tmp_path / "s.jsonl")
    listed = json.loads((tmp_path / "s.json").read_text())
    assert listed == jsonl(tmp_path / "s.jsonl")
    assert listed[0]["id"] == "tree/1"
    assert listed[0]["conversations"][:2] == [
        {"from": "gpt", "value": "Welcome, traveller."},
        {"from": "human", "value": "A room for the night, please."},
    ]


def test_html_transcript_escapes_text_and_loads_nothing(tree_db, tmp_path):
    with rpkit.open_db(tree_db) as conn:
        report = exports.transcript(conn, tmp_path / "t.html", 1)
    page = (tmp_path / "t.html").read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "http" not in page and "src=" not in page
    assert "<details><summary>2 alternatives</summary>" in page
    assert "<del>No rooms left.</del>" in page and "(Mira, regenerate)" in page
    assert '<a href="#chat-2">chat 2: The other room</a>' in page
    assert page.count("<section") == 2 and report.rows > 0


def test_markdown_transcript_strikes_alternatives_and_links_forks(tree_db, tmp_path):
    with rpkit.open_db(tree_db) as conn:
        exports.transcript(conn, tmp_path / "t.md", 1, names={"Wren": "W"})
    md = (tmp_path / "t.md").read_text()
    assert "# chat 1: The Kettle" in md and "**W:** A room for the night, please." in md
    assert "> Mira (swipe): ~~Welcome (swipe 1)~~" in md
    assert "> W (hidden): ~~(ooc: ignore this)~~" in md
    assert "*Forked here: [chat 2: The other room](#chat-2).*" in md
    assert "&lt;script&gt;" in md and "<script" not in md


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_datasets_loads_the_exports_offline(tree_db, tmp_path, monkeypatch, suffix):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    with rpkit.open_db(tree_db) as conn:
        exports.messages(conn, tmp_path / f"m{suffix}")
        exports.preferences(conn, tmp_path / f"p{suffix}")
    builder = "json" if suffix == ".jsonl" else "parquet"
    cache = str(tmp_path / "cache")
    m = datasets.load_dataset(
        builder, data_files=str(tmp_path / f"m{suffix}"), split="train", cache_dir=cache
    )
    p = datasets.load_dataset(
        builder, data_files=str(tmp_path / f"p{suffix}"), split="train", cache_dir=cache
    )
    assert m.num_rows == 2 and m[0]["messages"][0] == {
        "role": "assistant",
        "content": "Welcome, traveller.",
        "name": "Mira",
    }
    assert p.num_rows == 4 and p["source"] == ["swipe", "swipe", "regenerate", "edit"]
    assert p[2]["chosen"] == [
        {"role": "assistant", "content": "One room left, upstairs.", "name": "Mira"}
    ]


def test_parquet_and_jsonl_hold_the_same_rows_and_an_empty_history_keeps_the_schema(
    tree_db, tmp_path
):
    with rpkit.open_db(tree_db) as conn:
        exports.preferences(conn, tmp_path / "p.parquet")
        exports.preferences(conn, tmp_path / "p.jsonl")
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.to_pylist()[2]["prompt"] == jsonl(tmp_path / "p.jsonl")[2]["prompt"]
    with rpkit.open_db(tmp_path / "empty.db") as conn:
        exports.preferences(conn, tmp_path / "e.parquet")
        exports.messages(conn, tmp_path / "e.jsonl")
    assert pq.read_schema(tmp_path / "e.parquet") == table.schema
    assert (tmp_path / "e.jsonl").read_bytes() == b""


def test_rpkit_export_command(tree_db, tmp_path):
    runner = CliRunner()
    out = tmp_path / "p.jsonl"
    result = runner.invoke(
        main, ["export", "preferences", str(tree_db), str(out), "--name", "Wren=user"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 4 rows of preferences" in result.output
    assert {m["name"] for m in jsonl(out)[2]["prompt"]} == {"user", "Mira"}
    again = runner.invoke(
        main, ["export", "preferences", str(tree_db), str(out), "--replace", "--context", "1"]
    )
    assert again.exit_code == 0 and [len(r["prompt"]) for r in jsonl(out)] == [0, 0, 1, 1]
    for argv in (
        ["messages", "m.parquet", "--paths", "all"],
        ["convokit", "ck"],
        ["sharegpt", "s.json"],
        ["transcript", "t.html", "--chat", "1"],
    ):
        kind, name, *rest = argv
        r = runner.invoke(main, ["export", kind, str(tree_db), str(tmp_path / name), *rest])
        assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "m.parquet").num_rows == 7
