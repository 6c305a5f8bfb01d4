"""SillyTavern chats: swipes, hidden system messages, dates, branches, groups, refusals."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.cli import main
from rpkit.importers import import_file, import_sillytavern
from rpkit.importers.plan import parse_date

from ..helpers import ROOT, file_state, sql_dump

SAMPLES = ROOT / "data" / "exports" / "sillytavern"
MAIN = "Mira - 2024-6-5@14h56m50s.jsonl"
BRANCH = "Branch #1 - 2024-6-6@09h12m05s.jsonl"
GROUP = "group/Thornwood road - 2024-07-12@01h31m37s.jsonl"


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    shutil.copytree(SAMPLES, folder)
    return folder


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
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


def chat_of(conn, file: str) -> int:
    return conn.execute(
        "SELECT chat_id FROM event_log WHERE kind = 'chat_created' "
        "AND json_extract(payload, '$.source.file') = ?",
        (file,),
    ).fetchone()[0]


def by_ref(conn, file: str) -> dict[str, tuple]:
    """Turns of one file by source ref: (id, kind, text, ts, superseded_by)."""
    return {
        ref: (i, k, json.loads(p)["text"], ts, sup)
        for i, k, p, ts, sup, ref in conn.execute(
            "SELECT id, kind, payload, ts, superseded_by, json_extract(payload, '$.source.ref') "
            "FROM event_log WHERE kind IN ('user_turn', 'assistant_turn') "
            "AND json_extract(payload, '$.source.file') = ?",
            (file,),
        )
    }


def shown_lines(path: Path) -> list[str]:
    """What SillyTavern shows of a chat file: every non-system message's ``mes``."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r["mes"] for r in rows if "mes" in r and not r.get("is_system")]


def test_sample_folder_report(conn, samples):
    report = import_sillytavern(conn, samples)
    assert (report.chats, report.turns, report.retired, report.hidden, report.bots) == (
        3,
        28,
        10,
        2,
        4,
    )
    assert report.visible == 18 and report.events == 38
    assert (report.first_event_id, report.last_event_id) == (1, 38)
    assert report.files == [BRANCH, MAIN, "Thornwood road - 2024-07-12@01h31m37s.jsonl"]
    text = "\n".join(report.warnings)
    assert "'mes' differs from its selected swipe" in text
    assert "swipe_info does not match swipes" in text and "1 swipe_info for 2 swipes" in text
    assert "unknown message keys kept out of the import: mood" in text
    assert "1 message(s) without a date took the date of the message before them" in text
    assert rpkit.verify(conn).ok
    assert "ImportReport" in repr(report) and "10 retired (8 alternatives, 2 hidden)" in repr(
        report
    )
    assert "<table>" in report._repr_html_() and "mood" in report._repr_html_()


def test_visible_transcript_is_what_sillytavern_shows(conn, samples):
    import_sillytavern(conn, samples)
    for name in (MAIN, BRANCH, GROUP):
        assert transcript(conn, chat_of(conn, Path(name).name)) == shown_lines(samples / name)
    chats = conn.execute("SELECT title FROM chats ORDER BY id").fetchall()
    # Oldest chat first; a branch is its own chat and says what it branched from.
    assert chats == [
        ("Mira - 2024-6-5@14h56m50s",),
        ("Mira - Branch #1 - 2024-6-6@09h12m05s (fork of Mira - 2024-6-5@14h56m50s)",),
        ("Thornwood road - 2024-07-12@01h31m37s",),
    ]


def test_swipes_are_retired_by_the_selected_one(conn, samples):
    import_sillytavern(conn, samples / MAIN)
    refs = by_ref(conn, MAIN)
    selected = refs["4"]
    assert selected[2].startswith("*She laughs and fills a bowl.*")
    for k, ts in (("4/0", "2024-06-05T14:58:21.500000Z"), ("4/1", "2024-06-05T14:58:30.250000Z")):
        alt_id, kind, _, alt_ts, sup = refs[k]
        assert kind == "assistant_turn" and sup == selected[0] and alt_id < sup
        assert alt_ts == ts  # each swipe keeps its own date from swipe_info
    assert selected[3] == "2024-06-05T14:58:40.003000Z" and selected[4] is None
    payload = json.loads(
        conn.execute("SELECT payload FROM event_log WHERE id = ?", (selected[0],)).fetchone()[0]
    )
    assert payload["revision"] == "swipe" and payload["swipe"] == 2
    assert payload["source"] == {"format": "sillytavern", "file": MAIN, "ref": "4"}
    # The greeting's alternate greeting, and a swipe whose mes was edited afterwards.
    assert refs["2/1"][4] == refs["2"][0]
    assert refs["6"][2].endswith("Be careful.") and refs["6/1"][4] == refs["6"][0]
    hidden, sup = conn.execute(
        "SELECT hidden, superseded_by FROM event_log WHERE id = ?", (refs["6/1"][0],)
    ).fetchone()
    assert hidden == 1 and sup > refs["6/1"][0]


def test_system_messages_become_hidden_turns(conn, samples):
    import_sillytavern(conn, samples / MAIN)
    turn_id, kind, text, _, sup = by_ref(conn, MAIN)["7"]
    assert text.startswith("[Author's note") and kind == "assistant_turn"
    assert conn.execute("SELECT kind, payload FROM event_log WHERE id = ?", (sup,)).fetchone() == (
        "turn_hidden",
        json.dumps({"target": turn_id}),
    )
    assert text not in transcript(conn, chat_of(conn, MAIN))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1717599600000, "2024-06-05T15:00:00+00:00"),
        ("1717599645000", "2024-06-05T15:00:45+00:00"),
        (1678015311.655875, "2023-03-05T11:21:51.655875+00:00"),
        ("June 19, 2023 2:20pm", "2023-06-19T14:20:00+00:00"),
        ("June 19, 2023 12:05am", "2023-06-19T00:05:00+00:00"),
        ("2024-6-5 @14h 56m 50s 682ms", "2024-06-05T14:56:50.682000+00:00"),
        ("2024-07-12@01h31m37s", "2024-07-12T01:31:37+00:00"),
        ("2024-07-12@01h31m37s5ms", "2024-07-12T01:31:37.005000+00:00"),
        ("2024-07-12T03:31:37+02:00", "2024-07-12T01:31:37+00:00"),
        ("2024-07-12T01:31:37", "2024-07-12T01:31:37+00:00"),  # naive: taken as UTC
        ("", None),
        (None, None),
    ],
)
def test_every_date_form(value, expected):
    got = parse_date(value)
    assert (got.isoformat() if got else None) == expected


def test_dates_in_the_log(conn, samples):
    import_sillytavern(conn, samples / MAIN)
    refs = by_ref(conn, MAIN)
    assert refs["5"][3] == "2024-06-05T15:00:00.000000Z"  # epoch ms number
    assert refs["6"][3] == "2024-06-05T15:00:45.000000Z"  # epoch ms string
    assert refs["8"][3] == "2024-06-05T15:01:10.000000Z"  # missing: the message before's
    assert refs["9"][3] == "2024-06-05T15:03:00.000000Z"  # "June 5, 2024 3:03pm"
    created = conn.execute("SELECT created_at FROM chats").fetchone()[0]
    assert created == "2024-06-05T14:56:50.682000Z"  # the header's create_date


def test_unknown_date_form_is_tolerated_and_reported(conn, tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"user_name": "U", "character_name": "Bo", "create_date": 1700000000000},
            {"name": "U", "is_user": True, "mes": "hi", "send_date": "yesterday-ish"},
        ],
    )
    report = import_sillytavern(conn, path)
    assert report.turns == 1
    assert any("unrecognised date" in w and "yesterday-ish" in w for w in report.warnings)
    assert conn.execute("SELECT ts FROM event_log WHERE kind = 'user_turn'").fetchone() == (
        "2023-11-14T22:13:20.000000Z",
    )


def test_second_import_adds_nothing(conn, samples):
    first = import_sillytavern(conn, samples)
    before = sql_dump(conn)
    again = import_sillytavern(conn, samples)
    assert sql_dump(conn) == before
    assert (again.chats, again.turns, again.events, again.bots) == (0, 0, 0, 0)
    assert again.already_imported == first.turns


def test_a_grown_chat_adds_only_its_new_messages(conn, samples):
    path = samples / MAIN
    import_sillytavern(conn, path)
    chat = chat_of(conn, MAIN)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            json.dumps(
                {
                    "name": "Wren",
                    "is_user": True,
                    "mes": "See you soon.",
                    "send_date": "2024-6-5 @15h 10m 00s 0ms",
                }
            )
            + "\n"
        )
    report = import_sillytavern(conn, path)
    assert (report.chats, report.chats_extended, report.turns) == (0, 1, 1)
    assert transcript(conn, chat)[-1] == "See you soon."
    assert conn.execute("SELECT COUNT(*) FROM chats").fetchone()[0] == 1


def test_group_chat_cast_and_user(conn, samples):
    import_sillytavern(conn, samples / GROUP)
    payload = json.loads(
        conn.execute("SELECT payload FROM event_log WHERE kind = 'chat_created'").fetchone()[0]
    )
    assert payload["bot_ids"] == ["sir-corvin", "sable"] and payload["group"] is True
    assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Wren",)
    assert conn.execute("SELECT id, name FROM bots ORDER BY id").fetchall() == [
        ("sable", "Sable"),
        ("sir-corvin", "Sir Corvin"),
    ]


def test_bots_are_reused_by_name_across_files(conn, samples):
    import_sillytavern(conn, samples / MAIN)
    import_sillytavern(conn, samples / BRANCH)
    assert conn.execute("SELECT id FROM bots WHERE name = 'Mira'").fetchall() == [("mira",)]
    assert conn.execute("SELECT COUNT(*) FROM chats").fetchone()[0] == 2


GOOD_HEADER = {"user_name": "U", "character_name": "Bo", "create_date": 1700000000000}
GOOD = {"name": "Bo", "is_user": False, "mes": "hello", "send_date": 1700000001000}


def _bad_cases():
    def rows(*lines):
        return b"".join(
            (x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines
        )

    return {
        "bad json line": (rows(GOOD_HEADER, GOOD, b"{not json"), "line 3: not JSON"),
        "truncated": (rows(GOOD_HEADER, GOOD)[:-8], "line 2: the line is cut off"),
        "not utf-8": (rows(GOOD_HEADER, GOOD) + b'{"mes": "caf\xe9"}\n', "line 3: not UTF-8"),
        "utf-16": (
            "\n".join(json.dumps(x) for x in (GOOD_HEADER, GOOD)).encode("utf-16"),
            "UTF-16",
        ),
        "line is a list": (rows(GOOD_HEADER, GOOD, [1, 2]), "line 3: a line must be a JSON object"),
        "no mes": (
            rows(GOOD_HEADER, {"name": "Bo", "is_user": False}),
            "line 2: the message has no 'mes'",
        ),
        "mes not text": (rows(GOOD_HEADER, {**GOOD, "mes": 5}), "line 2: 'mes' must be a string"),
        "no is_user": (
            rows(GOOD_HEADER, {"name": "Bo", "mes": "x"}),
            "line 2: the message has no 'is_user'",
        ),
        "is_user not bool": (rows(GOOD_HEADER, {**GOOD, "is_user": 3}), "line 2: is_user must be"),
        "swipes not text": (rows(GOOD_HEADER, {**GOOD, "swipes": ["a", 1]}), "line 2: 'swipes'"),
        "second header": (rows(GOOD_HEADER, GOOD, GOOD_HEADER), "line 3: a second chat header"),
        "empty": (b"", "the file is empty"),
        "neither": (rows({"foo": 1}), "neither a chat header"),
        "json document": (json.dumps([GOOD], indent=1).encode(), "one JSON document"),
        "chatgpt file": (
            json.dumps([{"mapping": {}, "title": "x"}]).encode(),
            "looks like ChatGPT",
        ),
    }


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_malformed_files_are_refused_and_nothing_is_written(db_path, samples, tmp_path, case):
    data, message = _bad_cases()[case]
    with rpkit.open_db(db_path) as conn:
        import_sillytavern(conn, samples / MAIN)
    before = file_state(db_path)
    bad = tmp_path / "bad chat.jsonl"
    bad.write_bytes(data)
    with rpkit.open_db(db_path) as conn:
        with pytest.raises(rpkit.ImportFormatError) as err:
            import_sillytavern(conn, bad)
        dump = sql_dump(conn)
        assert "bad chat.jsonl" in str(err.value) and message in str(err.value)
    assert file_state(db_path) == before
    with rpkit.open_db(db_path) as conn:
        assert sql_dump(conn) == dump


def test_a_bad_file_in_a_folder_refuses_the_whole_folder(conn, samples):
    (samples / "zz.jsonl").write_text('{"name": "x", "is_user": true, "mes": 1}\n')
    with pytest.raises(rpkit.ImportFormatError, match="zz.jsonl: line 1"):
        import_sillytavern(conn, samples)
    assert conn.execute("SELECT COUNT(*) FROM event_log").fetchone() == (0,)


def test_skip_bad_lists_the_bad_records(conn, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        json.dumps(GOOD_HEADER).encode()
        + b"\n"
        + json.dumps(GOOD).encode()
        + b"\n{oops\n"
        + json.dumps({"name": "U", "is_user": True, "mes": "bye"}).encode()
        + b"\n"
    )
    report = import_sillytavern(conn, path, skip_bad=True)
    assert report.turns == 2
    assert report.bad_records == [
        "c.jsonl: line 3: not JSON (Expecting property name enclosed in double quotes at column 2)"
    ]
    assert report.skipped == {"bad record (skip_bad=True)": 1}
    assert transcript(conn, 1) == ["hello", "bye"]


def test_real_shaped_legacy_file(conn, tmp_path):
    """The shape of 2023 files: is_name, no is_system, no swipes, an empty extra."""
    path = write_jsonl(
        tmp_path / "1673323621108.jsonl",
        [
            {
                "user_name": "You",
                "character_name": "Aqua",
                "create_date": 1674559900991,
                "chat_metadata": {"note_prompt": "", "note_interval": 1},
            },
            {
                "name": "Aqua",
                "is_user": False,
                "is_name": True,
                "send_date": "2023-4-21 @20h 02m 47s 124ms",
                "mes": "I'm a goddess!",
            },
            {
                "name": "You",
                "is_user": True,
                "is_name": True,
                "send_date": "2023-4-21 @20h 03m 06s 446ms",
                "mes": "Sure you are.",
                "extra": {},
            },
        ],
    )
    report = import_sillytavern(conn, path)
    assert (report.chats, report.turns, report.retired, report.warnings) == (1, 2, 0, [])
    assert conn.execute("SELECT title FROM chats").fetchone() == ("Aqua - 1673323621108",)


def test_cli_import_and_refusal(tmp_path, samples):
    runner = CliRunner()
    db = tmp_path / "cli.db"
    result = runner.invoke(main, ["import", "sillytavern", str(samples), str(db)])
    assert result.exit_code == 0, result.output
    assert "chats             3 new" in result.output and "28 new: 18 visible" in result.output
    again = runner.invoke(main, ["import", "sillytavern", str(samples), str(db)])
    assert "already imported  28 messages" in again.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    fresh = tmp_path / "fresh.db"
    refused = runner.invoke(main, ["import", "sillytavern", str(bad), str(fresh)])
    assert refused.exit_code == 1 and "bad.jsonl: line 1: not JSON" in refused.output
    assert "--skip-bad" in refused.output
    assert not fresh.exists()  # the export is read before the history is created
    skipped = runner.invoke(main, ["import", "sillytavern", str(bad), str(fresh), "--skip-bad"])
    assert skipped.exit_code == 0 and "bad records (1)" in skipped.output


def test_import_file_refuses_an_unknown_format(tmp_path):
    with pytest.raises(rpkit.ImportFormatError, match="unknown export format 'tavern'"):
        import_file(tmp_path / "x.db", "tavern", tmp_path)
    assert not (tmp_path / "x.db").exists()


def test_import_time_fallback_for_a_chat_without_any_date(conn, tmp_path):
    path = write_jsonl(
        tmp_path / "undated.jsonl",
        [
            {"name": "U", "is_user": True, "mes": "a"},
            {"name": "Bo", "is_user": False, "mes": "b"},
        ],
    )
    before = datetime.now(UTC)
    report = import_sillytavern(conn, path)
    stamps = {r[0] for r in conn.execute("SELECT ts FROM event_log WHERE kind LIKE '%turn'")}
    assert len(stamps) == 1
    stamp = datetime.fromisoformat(stamps.pop().replace("Z", "+00:00"))
    assert before <= stamp <= datetime.now(UTC)
    assert any("stamped with the time of the import" in w for w in report.warnings)


def test_newer_header_with_unused_names(conn, tmp_path):
    """Newer SillyTavern writes user_name/character_name "unused" and no create_date."""
    path = write_jsonl(
        tmp_path / "Aqua - 2025-01-02@10h00m00s.jsonl",
        [
            {
                "chat_metadata": {"integrity": "x"},
                "user_name": "unused",
                "character_name": "unused",
            },
            {"name": "Aqua", "is_user": False, "mes": "Hi!", "send_date": "2025-01-02T10:00:00Z"},
            {"name": "Kazuma", "is_user": True, "mes": "Hey.", "send_date": "2025-01-02T10:01:00Z"},
        ],
    )
    report = import_sillytavern(conn, path)
    assert (report.chats, report.turns, report.warnings) == (1, 2, [])
    payload = json.loads(
        conn.execute("SELECT payload FROM event_log WHERE kind = 'chat_created'").fetchone()[0]
    )
    assert payload["bot_ids"] == ["aqua"] and "group" not in payload
    assert payload["title"] == "Aqua - 2025-01-02@10h00m00s"
    assert conn.execute("SELECT name FROM you_entity").fetchone() == ("Kazuma",)
    assert conn.execute("SELECT created_at FROM chats").fetchone() == (
        "2025-01-02T10:00:00.000000Z",
    )


def test_skip_bad_skips_an_empty_file_in_a_folder(conn, samples):
    (samples / "empty.jsonl").write_bytes(b"")
    with pytest.raises(rpkit.ImportFormatError, match="empty.jsonl: line 1: the file is empty"):
        import_sillytavern(conn, samples)
    report = import_sillytavern(conn, samples, skip_bad=True)
    assert report.chats == 3 and report.skipped == {"bad record (skip_bad=True)": 1}
    assert report.bad_records == [
        "empty.jsonl: line 1: the file is empty; is it a SillyTavern chat?"
    ]
