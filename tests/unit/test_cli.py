"""The rpkit command, in-process, as the README shows it."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.cli import main

from ..helpers import file_state, log_rows


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


def test_readme_session(run, tmp_path):
    r = run("demo", "demo.db")
    assert r.exit_code == 0 and re.match(r"wrote \d+ events to demo.db", r.output)
    r = run("info", "demo.db")
    assert "chat 1" in r.output and "projected at" in r.output
    r = run("events", "demo.db", "--limit", "5")
    assert len(r.output.strip().splitlines()) == 5
    with rpkit.open_db(tmp_path / "demo.db") as conn:
        turn = conn.execute(
            "SELECT id FROM event_log WHERE kind = 'user_turn' AND hidden = 0 "
            "ORDER BY id LIMIT 1 OFFSET 30"
        ).fetchone()[0]
        point = rpkit.rewind_point(conn, turn)
        before = log_rows(conn)
    r = run("preview", "demo.db", "--turn", turn)
    assert r.exit_code == 0 and f"rewind to after event {point}" in r.output
    assert re.search(r"the undo record takes \d+(\.\d)? KB", r.output)
    r = run("rewind", "demo.db", "--turn", turn, "--yes")
    assert r.exit_code == 0 and re.search(r"rewound; undo record \(\d+(\.\d)? KB\)", r.output)
    with rpkit.open_db(tmp_path / "demo.db") as conn:
        assert log_rows(conn)[-1][0] == point
    r = run("snapshots", "demo.db")
    assert "rewind" in r.output and " record " in r.output
    snap = next((tmp_path / "snapshots").glob("rewind-*.sqlite"))
    r = run("restore", "demo.db", snap, "--yes")
    assert r.exit_code == 0 and "restored" in r.output
    with rpkit.open_db(tmp_path / "demo.db") as conn:
        assert log_rows(conn) == before
    r = run("verify", "demo.db")
    assert r.exit_code == 0 and "ok" in r.output


def test_rewind_asks_and_aborts_on_no(run, tmp_path):
    run("demo", "demo.db", "--events", "120")
    before = file_state(tmp_path / "demo.db")
    r = run("rewind", "demo.db", "50", input="n\n")
    assert r.exit_code == 1 and "Rewind?" in r.output and "Aborted" in r.output
    assert file_state(tmp_path / "demo.db") == before
    assert not (tmp_path / "snapshots").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["preview", "demo.db", "99999"], ["99999", "past the newest"]),
        (["preview", "demo.db", "--", "-3"], ["-3", "negative"]),
        (["rewind", "demo.db", "99999", "--yes"], ["99999"]),
        (["preview", "demo.db", "--turn", "1"], ["'you_set'"]),
        (["info", "missing.db"], ["does not exist", "rpkit demo"]),
        (["restore", "demo.db", "nothing.sqlite", "--yes"], ["not a file"]),
        (["demo", "demo.db"], ["exists", "--force"]),
    ],
)
def test_errors_are_one_line_and_change_nothing(run, tmp_path, args, words):
    run("demo", "demo.db", "--events", "120")
    before = file_state(tmp_path / "demo.db")
    r = run(*args)
    assert r.exit_code != 0
    for word in words:
        assert word in r.output
    assert "Traceback" not in r.output
    assert file_state(tmp_path / "demo.db") == before


def test_verify_fails_on_a_tampered_projection(run, tmp_path):
    run("demo", "demo.db", "--events", "120")
    with rpkit.open_db(tmp_path / "demo.db") as conn:
        conn.execute("UPDATE chat_state SET turn_count = 0")
    r = run("verify", "demo.db")
    assert r.exit_code == 1 and "NOT ok" in r.output


def test_every_command_has_help(run):
    for name, command in main.commands.items():
        r = run(name, "--help")
        assert r.exit_code == 0 and command.help.split("\n")[0][:20] in r.output


def test_chat_rewind_undo_fork_and_the_tree(run, tmp_path):
    run("demo", "demo.db")
    db = tmp_path / "demo.db"
    with rpkit.open_db(db) as conn:
        point = conn.execute("SELECT MAX(id) - 40 FROM event_log WHERE chat_id = 2").fetchone()[0]
        before = log_rows(conn)
    r = run("preview", "demo.db", point, "--chat", 2)
    assert r.exit_code == 0 and r.output.startswith(f"rewind of chat 2 to after event {point}")
    r = run("rewind", "demo.db", point, "--chat", 2, "--yes")
    assert r.exit_code == 0 and "undo with: rpkit undo demo.db" in r.output
    snap = r.output.strip().split()[-1]
    with rpkit.open_db(db) as conn:
        after = log_rows(conn)
        assert [x for x in after if x[2] != 2] == [x for x in before if x[2] != 2]
    r = run("undo", "demo.db", snap)
    assert r.exit_code == 0
    with rpkit.open_db(db) as conn:
        assert log_rows(conn) == before
        turn = conn.execute("SELECT MAX(id) FROM event_log WHERE kind = 'user_turn'").fetchone()[0]
    r = run("fork", "demo.db", "--turn", turn, "--title", "What if")
    assert r.exit_code == 0 and r.output.startswith("chat 4: forked at turn")
    r = run("info", "demo.db")
    lines = r.output.splitlines()
    fork = next(line for line in lines if "What if" in line)
    assert fork.startswith("  chat 4") and "(fork of chat" in fork


def test_undo_refusal_and_fork_refusal_change_nothing(run, tmp_path):
    run("demo", "demo.db")
    db = tmp_path / "demo.db"
    before = file_state(db)
    r = run("undo", "demo.db", "demo.db")
    assert r.exit_code == 1 and "records no rewind" not in r.output and "snapshot" in r.output
    r = run("fork", "demo.db", "--turn", 1)
    assert r.exit_code == 1 and "not a user or assistant turn" in r.output
    r = run("rewind", "demo.db", 3, "--chat", 2, "--yes")
    assert r.exit_code == 1 and "before chat 2 was created" in r.output
    assert file_state(db) == before
