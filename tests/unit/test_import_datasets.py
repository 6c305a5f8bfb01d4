"""Research datasets: each fixture's visible transcript equals its records, alternatives retired."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import rpkit
from rpkit.importers import import_file

from ..helpers import ROOT, file_state

DATASETS = ROOT / "tests" / "fixtures" / "datasets"
sys.path.insert(0, str(DATASETS))
import make  # noqa: E402  (the fixtures' records, as written)


def copy(tmp_path: Path, name: str) -> Path:
    src = DATASETS / name
    dst = tmp_path / "in" / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(src, dst) if src.is_dir() else shutil.copyfile(src, dst))


def transcripts(conn) -> dict[int, list[tuple[str, str]]]:
    """Each chat's live turns as (side, text), in log order."""
    out: dict[int, list[tuple[str, str]]] = {}
    for chat, kind, text in conn.execute(
        "SELECT chat_id, kind, json_extract(payload, '$.text') FROM event_log "
        "WHERE kind IN ('user_turn', 'assistant_turn') AND superseded_by IS NULL AND hidden = 0 "
        "ORDER BY id"
    ):
        out.setdefault(chat, []).append(("user" if kind == "user_turn" else "bot", text))
    return out


def retired(conn) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT json_extract(payload, '$.text') FROM event_log WHERE superseded_by IS NOT NULL "
            "AND kind = 'assistant_turn' ORDER BY id"
        )
    ]


def chat_field(conn, field: str) -> list:
    return [
        r[0]
        for r in conn.execute(
            f"SELECT json_extract(payload, '$.{field}') FROM event_log WHERE kind = 'chat_created' ORDER BY id"
        )
    ]


def side(role: str) -> str:
    return "user" if role == "user" else "bot"


def text(content) -> str:
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content)
    return content or ""


def messages(conv: list[dict]) -> list[tuple[str, str]]:
    return [
        (side(m["role"]), text(m["content"]))
        for m in conv
        if m["role"] in ("user", "assistant") and text(m["content"]).strip()
    ]


def imported(tmp_path: Path, name: str, fmt: str | None = None):
    path = copy(tmp_path, name)
    db = tmp_path / "h.db"
    report = import_file(db, fmt, path)
    again = import_file(db, fmt, path)
    assert again.events == 0 and again.chats == 0  # re-import adds nothing
    return report, rpkit.open_db(db)


def test_pippa(tmp_path):
    report, conn = imported(tmp_path, "pippa.jsonl")
    with conn as conn:
        got = list(transcripts(conn).values())
        expected = []
        for rec in make.PIPPA:
            conv = [
                ("user" if m["is_human"] else "bot", m["message"])
                for m in rec["conversation"]
                if m["message"]
            ]
            if not conv or conv[0] != ("bot", rec["bot_greeting"]):
                conv.insert(0, ("bot", rec["bot_greeting"]))
            expected.append(conv)
        assert got == expected
        persona = conn.execute(
            "SELECT json_extract(payload, '$.bot_description') FROM event_log WHERE kind = 'bot_created' ORDER BY id"
        ).fetchall()
        assert persona == [("Keeper of the lighthouse",), ("A ranger",)]
        # the bots table's persona: the description, then the definitions
        shown = conn.execute("SELECT name, persona FROM bots ORDER BY name").fetchall()
        assert shown == [
            ("Kade", "A ranger"),
            ("Mira", "Keeper of the lighthouse\n\n{{char}}: I keep the lighthouse.\nEND_OF_DIALOG"),
        ]
    assert report.records == 4 and report.skipped[rpkit.importers.report.DUPLICATE] == 1
    assert sum("PIPPA has no times" in w for w in report.warnings) == 1


@pytest.mark.parametrize(
    ("name", "records"),
    [
        ("wildchat.jsonl", make.WILDCHAT),
        ("wildchat-extra-column.parquet", make.WILDCHAT_PARQUET),
        ("wildchat-missing-column.parquet", make.WILDCHAT_PARQUET),
    ],
)
def test_wildchat(tmp_path, name, records):
    report, conn = imported(tmp_path, name)
    with conn as conn:
        assert [t for t in transcripts(conn).values()] == [
            m for r in records if (m := messages(r["conversation"]))
        ]
        assert chat_field(conn, "model") == [r["model"] for r in records]
        first = conn.execute(
            "SELECT ts, json_extract(payload, '$.language'), json_extract(payload, '$.turn_identifier') "
            "FROM event_log WHERE kind = 'user_turn' ORDER BY id LIMIT 1"
        ).fetchone()
        assert first == ("2023-04-09T00:02:53.000000Z", "English", 101)
        flagged = conn.execute(
            "SELECT json_extract(payload, '$.moderation') FROM event_log WHERE chat_id = 2 "
            "AND json_extract(payload, '$.moderation.flagged') = 1"
        ).fetchall()
        assert len(flagged) == 1 and json.loads(flagged[0][0])["categories"] == ["harassment"]
    if "missing" in name:
        with rpkit.open_db(tmp_path / "h.db") as c:
            assert chat_field(c, "toxic") == [None, None, None]
    assert report.hidden == 1  # the system message


def test_compressed_copies_give_the_same_history(tmp_path):
    histories = []
    for name in ("lmsys.jsonl.gz", "lmsys.jsonl.zst"):
        path = copy(tmp_path, name)
        db = tmp_path / f"{name}.db"
        import_file(db, None, path)
        with rpkit.open_db(db) as conn:
            histories.append(transcripts(conn))
            assert chat_field(conn, "conversation_id") == ["l1", "l2"]
    assert (
        histories[0]
        == histories[1]
        == {i: messages(r["conversation"]) for i, r in enumerate(make.LMSYS, start=1)}
    )


def test_a_truncated_gz_is_refused_naming_the_file_and_nothing_is_written(tmp_path):
    path = copy(tmp_path, "lmsys-truncated.jsonl.gz")
    db = tmp_path / "h.db"
    with pytest.raises(
        rpkit.ImportFormatError, match="lmsys-truncated.jsonl.gz: the .gz data is cut off"
    ):
        import_file(db, None, path)
    assert not db.exists()
    import_file(db, None, copy(tmp_path, "preference.jsonl"))
    before = file_state(db)
    with pytest.raises(rpkit.ImportFormatError, match="lmsys-truncated.jsonl.gz"):
        import_file(db, "lmsys", path)
    assert file_state(db) == before


@pytest.mark.parametrize("name", ["arena.json", "arena-parquet"])
def test_arena_b_is_a_fork_of_a_with_the_winner(tmp_path, name):
    report, conn = imported(tmp_path, name)
    with conn as conn:
        chats = conn.execute(
            "SELECT id, parent_chat_id, forked_from_event_id FROM chats ORDER BY id"
        ).fetchall()
        got = transcripts(conn)
        for k, rec in enumerate(make.ARENA):
            a, b = 2 * k + 1, 2 * k + 2
            assert got[a] == messages(rec["conversation_a"]) and got[b] == messages(
                rec["conversation_b"]
            )
            assert chats[a - 1][1] is None and chats[b - 1][1] == a
            # the fork is at the shared prompt: B's copy of it names A's
            copied = conn.execute(
                "SELECT json_extract(payload, '$.forked_from') FROM event_log WHERE chat_id = ? "
                "AND kind = 'user_turn' ORDER BY id LIMIT 1",
                (b,),
            ).fetchone()[0]
            assert copied == chats[b - 1][2]
        assert chat_field(conn, "winner") == [w for r in make.ARENA for w in (r["winner"],) * 2]
        assert chat_field(conn, "side") == ["a", "b"] * 3
    assert report.records == 3 and report.chats == 6


def test_preference_chosen_is_live_and_rejected_retired(tmp_path):
    report, conn = imported(tmp_path, "preference.jsonl")
    with conn as conn:
        got = list(transcripts(conn).values())
        assert got == [
            [("user", "Is the sky blue?"), ("bot", "Yes, on a clear day.")],
            [("user", "The capital of France is"), ("bot", " Paris.")],
            [("user", "Hi"), ("bot", "Hello, friend.")],
        ]
        assert retired(conn) == ["No.", " Lyon.", "What?"]
        revisions = conn.execute(
            "SELECT json_extract(payload, '$.revision') FROM event_log WHERE kind = 'assistant_turn' "
            "AND superseded_by IS NULL"
        ).fetchall()
        assert revisions == [("rejected",)] * 3
        assert chat_field(conn, "score_chosen") == [8.0, None, None]
    assert report.retired == 4  # three rejected replies and one hidden system prompt


def test_hh_rlhf_shares_its_prefix_once(tmp_path):
    _report, conn = imported(tmp_path, "hh-rlhf.jsonl")
    with conn as conn:
        got = list(transcripts(conn).values())
        assert got[1] == [
            ("user", "Hi"),
            ("bot", "Hello!"),
            ("user", "Tell me a joke"),
            ("bot", "Why did the hen cross?"),
        ]
        assert retired(conn) == ["Microwave it.", "No."]
        assert conn.execute(
            "SELECT COUNT(*) FROM event_log WHERE json_extract(payload, '$.text') = 'Hello!'"
        ).fetchone() == (1,)


def test_textgen_visible_is_the_transcript_and_versions_are_retired(tmp_path):
    _report, conn = imported(tmp_path, "logs")
    with conn as conn:
        (got,) = transcripts(conn).values()
        assert got == [
            ("bot", "Welcome to the shop."),
            ("user", "What's for sale?"),
            ("bot", "Lanterns, mostly."),
            ("user", "How much?"),
            ("bot", "Two coins."),
        ]
        assert retired(conn) == ["Five coins."]
        assert conn.execute("SELECT name FROM bots").fetchall() == [("Shopkeeper",)]
        assert conn.execute(
            "SELECT MIN(ts) FROM event_log WHERE kind = 'user_turn'"
        ).fetchone() == ("2025-01-05T14:31:00.000000Z",)


def test_textgen_an_interrupted_reply_is_left_out_with_a_warning(tmp_path):
    """The web UI shows "*Is typing...*" for a reply cut off, while ``internal`` holds ""."""
    log = tmp_path / "logs" / "chat" / "Mai" / "20240127-23-08-20.json"
    log.parent.mkdir(parents=True)
    log.write_text(
        json.dumps(
            {
                "visible": [["", "Hello!"], ["What&#x27;s up?", "*Is typing...*"], ["hi", "Hi."]],
                "internal": [
                    ["<|BEGIN-VISIBLE-CHAT|>", "Hello!"],
                    ["What's up?", ""],
                    ["hi", "Hi."],
                ],
            }
        )
    )
    report = import_file(tmp_path / "h.db", None, log)
    with rpkit.open_db(tmp_path / "h.db") as conn:
        assert list(transcripts(conn).values()) == [
            [("bot", "Hello!"), ("user", "What's up?"), ("user", "hi"), ("bot", "Hi.")]
        ]
    (warning,) = [w for w in report.warnings if "interrupted" in w]
    assert "'*Is typing...*'" in warning and "20240127-23-08-20.json" in warning


def test_cai_candidates_not_chosen_are_retired(tmp_path):
    _report, conn = imported(tmp_path, "cai-site.json")
    with conn as conn:
        (got,) = transcripts(conn).values()
        assert got == [
            ("bot", "Good morning!"),
            ("user", "Morning. Any news?"),
            ("bot", "A ship came in!"),
        ]
        assert retired(conn) == ["None at all.", "Ask the baker."]
    _report, conn = imported(tmp_path / "tools", "cai-tools.json")
    with conn as conn:
        got = transcripts(conn)
        assert list(got.values()) == [
            [("bot", "Hello, traveller."), ("user", "Hi Mira"), ("bot", "Tea?")]
        ]


def test_the_cli_says_what_it_took_the_file_for_and_counts_records(tmp_path):
    from click.testing import CliRunner

    from rpkit.cli import main

    path = copy(tmp_path, "pippa.jsonl")
    result = CliRunner().invoke(main, ["import", str(path), str(tmp_path / "h.db")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("pippa.jsonl: detected pippa (PIPPA")
    assert "4 read, 0 skipped as bad (--skip-bad), 1 duplicated, 3 imported" in result.output
    listed = CliRunner().invoke(main, ["import", "--list-formats"])
    for name in ("pippa", "wildchat", "lmsys", "arena", "preference", "hh_rlhf", "textgen", "cai"):
        assert name in listed.output


def test_a_trl_preference_file_round_trips_through_the_preference_export(tmp_path):
    from rpkit.exports.preferences import preferences

    path = copy(tmp_path, "preference.jsonl")
    db = tmp_path / "h.db"
    import_file(db, None, path)
    with rpkit.open_db(db) as conn:
        preferences(conn, tmp_path / "pairs.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "pairs.jsonl").read_text().splitlines()]

    def plain(messages):
        return [(m["role"], m["content"]) for m in messages]

    def shaped(value, role):
        return [(role, value)] if isinstance(value, str) else plain(value)

    got = [(plain(r["prompt"]), plain(r["chosen"]), plain(r["rejected"])) for r in rows]
    expected = []
    for rec in make.PREFERENCE:
        prompt = shaped(rec.get("prompt", []), "user")
        chosen, rejected = shaped(rec["chosen"], "assistant"), shaped(rec["rejected"], "assistant")
        if "prompt" not in rec:  # implicit prompt: the shared beginning is the prompt
            prompt, chosen, rejected = chosen[:-1], chosen[-1:], rejected[-1:]
        expected.append((prompt, chosen, rejected))  # the system prompt too, where it was
    assert got == expected
