"""A catalogue of bad input: the library, the CLI, the widgets and the importers.

Every case asserts three things: the error's type (a specific ``RpkitError``
subclass, or click's usage error for the CLI's own argument parsing), a message
that names the bad value and says what to do, and a history left byte for byte
as it was (WAL folded in before comparing). The importers are also fuzzed with
hypothesis: random JSON shapes, truncated and re-encoded sample files, huge
fields; an import either succeeds whole or is refused with ``ImportFormatError``
and changes nothing.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit import frames
from rpkit.cli import main
from rpkit.importers import import_chatgpt, import_file, import_sharegpt, import_sillytavern
from rpkit.store.sqlite import sqlite3
from rpkit.widgets import AffinityExplorer, RewindPanel

from ..helpers import ROOT, file_state

SAMPLES = ROOT / "data" / "exports"


# -- the history every case runs against --------------------------------------


@pytest.fixture
def template(demo_template) -> Path:
    return demo_template


@dataclass
class Env:
    """A fresh copy of the history, its folder, and ids of events of each sort."""

    db: Path
    dir: Path
    ids: dict[str, int] = field(default_factory=dict)

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.dir / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def snapshot(self) -> Path:
        with rpkit.open_db(self.db) as conn:
            return rpkit.take_snapshot(conn, data_dir=self.dir / "kept", kind="manual")


@pytest.fixture
def env(tmp_path, template) -> Env:
    db = tmp_path / "history.db"
    shutil.copyfile(template, db)
    e = Env(db, tmp_path)
    with rpkit.open_db(db) as conn:

        def first(where: str) -> int:
            return conn.execute(f"SELECT MIN(id) FROM event_log WHERE {where}").fetchone()[0]

        e.ids = {
            "head": rpkit.store.head_id(conn),
            "you_set": first("kind = 'you_set'"),
            "edge": first("kind = 'edge_update'"),
            "user": first("kind = 'user_turn' AND superseded_by IS NULL"),
            "bot": first("kind = 'assistant_turn' AND superseded_by IS NULL"),
            "retired": first("kind IN ('user_turn', 'assistant_turn') AND hidden = 1"),
        }
    return e


# -- the catalogue ---------------------------------------------------------------


@dataclass
class Case:
    """``run(env)`` must raise ``error`` whose message contains every one of ``words``.

    ``words`` may use ``{head}``, ``{edge}`` ... (the env's ids) and ``{dir}``.
    """

    name: str
    run: Callable[[Env], Any]
    error: type[BaseException]
    words: list[str]


def lib(fn: Callable[[sqlite3.Connection, Env], Any]) -> Callable[[Env], Any]:
    """Run ``fn`` on an open connection to the env's history."""

    def run(env: Env) -> Any:
        with rpkit.open_db(env.db) as conn:
            return fn(conn, env)

    return run


def foreign(env: Env) -> Path:
    path = env.dir / "other-app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (name TEXT)")
    con.commit()
    con.close()
    return path


def newer_schema(env: Env) -> Path:
    path = env.dir / "future.db"
    shutil.copyfile(env.db, path)
    con = sqlite3.connect(path)
    con.execute("UPDATE rpkit_meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    return path


def newer_snapshot(env: Env) -> Path:
    snap = env.snapshot()
    con = sqlite3.connect(snap)
    con.execute("UPDATE rpkit_meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    return snap


def truncated_snapshot(env: Env) -> Path:
    snap = env.snapshot()
    return env.file("cut.sqlite", snap.read_bytes()[: snap.stat().st_size // 3])


def restore(make: Callable[[Env], Path]) -> Callable[[Env], Any]:
    return lambda env: rpkit.restore_snapshot(db_path=env.db, data_dir=env.dir, snapshot=make(env))


def rewind(after: Callable[[Env], object]) -> Callable[[Env], Any]:
    return lambda env: rpkit.execute_rewind(
        db_path=env.db, data_dir=env.dir, after_event_id=after(env)
    )


LIBRARY = [
    Case(
        "append-unknown-kind",
        lib(lambda c, e: rpkit.append(c, "user_tunr", {"text": "hi"}, chat_id=1)),
        rpkit.UnknownKindError,
        ["'user_tunr'", "register_kind"],
    ),
    Case(
        "append-kind-not-a-string",
        lib(lambda c, e: rpkit.append(c, 123, {})),
        rpkit.UnknownKindError,
        ["123", "use one of"],
    ),
    Case(
        "append-missing-field",
        lib(lambda c, e: rpkit.append(c, "user_turn", {}, chat_id=1)),
        rpkit.PayloadError,
        ["'text'"],
    ),
    Case(
        "append-field-wrong-type",
        lib(lambda c, e: rpkit.append(c, "user_turn", {"text": 5}, chat_id=1)),
        rpkit.PayloadError,
        ["'text'", "5"],
    ),
    Case(
        "append-payload-not-a-dict",
        lib(lambda c, e: rpkit.append(c, "user_turn", ["text"], chat_id=1)),
        rpkit.PayloadError,
        ["['text']", "dict"],
    ),
    Case(
        "append-delta-nan",
        lib(
            lambda c, e: rpkit.append(
                c, "edge_update", {"src": "mira", "dst": "you", "delta": float("nan")}
            )
        ),
        rpkit.PayloadError,
        ["'delta'", "nan"],
    ),
    Case(
        "append-delta-bool",
        lib(
            lambda c, e: rpkit.append(
                c, "edge_update", {"src": "mira", "dst": "you", "delta": True}
            )
        ),
        rpkit.PayloadError,
        ["'delta'", "True"],
    ),
    Case(
        "append-salience-string",
        lib(
            lambda c, e: rpkit.append(
                c, "memory_added", {"owner": "mira", "text": "t", "salience": "high"}
            )
        ),
        rpkit.PayloadError,
        ["'salience'", "'high'"],
    ),
    Case(
        "append-edge-to-itself",
        lib(
            lambda c, e: rpkit.append(
                c, "edge_update", {"src": "mira", "dst": "mira", "delta": 1.0}
            )
        ),
        rpkit.PayloadError,
        ["'mira'", "differ"],
    ),
    Case(
        "append-unknown-chat",
        lib(lambda c, e: rpkit.append(c, "user_turn", {"text": "hi"}, chat_id=999)),
        rpkit.UnknownReferenceError,
        ["chat 999", "chat_created"],
    ),
    Case(
        "append-chat-id-string",
        lib(lambda c, e: rpkit.append(c, "user_turn", {"text": "hi"}, chat_id="1")),
        rpkit.PayloadError,
        ["'1'", "chat_id"],
    ),
    Case(
        "append-turn-without-chat",
        lib(lambda c, e: rpkit.append(c, "user_turn", {"text": "hi"})),
        rpkit.PayloadError,
        ["chat_id="],
    ),
    Case(
        "append-world-event-with-chat",
        lib(lambda c, e: rpkit.append(c, "you_set", {"name": "x"}, chat_id=1)),
        rpkit.PayloadError,
        ["world-level", "1"],
    ),
    Case(
        "append-chat-id-taken",
        lib(
            lambda c, e: rpkit.append(
                c, "chat_created", {"title": "t", "bot_ids": ["mira"]}, chat_id=1
            )
        ),
        rpkit.PayloadError,
        ["chat id 1", "next_chat_id"],
    ),
    Case(
        "append-unknown-bot",
        lib(
            lambda c, e: rpkit.append(
                c, "assistant_turn", {"bot_id": "ghost", "text": "boo"}, chat_id=1
            )
        ),
        rpkit.UnknownReferenceError,
        ["'ghost'"],
    ),
    Case(
        "append-bot-id-taken",
        lib(lambda c, e: rpkit.append(c, "bot_created", {"bot_id": "mira", "name": "Mira 2"})),
        rpkit.PayloadError,
        ["'mira'", "taken"],
    ),
    Case(
        "append-unknown-container",
        lib(lambda c, e: rpkit.append(c, "scene_started", {"container_id": 77}, chat_id=1)),
        rpkit.UnknownReferenceError,
        ["container 77", "container_created"],
    ),
    Case(
        "append-bad-timestamp",
        lib(lambda c, e: rpkit.append(c, "you_set", {"name": "x"}, ts="yesterday")),
        rpkit.TimestampError,
        ["'yesterday'"],
    ),
    Case(
        "append-naive-timestamp",
        lib(lambda c, e: rpkit.append(c, "you_set", {"name": "x"}, ts="2026-01-01T00:00:00")),
        rpkit.TimestampError,
        ["'2026-01-01T00:00:00'", "time zone"],
    ),
    Case(
        "append-unknown-cause",
        lib(
            lambda c, e: rpkit.append(
                c, "edge_update", {"src": "mira", "dst": "you", "delta": 1.0}, cause_id=10**6
            )
        ),
        rpkit.UnknownReferenceError,
        ["1000000"],
    ),
    Case(
        "append-cause-string",
        lib(
            lambda c, e: rpkit.append(
                c, "edge_update", {"src": "mira", "dst": "you", "delta": 1.0}, cause_id="3"
            )
        ),
        rpkit.PayloadError,
        ["'3'", "cause_id"],
    ),
    Case(
        "edit-not-a-turn",
        lib(lambda c, e: rpkit.edit_turn(c, e.ids["edge"], "x")),
        rpkit.NotATurnError,
        ["{edge}", "'edge_update'"],
    ),
    Case(
        "edit-retired-turn",
        lib(lambda c, e: rpkit.edit_turn(c, e.ids["retired"], "x")),
        rpkit.AlreadyRetiredError,
        ["{retired}", "retired by"],
    ),
    Case(
        "edit-text-not-a-string",
        lib(lambda c, e: rpkit.edit_turn(c, e.ids["user"], 42)),
        rpkit.PayloadError,
        ["{user}", "string"],
    ),
    Case(
        "regenerate-user-turn",
        lib(lambda c, e: rpkit.regenerate_turn(c, e.ids["user"], "x")),
        rpkit.NotATurnError,
        ["{user}", "edit_turn"],
    ),
    Case(
        "hide-past-head",
        lib(lambda c, e: rpkit.hide_turn(c, e.ids["head"] + 1)),
        rpkit.EventIdError,
        ["past the newest", "{head}"],
    ),
    Case(
        "preview-bool",
        lib(lambda c, e: rpkit.compute_rewind_preview(c, True)),
        rpkit.EventIdError,
        ["True", "must be an int"],
    ),
    Case(
        "preview-float",
        lib(lambda c, e: rpkit.compute_rewind_preview(c, 3.0)),
        rpkit.EventIdError,
        ["3.0", "must be an int"],
    ),
    Case(
        "preview-string",
        lib(lambda c, e: rpkit.compute_rewind_preview(c, "12")),
        rpkit.EventIdError,
        ["'12'", "must be an int"],
    ),
    Case(
        "preview-negative",
        lib(lambda c, e: rpkit.compute_rewind_preview(c, -1)),
        rpkit.EventIdError,
        ["-1", "negative"],
    ),
    Case(
        "preview-past-head",
        lib(lambda c, e: rpkit.compute_rewind_preview(c, e.ids["head"] + 1)),
        rpkit.EventIdError,
        ["past the newest", "from 0 to {head}"],
    ),
    Case("rewind-none", rewind(lambda e: None), rpkit.EventIdError, ["None", "must be an int"]),
    Case(
        "rewind-past-head",
        rewind(lambda e: e.ids["head"] + 5),
        rpkit.EventIdError,
        ["past the newest", "from 0 to {head}"],
    ),
    Case(
        "rewind-point-not-a-turn",
        lib(lambda c, e: rpkit.rewind_point(c, e.ids["edge"])),
        rpkit.NotATurnError,
        ["{edge}", "user or assistant turn"],
    ),
    Case(
        "state-at-negative",
        lib(lambda c, e: rpkit.state_at(c, -3)),
        rpkit.EventIdError,
        ["-3", "negative"],
    ),
    Case(
        "project-upto-string",
        lib(lambda c, e: rpkit.project(c, upto="all")),
        rpkit.EventIdError,
        ["'all'", "upto"],
    ),
    Case(
        "snapshot-kind-path",
        lib(lambda c, e: rpkit.take_snapshot(c, data_dir=e.dir, kind="../etc")),
        rpkit.SnapshotError,
        ["'../etc'", "letters, digits"],
    ),
    Case(
        "snapshot-kind-empty",
        lib(lambda c, e: rpkit.take_snapshot(c, data_dir=e.dir, kind="")),
        rpkit.SnapshotError,
        ["''", "letters, digits"],
    ),
    Case(
        "restore-text-file",
        restore(lambda e: e.file("notes.txt", "hello")),
        rpkit.InvalidSnapshotError,
        ["notes.txt", "not an SQLite file"],
    ),
    Case(
        "restore-foreign-sqlite",
        restore(foreign),
        rpkit.InvalidSnapshotError,
        ["other-app.db", "not an rpkit snapshot"],
    ),
    Case(
        "restore-plain-history",
        restore(lambda e: e.db),
        rpkit.InvalidSnapshotError,
        ["history.db", "not a snapshot", "take_snapshot"],
    ),
    Case(
        "restore-truncated", restore(truncated_snapshot), rpkit.InvalidSnapshotError, ["cut.sqlite"]
    ),
    Case(
        "restore-newer-schema",
        restore(newer_snapshot),
        rpkit.SnapshotVersionError,
        ["schema version 99"],
    ),
    Case(
        "restore-missing",
        restore(lambda e: e.dir / "nothing.sqlite"),
        rpkit.InvalidSnapshotError,
        ["nothing.sqlite", "list_snapshots"],
    ),
    Case(
        "open-directory",
        lambda e: rpkit.open_db(e.dir).__enter__(),
        rpkit.NotADatabaseError,
        ["is a directory", "history.db"],
    ),
    Case(
        "open-text-file",
        lambda e: rpkit.open_db(e.file("t.txt", "hello")).__enter__(),
        rpkit.NotADatabaseError,
        ["t.txt", "not an SQLite database", "b'hello'"],
    ),
    Case(
        "open-foreign",
        lambda e: rpkit.open_db(foreign(e)).__enter__(),
        rpkit.ForeignDatabaseError,
        ["other-app.db", "customers", "import"],
    ),
    Case(
        "open-newer-schema",
        lambda e: rpkit.open_db(newer_schema(e)).__enter__(),
        rpkit.SchemaVersionError,
        ["future.db", "version 99", "upgrade rpkit"],
    ),
    Case(
        "open-missing-folder",
        lambda e: rpkit.open_db(e.dir / "no" / "h.db").__enter__(),
        rpkit.NotADatabaseError,
        ["does not exist", "create it first"],
    ),
    Case(
        "register-builtin-kind",
        lambda e: rpkit.register_kind("user_turn", "x:str"),
        rpkit.EventError,
        ["'user_turn'", "built-in"],
    ),
    Case(
        "frames-unknown-chat",
        lib(lambda c, e: frames.turns(c, 999)),
        rpkit.UnknownChatError,
        ["chat 999", "[1, 2, 3]"],
    ),
    Case(
        "frames-chat-string",
        lib(lambda c, e: frames.events(c, chat_id="1")),
        rpkit.ChatIdError,
        ["'1'", "must be an int"],
    ),
    Case(
        "frames-unknown-pair",
        lib(lambda c, e: frames.affinity(c, pairs=["nobody → you"])),
        rpkit.FrameError,
        ["'nobody → you'", "choose from"],
    ),
]


def cli(*args: object, input: str | None = None) -> Callable[[Env], Any]:
    """Run the ``rpkit`` command in-process; a failure is raised as CliFailure."""

    def run(env: Env) -> Any:
        words = [
            str(a).format(db=env.db, dir=env.dir, **{k: str(v) for k, v in env.ids.items()})
            for a in args
        ]
        result = CliRunner().invoke(main, words, input=input)
        if result.exit_code != 0:
            raise CliFailure(result.exit_code, result.output)
        return result

    return run


class CliFailure(Exception):
    def __init__(self, code: int, output: str) -> None:
        super().__init__(f"exit {code}: {output}")
        self.code = code


def _text_file(env: Env) -> None:
    env.file("t.txt", "hello")


CLI = [
    Case(
        "cli-rewind-past-head",
        cli("rewind", "{db}", "999999", "--yes"),
        CliFailure,
        ["exit 1", "999999", "past the newest", "from 0 to {head}"],
    ),
    Case(
        "cli-rewind-not-an-int",
        cli("rewind", "{db}", "abc"),
        CliFailure,
        ["exit 2", "'abc' is not a valid integer"],
    ),
    Case(
        "cli-rewind-no-target",
        cli("rewind", "{db}"),
        CliFailure,
        ["exit 2", "give AFTER_EVENT_ID or --turn"],
    ),
    Case(
        "cli-rewind-both-targets",
        cli("rewind", "{db}", "5", "--turn", "{user}"),
        CliFailure,
        ["exit 2", "not both"],
    ),
    Case(
        "cli-rewind-turn-not-a-turn",
        cli("rewind", "{db}", "--turn", "{edge}", "--yes"),
        CliFailure,
        ["exit 1", "event {edge}", "'edge_update'"],
    ),
    Case(
        "cli-rewind-declined",
        cli("rewind", "{db}", "10", input="n\n"),
        CliFailure,
        ["exit 1", "Rewind?", "Aborted"],
    ),
    Case(
        "cli-preview-negative",
        cli("preview", "{db}", "--", "-5"),
        CliFailure,
        ["exit 1", "-5", "negative"],
    ),
    Case(
        "cli-restore-text-file",
        cli("restore", "{db}", "{dir}/t.txt", "--yes"),
        CliFailure,
        ["exit 1", "t.txt", "not an SQLite file"],
    ),
    Case(
        "cli-restore-checks-before-asking",
        cli("restore", "{db}", "{dir}/t.txt", input="y\n"),
        CliFailure,
        ["exit 1", "t.txt", "not an SQLite file"],
    ),
    Case(
        "cli-info-missing",
        cli("info", "{dir}/missing.db"),
        CliFailure,
        ["exit 1", "missing.db does not exist", "rpkit demo"],
    ),
    Case(
        "cli-events-text-file",
        cli("events", "{dir}/t.txt"),
        CliFailure,
        ["exit 1", "t.txt", "not an SQLite database"],
    ),
    Case(
        "cli-snapshots-nothing", cli("snapshots"), CliFailure, ["exit 2", "give DB or --data-dir"]
    ),
    Case("cli-demo-exists", cli("demo", "{db}"), CliFailure, ["exit 1", "exists", "--force"]),
    Case(
        "cli-data-dir-is-a-file",
        cli("rewind", "{db}", "10", "--data-dir", "{dir}/t.txt", "--yes"),
        CliFailure,
        ["exit 2", "t.txt", "is a file"],
    ),
    Case(
        "cli-import-not-json",
        cli("import", "chatgpt", "{dir}/t.txt", "{db}"),
        CliFailure,
        ["exit 1", "t.txt", "JSON"],
    ),
    Case(
        "cli-verify-foreign",
        cli("verify", "{dir}/other-app.db"),
        CliFailure,
        ["exit 1", "other-app.db", "another application"],
    ),
]
for _case in CLI:  # every CLI case may need the text file and the foreign database
    _inner = _case.run

    def _prepared(env: Env, _inner=_inner) -> Any:
        _text_file(env)
        foreign(env)
        return _inner(env)

    _case.run = _prepared


def panel_preview_without_turn(env: Env) -> RewindPanel:
    panel = RewindPanel(env.db, env.dir)
    panel.turn.options = []
    panel.preview_button.click()
    return panel


def panel_rewind_without_preview(env: Env) -> RewindPanel:
    panel = RewindPanel(env.db, env.dir)
    panel._on_rewind()  # the button is disabled; a programmatic click is still refused
    return panel


def panel_rewind_without_confirm(env: Env) -> RewindPanel:
    panel = RewindPanel(env.db, env.dir)
    panel.preview_button.click()
    panel._on_rewind()
    return panel


def panel_stale(env: Env) -> RewindPanel:
    panel = RewindPanel(env.db, env.dir)
    panel.turn.value = panel.turn.options[len(panel.turn.options) // 2][1]
    panel.preview_button.click()
    panel.confirm.value = True
    with rpkit.open_db(env.db) as conn:  # another window appends meanwhile
        rpkit.append(conn, "you_set", {"name": "another window"})
    env.expected = file_state(env.db)
    panel.rewind_button.click()
    return panel


def panel_snapshot_folder_is_a_file(env: Env) -> RewindPanel:
    (env.dir / "snapshots").write_text("not a folder")
    panel = RewindPanel(env.db, env.dir)
    panel.preview_button.click()
    panel.confirm.value = True
    panel.rewind_button.click()
    return panel


def panel_undo_nothing(env: Env) -> RewindPanel:
    panel = RewindPanel(env.db, env.dir)
    panel._on_undo()
    return panel


@dataclass
class PanelCase:
    """A panel action that must be refused: an error on ``last_error`` (or None when the
    panel refuses by itself) and ``words`` in its status line."""

    name: str
    run: Callable[[Env], Any]
    error: type[BaseException] | None
    words: list[str]


WIDGETS = [
    PanelCase(
        "panel-preview-no-turn",
        panel_preview_without_turn,
        rpkit.FrameError,
        ["no turn is selected", "pick one"],
    ),
    PanelCase(
        "panel-rewind-no-preview",
        panel_rewind_without_preview,
        None,
        ["Rewind refused", "press Preview", "nothing was changed"],
    ),
    PanelCase(
        "panel-rewind-not-confirmed",
        panel_rewind_without_confirm,
        None,
        ["Rewind refused", "tick the confirmation box", "nothing was changed"],
    ),
    PanelCase(
        "panel-rewind-stale",
        panel_stale,
        rpkit.StalePreviewError,
        ["Rewind failed", "changed since the preview", "preview again"],
    ),
    PanelCase(
        "panel-snapshot-folder-is-a-file",
        panel_snapshot_folder_is_a_file,
        rpkit.SnapshotDirError,
        ["Rewind failed", "snapshots", "data_dir"],
    ),
    PanelCase("panel-undo-nothing", panel_undo_nothing, None, ["Nothing to undo"]),
]


def sample(fmt: str) -> Path:
    return {
        "chatgpt": SAMPLES / "chatgpt" / "conversations.json",
        "sharegpt": SAMPLES / "sharegpt" / "roleplay.json",
        "sillytavern": SAMPLES / "sillytavern" / "Mira - 2024-6-5@14h56m50s.jsonl",
    }[fmt]


def imp(fmt: str, make: Callable[[Env], Path]) -> Callable[[Env], Any]:
    return lambda env: import_file(env.db, fmt, make(env))


def st_line(n: int, line: str) -> Callable[[Env], Path]:
    def make(env: Env) -> Path:
        lines = sample("sillytavern").read_text(encoding="utf-8").splitlines()
        lines[n - 1] = line
        return env.file("chat.jsonl", "\n".join(lines) + "\n")

    return make


IMPORTERS = [
    Case(
        "import-unknown-format",
        imp("whatsapp", lambda e: sample("chatgpt")),
        rpkit.ImportFormatError,
        ["'whatsapp'", "chatgpt, claude, sharegpt"],
    ),
    Case(
        "import-missing-file",
        imp("chatgpt", lambda e: e.dir / "nope.json"),
        rpkit.ImportFormatError,
        ["nope.json", "no such file"],
    ),
    Case(
        "import-chatgpt-not-json",
        imp("chatgpt", lambda e: e.file("c.json", "{oops")),
        rpkit.ImportFormatError,
        ["c.json", "line 1", "JSON"],
    ),
    Case(
        "import-chatgpt-given-sharegpt",
        imp("chatgpt", lambda e: sample("sharegpt")),
        rpkit.ImportFormatError,
        ["roleplay.json", "looks like", "rpkit import sharegpt"],
    ),
    Case(
        "import-sharegpt-given-chatgpt",
        imp("sharegpt", lambda e: sample("chatgpt")),
        rpkit.ImportFormatError,
        ["conversations.json", "rpkit import chatgpt"],
    ),
    Case(
        "import-sillytavern-bad-line",
        imp("sillytavern", st_line(3, "{not json")),
        rpkit.ImportFormatError,
        ["chat.jsonl", "line 3", "skip_bad"],
    ),
    Case(
        "import-sillytavern-utf16",
        imp(
            "sillytavern",
            lambda e: e.file(
                "chat.jsonl", sample("sillytavern").read_text(encoding="utf-8").encode("utf-16")
            ),
        ),
        rpkit.ImportFormatError,
        ["chat.jsonl", "UTF-16", "UTF-8"],
    ),
    Case(
        "import-sillytavern-latin1",
        imp(
            "sillytavern",
            lambda e: e.file(
                "chat.jsonl",
                sample("sillytavern")
                .read_text(encoding="utf-8")
                .replace("Wren", "Wrén")
                .encode("latin-1"),
            ),
        ),
        rpkit.ImportFormatError,
        ["chat.jsonl", "not UTF-8", "re-save"],
    ),
    Case(
        "import-sharegpt-top-level-number",
        imp("sharegpt", lambda e: e.file("s.json", "42")),
        rpkit.ImportFormatError,
        ["s.json", "int"],
    ),
    Case(
        "import-chatgpt-empty-file",
        imp("chatgpt", lambda e: e.file("c.json", "")),
        rpkit.ImportFormatError,
        ["c.json"],
    ),
]

CASES = LIBRARY + CLI + IMPORTERS


def _fill(word: str, env: Env) -> str:
    return word.format(dir=env.dir, **env.ids)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(env, case):
    before = file_state(env.db)
    with pytest.raises(case.error) as info:
        case.run(env)
    assert type(info.value) is case.error or case.error is CliFailure
    message = str(info.value)
    for word in case.words:
        assert _fill(word, env) in message, f"{_fill(word, env)!r} not in {message!r}"
    assert file_state(env.db) == before


@pytest.mark.parametrize("case", WIDGETS, ids=[c.name for c in WIDGETS])
def test_bad_input_in_the_rewind_panel_is_refused_and_changes_nothing(env, case):
    before = file_state(env.db)
    env.expected = before
    panel = case.run(env)
    if case.error is None:
        assert panel.last_error is None
    else:
        assert type(panel.last_error) is case.error
    for word in case.words:
        assert word in panel.status, f"{word!r} not in {panel.status!r}"
    assert panel.last_snapshot is None
    assert file_state(env.db) == env.expected


def test_affinity_explorer_on_a_text_file(env):
    path = env.file("t.txt", "hello")
    with pytest.raises(rpkit.NotADatabaseError, match="t.txt is not an SQLite database"):
        AffinityExplorer(path)
    assert path.read_text() == "hello"


def test_register_kind_with_an_unknown_field_type(env):
    with pytest.raises(rpkit.RpkitError, match="'strr'"):
        rpkit.register_kind("mood_set", "mood:strr")


def test_register_kind_with_a_bad_chat_rule(env):
    with pytest.raises(rpkit.RpkitError, match="'sometimes'"):
        rpkit.register_kind("mood_set", "mood:str", chat="sometimes")


def test_rewind_panel_on_a_missing_path(env):
    panel = RewindPanel(env.dir / "typo.db", env.dir)
    assert isinstance(panel.last_error, rpkit.NotADatabaseError)
    assert not (env.dir / "typo.db").exists()


def test_the_catalogue_is_large_enough():
    counted = len(CASES) + len(WIDGETS) + 2  # + the explorer and the missing path
    assert counted >= 40
    print(
        f"\n[bad input] {len(LIBRARY)} library, {len(CLI)} CLI, {len(WIDGETS) + 2} widget, "
        f"{len(IMPORTERS)} importer cases = {counted}"
    )


# -- importers, fuzzed ---------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "mapping",
                    "conversations",
                    "from",
                    "value",
                    "mes",
                    "is_user",
                    "name",
                    "message",
                    "author",
                    "role",
                    "content",
                    "parts",
                    "title",
                    "current_node",
                    "children",
                    "parent",
                    "swipes",
                    "send_date",
                    "create_time",
                    "id",
                    "x",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=6,
        )
    ),
    max_leaves=25,
)
IMPORT = {"chatgpt": import_chatgpt, "sharegpt": import_sharegpt, "sillytavern": import_sillytavern}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _fuzz_figures():
    yield
    if OUTCOMES:
        print(f"\n[fuzz] importers: {dict(sorted(OUTCOMES.items()))}")


def _attempt(env: Env, fmt: str, path: Path) -> str:
    """Import ``path``; whole or nothing. Counts and returns "imported" or "refused"."""
    outcome = _attempt_once(env, fmt, path)
    OUTCOMES[f"{fmt} {outcome}"] += 1
    return outcome


def _attempt_once(env: Env, fmt: str, path: Path) -> str:
    before, log_before = file_state(env.db), _log(env.db)
    try:
        with rpkit.open_db(env.db) as conn:
            report = IMPORT[fmt](conn, path)
    except rpkit.ImportFormatError as exc:
        assert str(path.name) in str(exc) or "export" in str(exc), str(exc)
        assert file_state(env.db) == before
        return "refused"
    log_after = _log(env.db)
    assert log_after[: len(log_before)] == log_before
    assert len(log_after) - len(log_before) == report.events
    with rpkit.open_db(env.db) as conn:
        assert rpkit.verify(conn).ok
    return "imported"


def _fresh(env: Env) -> None:
    """Hypothesis reuses the fixture: start every example from the same history."""
    pristine = env.dir / "pristine.db"
    if not pristine.exists():
        shutil.copyfile(env.db, pristine)
    shutil.copyfile(pristine, env.db)


def _log(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT * FROM event_log ORDER BY id").fetchall()
    finally:
        con.close()


@FUZZ
@given(fmt=st.sampled_from(sorted(IMPORT)), doc=json_values, lines=st.booleans())
def test_importers_on_random_json_shapes(env, fmt, doc, lines):
    suffix = ".jsonl" if fmt == "sillytavern" or lines else ".json"
    if suffix == ".jsonl" and isinstance(doc, list):
        text = "\n".join(json.dumps(d) for d in doc)
    else:
        text = json.dumps(doc)
    _fresh(env)
    _attempt(env, fmt, env.file(f"export{suffix}", text))


@FUZZ
@given(
    fmt=st.sampled_from(sorted(IMPORT)),
    cut=st.floats(0, 1),
    how=st.sampled_from(["truncate", "utf-16", "latin-1", "nul", "huge-field", "bom"]),
)
def test_importers_on_damaged_samples(env, fmt, cut, how):
    _fresh(env)
    data = sample(fmt).read_bytes()
    text = data.decode("utf-8")
    if how == "truncate":
        data = data[: int(len(data) * cut)]
    elif how == "utf-16":
        data = text.encode("utf-16")
    elif how == "latin-1":
        data = text.replace("e", "é").encode("latin-1")
    elif how == "nul":
        at = int(len(data) * cut)
        data = data[:at] + b"\x00" + data[at:]
    elif how == "huge-field":
        at = text.find('": "', int(len(text) * cut * 0.9))  # some string value
        at = text.index('": "') if at < 0 else at
        data = (text[: at + 4] + "x" * 2_000_000 + text[at + 4 :]).encode("utf-8")
    else:
        data = b"\xef\xbb\xbf" + data
    _attempt(env, fmt, env.file(sample(fmt).name, data))


def test_ids_taken_from_frames_are_accepted(env):
    """Not bad input: an id read from a frame is a numpy integer, and must work."""
    with rpkit.open_db(env.db) as conn:
        turn = frames.turns(conn, 1)["event_id"].iloc[3]
        point = rpkit.rewind_point(conn, turn)
        assert rpkit.compute_rewind_preview(conn, point)["after_event_id"] == point
