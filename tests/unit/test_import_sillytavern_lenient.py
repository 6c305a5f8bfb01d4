"""SillyTavern as lenient as SillyTavern: every shape of the field census of real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rpkit
from rpkit.importers import import_file, import_sillytavern

HEADER = {"user_name": "Wren", "character_name": "Mira", "create_date": "2024-6-5@14h56m50s"}


def write(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def msg(
    name: str, mes: str, *, user: bool = False, date: object = "2024-06-05T15:00:00Z", **more
) -> dict:
    return {"name": name, "is_user": user, "mes": mes, "send_date": date, **more}


def turns(conn, *, live: bool = True) -> list[dict]:
    where = "AND superseded_by IS NULL" if live else ""
    return [
        {**json.loads(p), "id": i, "kind": k, "ts": ts, "superseded_by": sup}
        for i, k, p, ts, sup in conn.execute(
            "SELECT id, kind, payload, ts, superseded_by FROM event_log "
            f"WHERE kind IN ('user_turn', 'assistant_turn') {where} ORDER BY id"
        )
    ]


def shown(rows: list) -> list[str]:
    """What SillyTavern shows: every message whose is_system is not true."""
    return [r["mes"] for r in rows if "mes" in r and r.get("is_system") is not True]


def test_is_system_empty_or_missing_is_false(conn, tmp_path):
    rows = [
        {
            "name": "SillyTavern System",
            "is_user": False,
            "is_system": True,
            "mes": "Group made.",
            "send_date": "July 20, 2024 7:48am",
        },
        msg("Chief", "Your offers intrigue me.", user=True, is_system=False),
        msg("John Milton", "Come now.", is_system=""),  # what /sendas writes
        msg("John Milton", "Power, friend."),
    ]
    report = import_sillytavern(conn, write(tmp_path / "pub.jsonl", rows))
    assert [t["text"] for t in turns(conn)] == shown(rows)
    assert (report.turns, report.hidden) == (4, 1)
    assert report.warnings == [
        "is_system written as '' (SillyTavern's /sendas does): taken as false (pub.jsonl line 3)"
    ]


def test_header_later_or_alone(conn, tmp_path):
    later = write(tmp_path / "later.jsonl", [msg("Mira", "Hi.", date=1717599410000), HEADER])
    report = import_sillytavern(conn, later)
    assert report.chats == 1 and [t["text"] for t in turns(conn)] == ["Hi."]
    assert report.warnings == [
        "the chat header is not on the first line; read it all the same (later.jsonl line 2)"
    ]
    assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Wren",)
    alone = import_sillytavern(conn, write(tmp_path / "alone.jsonl", [HEADER]))
    assert (alone.chats, alone.turns) == (1, 0)
    assert alone.warnings == [
        "a chat header without messages: imported as an empty chat (alone.jsonl)"
    ]
    assert import_sillytavern(conn, tmp_path / "alone.jsonl").events == 0


def test_newer_header_starting_with_chat_metadata(conn, tmp_path):
    header = {
        "chat_metadata": {"integrity": "x"},
        "user_name": "unused",
        "character_name": "unused",
    }
    rows = [header, msg("Wenxin", "I write the game's text.", date="2026-07-12T06:02:35.036Z")]
    report = import_sillytavern(conn, write(tmp_path / "wenxin.jsonl", rows))
    assert (report.chats, report.turns, report.warnings) == (1, 1, [])
    assert conn.execute("SELECT name FROM bots").fetchall() == [("Wenxin",)]


def test_swipes_info_empty_swipes_and_their_dates(conn, tmp_path):
    rows = [
        HEADER,
        msg(
            "Mira",
            "Second.",
            date="June 5, 2024 3:03pm",
            swipes=["First.", "Second.", ""],
            swipe_id=1,
            swipes_info=[
                {"send_date": "2024-06-05T15:01:00Z"},
                {"send_date": "2024-06-05T15:03:00Z"},
                {"send_date": "2024-06-05T15:04:00Z"},
            ],
        ),
        msg("Mira", "Alone.", swipes=[], date=1717599900000),
    ]
    report = import_sillytavern(conn, write(tmp_path / "swipes.jsonl", rows))
    assert [t["text"] for t in turns(conn)] == ["Second.", "Alone."]
    retired = [t for t in turns(conn, live=False) if t["superseded_by"]]
    assert [(t["text"], t["swipe"], t["ts"]) for t in retired] == [
        ("First.", 0, "2024-06-05T15:01:00.000000Z"),
        ("", 2, "2024-06-05T15:04:00.000000Z"),
    ]
    assert report.retired == 2
    assert report.warnings == ["'swipes_info' (misspelt) read as swipe_info (swipes.jsonl line 2)"]


def test_reasoning_only_message_keeps_its_reasoning_in_the_payload(conn, tmp_path):
    thought = "The user wants a short line of dialogue."
    rows = [
        HEADER,
        msg("Wren", "Write a line for Xiaoya.", user=True, extra={"reasoning": ""}),
        msg("Mira", "", extra={"reasoning": thought}, swipes=[""], swipe_id=0),
        msg("Mira", "Done.", extra={"reasoning": "short"}),
    ]
    report = import_sillytavern(conn, write(tmp_path / "think.jsonl", rows))
    live = turns(conn)
    assert [t["text"] for t in live] == shown(rows)
    assert [t.get("reasoning") for t in live] == [None, thought, "short"]
    assert report.warnings == [
        "messages whose text is empty and whose content is only their reasoning "
        "(extra.reasoning): imported with an empty text, the reasoning in the payload "
        "('reasoning') (think.jsonl line 3)"
    ]


def test_tavernai_room(conn, tmp_path):
    rows = [
        {"user_name": "You", "character_names": ["Megumin", "Aqua"], "create_date": 1684669029632,
         "notes": "", "notes_type": "discr", "scenario": ""},
        msg("Megumin", "Explosion!", date=1684669122872, chid=2, is_name=True),
        msg("Aqua", "Pray to me.", date=1682786748285, chid=0, is_name=True),
        msg("You", "Hello both.", user=True, date=1684669200000, is_name=True),
    ]  # fmt: skip
    report = import_sillytavern(conn, write(tmp_path / "Konosuba.jsonl", rows))
    assert (report.turns, report.bots, report.warnings) == (3, 2, [])
    assert [t["text"] for t in turns(conn)] == shown(rows)
    # Dates out of order stay as written; the transcript keeps the file's order.
    assert [t["ts"][:10] for t in turns(conn)] == ["2023-05-21", "2023-04-29", "2023-05-21"]
    payload = json.loads(
        conn.execute("SELECT payload FROM event_log WHERE kind = 'chat_created'").fetchone()[0]
    )
    assert payload["bot_ids"] == ["megumin", "aqua"] and payload["group"] is True


def test_every_date_form_in_one_file(conn, tmp_path):
    rows = [
        HEADER,
        msg("Mira", "a", date=1717599410682),
        msg("Mira", "b", date="June 5, 2024 3:03pm"),
        msg("Mira", "c", date="2024-6-5 @15h 04m 05s 006ms"),
        msg("Mira", "d", date="2024-06-05@15h05m00s"),
        msg("Mira", "e", date="2024-06-05T15:06:00.500Z"),
        msg("Mira", "f", date="1717600020000"),
    ]
    import_sillytavern(conn, write(tmp_path / "dates.jsonl", rows))
    assert [t["ts"] for t in turns(conn)] == [
        "2024-06-05T14:56:50.682000Z",
        "2024-06-05T15:03:00.000000Z",
        "2024-06-05T15:04:05.006000Z",
        "2024-06-05T15:05:00.000000Z",
        "2024-06-05T15:06:00.500000Z",
        "2024-06-05T15:07:00.000000Z",
    ]


def test_persona_renamed_mid_chat(conn, tmp_path):
    rows = [
        HEADER,
        msg("Wren", "Hello.", user=True),
        msg("Mira", "Hi."),
        msg("Robin", "I go by Robin now.", user=True),
    ]
    report = import_sillytavern(conn, write(tmp_path / "rename.jsonl", rows))
    live = turns(conn)
    assert [t["kind"] for t in live] == ["user_turn", "assistant_turn", "user_turn"]
    assert "name" not in live[0] and live[2]["name"] == "Robin"
    assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Wren",)
    assert report.warnings == [
        "the persona's name changes mid-chat ('Wren', then 'Robin'): every user message is "
        "yours, each keeps its name in the payload (rename.jsonl)"
    ]


GROUP = {
    "id": "1721443860861",
    "name": "Villain Pub",
    "members": ["John Milton.png", "Miraak.png"],
    "chat_id": "2024-7-20@07h48m00s",
    "chats": ["2024-7-19@22h51m00s", "2024-7-20@07h48m00s"],
}
GROUP_ROWS = [msg("Chief", "Evening.", user=True), msg("John Milton", "Sit.")]


def _group_chat(conn) -> tuple[str, dict]:
    payload = json.loads(
        conn.execute("SELECT payload FROM event_log WHERE kind = 'chat_created'").fetchone()[0]
    )
    return payload["title"], payload


@pytest.mark.parametrize("layout", ["usual", "together"])
def test_group_definition_gives_title_and_members(conn, tmp_path, layout):
    chats = tmp_path / "default-user" / ("group chats" if layout == "usual" else "")
    groups = tmp_path / "default-user" / ("groups" if layout == "usual" else "")
    chat = write(chats / "2024-7-20@07h48m00s.jsonl", GROUP_ROWS)
    groups.mkdir(parents=True, exist_ok=True)
    (groups / "1721443860861.json").write_text(json.dumps(GROUP), encoding="utf-8")
    import_sillytavern(conn, chat if layout == "usual" else tmp_path / "default-user")
    title, payload = _group_chat(conn)
    assert title == "Villain Pub - 2024-7-20@07h48m00s"
    assert payload["members"] == ["John Milton", "Miraak"] and payload["group_id"] == GROUP["id"]
    assert [t["text"] for t in turns(conn)] == shown(GROUP_ROWS)


def test_group_chat_without_its_definition(conn, tmp_path):
    import_sillytavern(conn, write(tmp_path / "2024-7-20@07h48m00s.jsonl", GROUP_ROWS))
    title, payload = _group_chat(conn)
    assert title == "John Milton - 2024-7-20@07h48m00s" and "members" not in payload


def test_group_definition_alone_is_refused(tmp_path):
    path = tmp_path / "groups" / "1721443860861.json"
    path.parent.mkdir()
    path.write_text(json.dumps(GROUP), encoding="utf-8")
    for target in (path, path.parent):
        with pytest.raises(rpkit.ImportFormatError, match="a SillyTavern group definition"):
            import_file(tmp_path / "h.db", "sillytavern", target)
    assert not (tmp_path / "h.db").exists()


@pytest.mark.parametrize(
    ("value", "words"),
    [(3, "is_system must be true or false, not 3"), ([], "is_system must be true or false")],
)
def test_what_sillytavern_could_not_have_written_is_still_refused(conn, tmp_path, value, words):
    path = write(tmp_path / "bad.jsonl", [HEADER, msg("Mira", "x", is_system=value)])
    with pytest.raises(rpkit.ImportFormatError, match=f"bad.jsonl: line 2: {words}"):
        import_sillytavern(conn, path)
    assert conn.execute("SELECT COUNT(*) FROM event_log").fetchone() == (0,)
