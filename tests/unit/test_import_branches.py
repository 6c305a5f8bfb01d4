"""SillyTavern branches: a file naming its main chat imports as a fork of it, nested ones too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rpkit
from rpkit import frames
from rpkit.importers import import_sillytavern

from ..helpers import log_rows

HEADER = {"user_name": "Wren", "character_name": "Mira"}
LINES = [
    ("Mira", False, "Rain again. Come in, love."),
    ("Wren", True, "Thanks. A bowl of stew?"),
    ("Mira", False, "Coming right up."),
    ("Wren", True, "Any news from the road?"),
    ("Mira", False, "Bandits near the ford."),
]


def message(i: int, name: str, is_user: bool, mes: str, **extra: object) -> dict:
    row = {
        "name": name,
        "is_user": is_user,
        "is_system": False,
        "send_date": f"2024-06-05T14:{10 + i:02d}:00.000Z",
        "mes": mes,
    }
    if extra:
        row["extra"] = extra
    return row


def chat_file(folder: Path, name: str, rows: list[dict], main: str | None = None) -> Path:
    header = {**HEADER, "create_date": "2024-6-5@14h10m00s", "chat_metadata": {}}
    if main is not None:
        header["chat_metadata"] = {"main_chat": main}
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [header, *rows]), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A main chat, a branch of it at message 2, and a branch of the branch at message 4."""
    f = tmp_path / "chats"
    f.mkdir()
    main = [message(i, *line) for i, line in enumerate(LINES)]
    main[2]["extra"] = {"branches": ["Branch #1 - Mira"]}
    chat_file(f, "Mira - main", main)
    branch = [
        *main[:3],
        message(3, "Wren", True, "Let's leave tonight."),
        message(4, "Mira", False, "Tonight? Fine."),
    ]
    chat_file(f, "Branch #1 - Mira", branch, main="Mira - main")
    nested = [*branch, message(5, "Wren", True, "Bring the lantern.")]
    chat_file(f, "Branch #2 - Mira", nested, main="Branch #1 - Mira")
    # named like a branch, but no main_chat: a chat of its own
    chat_file(f, "Branch #23 - Mira", [message(0, "Mira", False, "A new day.")])
    return f


def chat_id_of(conn, stem: str) -> int:
    for chat_id, file in conn.execute(
        "SELECT chat_id, json_extract(payload, '$.source.file') FROM event_log "
        "WHERE kind = 'chat_created'"
    ):
        if Path(file).stem == stem:
            return chat_id
    raise AssertionError(stem)


def live_text(conn, chat_id: int) -> list[str]:
    t = frames.turns(conn, chat_id, include_retired=False)
    return t.sort_values("position")["text"].tolist()


def test_branches_import_as_forks_at_the_last_shared_message(folder, tmp_path):
    with rpkit.open_db(tmp_path / "h.db") as conn:
        report = import_sillytavern(conn, folder)
        assert report.chats == 4
        main = chat_id_of(conn, "Mira - main")
        b1, b2 = chat_id_of(conn, "Branch #1 - Mira"), chat_id_of(conn, "Branch #2 - Mira")
        root = chat_id_of(conn, "Branch #23 - Mira")
        chats = frames.chats(conn).set_index("chat_id")
        assert pd_none(chats.loc[main, "parent_chat_id"]) and pd_none(
            chats.loc[root, "parent_chat_id"]
        )
        assert chats.loc[b1, "parent_chat_id"] == main and chats.loc[b2, "parent_chat_id"] == b1
        main_turns = frames.turns(conn, main, include_retired=False).sort_values("position")
        b1_turns = frames.turns(conn, b1, include_retired=False).sort_values("position")
        # the fork point is the last message they share: message 2 of the main chat
        assert chats.loc[b1, "forked_from_event_id"] == int(main_turns["event_id"].iloc[2])
        assert chats.loc[b2, "forked_from_event_id"] == int(b1_turns["event_id"].iloc[4])
        # each reads as its file does
        assert live_text(conn, main) == [t for _, _, t in LINES]
        assert live_text(conn, b1)[3:] == ["Let's leave tonight.", "Tonight? Fine."]
        assert live_text(conn, b2)[-1] == "Bring the lantern."
        # the shared messages name the turns they copy; the main chat's link is kept
        copied = [
            json.loads(p).get("forked_from")
            for (p,) in conn.execute(
                "SELECT payload FROM event_log WHERE chat_id = ? AND kind IN "
                "('user_turn', 'assistant_turn') ORDER BY id",
                (b1,),
            )
        ]
        assert copied == [*main_turns["event_id"].iloc[:3].astype(int).tolist(), None, None]
        link = conn.execute(
            "SELECT json_extract(payload, '$.branches') FROM event_log WHERE id = ?",
            (int(main_turns["event_id"].iloc[2]),),
        ).fetchone()[0]
        assert json.loads(link) == ["Branch #1 - Mira"]
        # classify derives nothing twice: copies are skipped
        judged = rpkit.classify(conn)
        assert judged.turns == 5 + 2 + 1 + 1
        assert rpkit.verify(conn).ok
    # importing again adds nothing
    with rpkit.open_db(tmp_path / "h.db") as conn:
        before = log_rows(conn)
        again = import_sillytavern(conn, folder)
        assert again.events == 0 and again.chats == 0
        assert log_rows(conn) == before


def test_a_branch_imported_after_its_main_chat_finds_it_in_the_history(folder, tmp_path):
    main, branch = folder / "Mira - main.jsonl", folder / "Branch #1 - Mira.jsonl"
    with rpkit.open_db(tmp_path / "h.db") as conn:
        import_sillytavern(conn, main)
        import_sillytavern(conn, branch)
        chats = frames.chats(conn).set_index("chat_id")
        assert chats.loc[chat_id_of(conn, "Branch #1 - Mira"), "parent_chat_id"] == chat_id_of(
            conn, "Mira - main"
        )


def test_a_branch_whose_main_chat_is_missing_is_a_root_with_a_warning(folder, tmp_path):
    with rpkit.open_db(tmp_path / "h.db") as conn:
        report = import_sillytavern(conn, folder / "Branch #2 - Mira.jsonl")
        chats = frames.chats(conn)
        assert chats["parent_chat_id"].isna().all()
        assert any("'Branch #1 - Mira'" in w and "chat of its own" in w for w in report.warnings)
        assert rpkit.verify(conn).ok


def pd_none(value: object) -> bool:
    return value is None or str(value) in {"<NA>", "nan", "None"}
