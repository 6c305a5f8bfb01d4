"""Adding an import format is one module and one declaration: everything else reads ``FORMATS``.

The "module" here is the reader below (as a new ``rpkit/importers/<name>.py``
would hold it) and its ``Format``; one ``register_format`` call makes the CLI,
detection, the writer and corpus builds take it, with no other table to edit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import rpkit
from rpkit import frames
from rpkit.cli import main
from rpkit.importers import FORMATS, Format, detect_format, import_file, register_format
from rpkit.importers.plan import Chat, Parsed, Turn, fill_dates, load_document

# -- the new module: a made-up app that exports [{"talk": [{"who", "say", "tries"}]}] --


def _read(path: Path, *, skip_bad: bool = False) -> Parsed:
    parsed = Parsed(format="tinychat", files=[path.name])
    for i, record in enumerate(load_document(path.read_bytes(), path.name, "tinychat")):
        turns = [
            Turn(
                ref=f"{i}/{j}",
                role="user" if m["who"] == "me" else "bot",
                text=m["say"],
                speaker=None if m["who"] == "me" else "Tiny",
                alternatives=[
                    Turn(ref=f"{i}/{j}/{k}", role="bot", text=t, speaker="Tiny")
                    for k, t in enumerate(m.get("tries", []))
                ],
            )
            for j, m in enumerate(record["talk"])
        ]
        chat = Chat(path.name, str(i), f"tiny {i}", ["Tiny"], None, None, turns)
        fill_dates(chat, parsed.notes, datetime(2026, 1, 1, tzinfo=UTC))
        parsed.chats.append(chat)
    return parsed


def _looks(record: dict[str, Any]) -> bool:
    return "talk" in record


TINYCHAT = Format(
    name="tinychat",
    title="TinyChat",
    help="a TinyChat export (.json)",
    read=_read,
    looks=_looks,
    telltales=frozenset({"talk", "who", "say", "tries"}),
    example='[{"talk": [{"who": "me", "say": "Hi"}]}]',
    revision="try",
)

# -- the tests ------------------------------------------------------------------------

RECORDS = [
    {"talk": [{"who": "me", "say": "Hi"}, {"who": "bot", "say": "Hello!", "tries": ["Yo."]}]},
    {"talk": [{"who": "me", "say": "Bye"}, {"who": "bot", "say": "See you"}]},
]


@pytest.fixture
def tinychat(tmp_path):
    register_format(TINYCHAT)  # the one declaration
    path = tmp_path / "export.json"
    path.write_text(json.dumps(RECORDS))
    yield path
    del FORMATS["tinychat"]


def test_the_cli_lists_detects_and_imports_a_registered_format(tinychat, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(main, ["import", "--list-formats"])
    assert "tinychat     TinyChat: a TinyChat export (.json)" in listed.output
    assert "tinychat" in runner.invoke(main, ["import", "--help"]).output
    named = runner.invoke(main, ["import", "tinychat", str(tinychat), str(tmp_path / "a.db")])
    assert named.exit_code == 0, named.output
    detected = runner.invoke(main, ["import", str(tinychat), str(tmp_path / "b.db")])
    assert detected.exit_code == 0, detected.output
    assert detected.output.startswith("export.json: detected tinychat (a TinyChat export (.json))")
    assert detect_format(tinychat) == "tinychat"


def test_the_writer_names_its_alternatives_with_the_formats_revision_word(tinychat, tmp_path):
    report = import_file(tmp_path / "h.db", "tinychat", tinychat)
    assert (report.chats, report.turns, report.retired) == (2, 5, 1)
    with rpkit.open_db(tmp_path / "h.db") as conn:
        turns = frames.turns(conn, 1)
        events = frames.events(conn, kind="assistant_turn")
    assert turns.loc[~turns["retired"], "text"].tolist() == ["Hi", "Hello!"]
    assert turns.loc[turns["retired"], "text"].tolist() == ["Yo."]
    assert events.loc[events["text"] == "Hello!", "revision"].tolist() == ["try"]
    again = import_file(tmp_path / "h.db", "tinychat", tinychat)
    assert (again.turns, again.already_imported) == (0, 5)  # re-importing adds nothing


def test_a_corpus_build_shards_a_registered_format(tinychat, tmp_path):
    """Workers must know the format too: here they are threads of this process.

    (Worker processes register it by importing the module that declares it.)
    """
    from distributed import Client, LocalCluster

    from rpkit.corpus import build, open_corpus

    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        report = build(
            tinychat, tmp_path / "c", format="tinychat", shard_size=1, classify=False, client=client
        )
        assert report.shards["status"].tolist() == ["done", "done"]
        corpus = open_corpus(tmp_path / "c", client=client)
        assert sorted(corpus.summary()["turns"].tolist()) == [2, 2]
