"""Security: user data never becomes SQL, restore takes only rpkit snapshots, imports and
histories are data, never code.

* SQL: every statement rpkit prepares while handling a history full of hostile
  text (chat titles, bot ids, payloads, an extension kind, an imported export,
  CLI filters) is recorded *as the program wrote it*, before SQLite binds the
  parameters; the hostile marker never appears in one. A static check adds that
  no SQL is built with ``%`` or ``.format``.
* Restore: a foreign SQLite file, a plain history, a truncated snapshot, a
  snapshot of a newer schema and snapshots with the wrong tables or rows that
  break the log's rules are refused with ``InvalidSnapshotError``; the history is
  unchanged.
* Data, not code: hostile strings (SQL, Python, shell, template, HTML) round-trip
  through append, import, frames and the CLI byte for byte, create no file, and
  every HTML the notebook layer renders escapes them.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit import frames
from rpkit.cli import main
from rpkit.importers import import_chatgpt
from rpkit.store.sqlite import sqlite3

from ..helpers import file_state

PACKAGE = Path(rpkit.__file__).resolve().parent
MARK = "Zq9x"
HOSTILE = [
    f"{MARK}'); DROP TABLE event_log; --",
    f'{MARK}" OR 1=1; --',
    f"{MARK}__import__('os').system('touch pwned')",
    f"{MARK}$(touch pwned) `touch pwned`",
    f"{MARK}{{{{7*7}}}} {{0.__class__}} %s %(x)s",
    f"{MARK}<script>alert(1)</script><img src=x onerror=alert(1)>",
    f"{MARK}\\x00 \u202e\u0000 nul and bidi",
]


# -- recording the SQL the program writes ---------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.statements: list[str] = []


class _Cursor(sqlite3.Cursor):
    recorder: _Recorder

    def execute(self, sql, *args, **kwargs):
        self.recorder.statements.append(sql)
        return super().execute(sql, *args, **kwargs)

    def executemany(self, sql, *args, **kwargs):
        self.recorder.statements.append(sql)
        return super().executemany(sql, *args, **kwargs)


def _connection_class(recorder: _Recorder) -> type[sqlite3.Connection]:
    cursor_class = type("RecordingCursor", (_Cursor,), {"recorder": recorder})

    class Recording(sqlite3.Connection):
        def cursor(self, factory=cursor_class):
            return super().cursor(factory)

        def execute(self, sql, *args, **kwargs):
            return self.cursor().execute(sql, *args, **kwargs)

        def executemany(self, sql, *args, **kwargs):
            return self.cursor().executemany(sql, *args, **kwargs)

        def executescript(self, sql):
            recorder.statements.append(sql)
            return super().executescript(sql)

    return Recording


@pytest.fixture
def recorded(monkeypatch) -> _Recorder:
    """Every connection opened from here on records the SQL text it is given.

    SQLite is real; the connections are ordinary ones that note their statements
    (SQLite's own trace shows statements with the parameters already bound in,
    which could not tell a parameter from a formatted string).
    """
    recorder = _Recorder()
    real = sqlite3.connect
    factory = _connection_class(recorder)

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", factory)
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    return recorder


def chatgpt_export(path: Path, texts: list[str]) -> Path:
    """A ChatGPT conversations.json with one conversation whose title and turns are ``texts``."""
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": ["m0"]}}
    for i, text in enumerate(texts):
        mapping[f"m{i}"] = {
            "id": f"m{i}",
            "parent": "root" if i == 0 else f"m{i - 1}",
            "children": [f"m{i + 1}"] if i + 1 < len(texts) else [],
            "message": {
                "id": f"m{i}",
                "author": {"role": "user" if i % 2 == 0 else "assistant"},
                "create_time": 1_700_000_000 + i,
                "content": {"content_type": "text", "parts": [text]},
            },
        }
    conv = {
        "title": texts[0],
        "create_time": 1_700_000_000,
        "mapping": mapping,
        "current_node": f"m{len(texts) - 1}",
        "id": "conv-1",
    }
    path.write_text(json.dumps([conv]), encoding="utf-8")
    return path


def hostile_history(conn: sqlite3.Connection) -> dict[str, int]:
    """Append hostile text everywhere a user or an import can put text."""
    ids = {}
    bot = HOSTILE[0]
    rpkit.append(conn, "you_set", {"name": HOSTILE[1], "persona": HOSTILE[2]})
    rpkit.append(conn, "bot_created", {"bot_id": bot, "name": HOSTILE[3], "persona": HOSTILE[4]})
    rpkit.append(conn, "container_created", {"container_id": 1, "name": HOSTILE[5], "kind": bot})
    chat = rpkit.next_chat_id(conn)
    rpkit.append(conn, "chat_created", {"title": HOSTILE[5], "bot_ids": [bot]}, chat_id=chat)
    rpkit.append(conn, "scene_started", {"container_id": 1, "title": HOSTILE[6]}, chat_id=chat)
    for i, text in enumerate(HOSTILE * 2):
        user = rpkit.append(conn, "user_turn", {"text": text, "note": HOSTILE[i % 7]}, chat_id=chat)
        reply = rpkit.append(
            conn, "assistant_turn", {"bot_id": bot, "text": text[::-1]}, chat_id=chat
        )
        rpkit.append(
            conn,
            "edge_update",
            {"src": bot, "dst": "you", "delta": 0.5 - i % 3, "reason": text},
            chat_id=chat,
            cause_id=reply,
        )
        rpkit.append(
            conn,
            "memory_added",
            {"owner": bot, "text": text, "salience": 0.5},
            chat_id=chat,
            cause_id=user,
        )
        rpkit.append(
            conn,
            "activity_logged",
            {"container_id": 1, "entity": bot, "action": text},
            chat_id=chat,
        )
        ids.setdefault("user", user)
        ids["reply"] = reply
    rpkit.append(
        conn,
        "classifier_failed",
        {"stage": HOSTILE[2], "error": HOSTILE[0]},
        chat_id=chat,
        cause_id=ids["reply"],
    )
    ids["edit"] = rpkit.edit_turn(conn, ids["user"], HOSTILE[4])
    ids["regen"] = rpkit.regenerate_turn(conn, ids["reply"], HOSTILE[5])
    ids["chat"] = chat
    return ids


def test_user_data_never_becomes_sql(tmp_path, recorded):
    db = tmp_path / "history.db"
    kind = f"{MARK}_kind"
    rpkit.register_kind(kind, "text:str")
    try:
        with rpkit.open_db(db) as conn:
            ids = hostile_history(conn)
            rpkit.append(conn, kind, {"text": HOSTILE[0]}, chat_id=ids["chat"])
            rpkit.project(conn)
            assert rpkit.catch_up(conn) == 0
            assert rpkit.verify(conn).ok
            head = rpkit.store.head_id(conn)
            rpkit.state_at(conn, head // 2)
            frames.events(conn, include_retired=True)
            frames.events(conn, chat_id=ids["chat"])
            frames.turns(conn, ids["chat"])
            timeline = frames.affinity(conn)
            frames.affinity(conn, pairs=[str(timeline["pair"].iloc[0])])
            frames.rewind_preview(conn, ids["edit"] - 1)
            frames.rewind_diff(conn, ids["edit"] - 1)
            rpkit.compute_rewind_preview(conn, ids["edit"] - 1)
            snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
            import_chatgpt(conn, chatgpt_export(tmp_path / "conversations.json", HOSTILE))
        rpkit.list_snapshots(tmp_path)
        rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=ids["edit"] - 1)
        rpkit.restore_snapshot(db_path=db, data_dir=tmp_path, snapshot=snap)
        runner = CliRunner()
        # A kind no event has is refused by name, after a parameterised look-up.
        refused = runner.invoke(main, ["events", str(db), "--kind", HOSTILE[0], "--all"])
        assert refused.exit_code == 1 and "no event has kind" in refused.output
        for args in (
            ["events", str(db), "--kind", kind, "--chat", str(ids["chat"])],
            ["info", str(db)],
            ["preview", str(db), str(ids["edit"] - 1)],
            ["verify", str(db)],
        ):
            result = runner.invoke(main, args)
            assert result.exit_code == 0, result.output
    finally:
        rpkit.kinds.KINDS.pop(kind, None)
    assert len(recorded.statements) > 200
    leaked = [s for s in recorded.statements if MARK in s]
    assert leaked == [], leaked[:3]
    # and the filters were applied as values: the hostile "kind" matched no event
    with rpkit.open_db(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM event_log").fetchone()[0] > 0


def test_no_sql_is_built_with_percent_or_format():
    """Statements are constants or f-strings of identifiers; values go in as parameters."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "executemany", "executescript"}
                and node.args
            ):
                continue
            sql = node.args[0]
            for sub in ast.walk(sql):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Mod):
                    offenders.append(f"{path.name}:{node.lineno} uses %")
                if isinstance(sub, ast.Call) and getattr(sub.func, "attr", "") == "format":
                    offenders.append(f"{path.name}:{node.lineno} uses .format")
    assert offenders == []


# The one child process the package starts: ``cp`` copying a snapshot's files, so that
# this process never opens and closes a history's file (which would drop the POSIX
# locks its connections hold). It runs a program found by shutil.which, with an
# argument list and no shell.
CHILD_PROCESSES = {"snapshot.py"}


def _runs_a_program_without_a_shell(tree: ast.AST) -> bool:
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", None) in {"run", "Popen", "call"}
    ]
    return bool(calls) and all(
        isinstance(c.args[0], ast.List) and not any(k.arg == "shell" for k in c.keywords)
        for c in calls
    )


def test_no_code_is_evaluated_from_data():
    """No eval, exec, pickle, marshal, shell or YAML loader anywhere in the package."""
    banned_calls = {"eval", "exec", "compile", "__import__"}
    banned_modules = {"pickle", "marshal", "shelve", "yaml", "dill", "subprocess"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.name in CHILD_PROCESSES:
            assert _runs_a_program_without_a_shell(tree), path
            banned = banned_modules - {"subprocess"}
        else:
            banned = banned_modules
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in banned_calls:
                found.append(f"{path.name}:{node.lineno} calls {node.func.id}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "system":
                found.append(f"{path.name}:{node.lineno} calls system")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                for name in names:
                    if name.split(".")[0] in banned:
                        found.append(f"{path.name}:{node.lineno} imports {name}")
    assert found == []


# -- hostile data round-trips and renders escaped -------------------------------


def test_hostile_text_round_trips_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "history.db"
    with rpkit.open_db(db) as conn:
        ids = hostile_history(conn)
        report = import_chatgpt(conn, chatgpt_export(tmp_path / "conversations.json", HOSTILE))
        assert report.turns == len(HOSTILE)
        titles = [t for (t,) in conn.execute("SELECT title FROM chats ORDER BY id")]
        assert titles == [HOSTILE[5], HOSTILE[0]]
        stored = [
            json.loads(p)["text"]
            for (p,) in conn.execute(
                "SELECT payload FROM event_log WHERE kind = 'user_turn' AND chat_id = ? "
                "ORDER BY id",
                (ids["chat"],),
            )
        ]
        assert stored[: len(HOSTILE)] == HOSTILE  # the first is the edited one's original
        imported = frames.turns(conn, ids["chat"] + 1)
        assert list(imported["text"]) == HOSTILE
        bots = set(frames.events(conn)["bot_id"].dropna())
        assert bots == {HOSTILE[0]} | {b for b in bots if b != HOSTILE[0] and MARK not in b}
        assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master")} >= {
            "event_log",
            "chats",
        }
        assert rpkit.verify(conn).ok
    assert not list(tmp_path.rglob("pwned"))
    assert not Path("pwned").exists()


def _html_of(obj) -> str:
    return obj._repr_html_()


def test_everything_rendered_as_html_escapes_history_text(tmp_path):
    db = tmp_path / "history.db"
    with rpkit.open_db(db) as conn:
        ids = hostile_history(conn)
        point = ids["edit"] - 1
        html = [
            _html_of(frames.rewind_preview(conn, point)),
            _html_of(frames.rewind_diff(conn, point)),
            frames.events(conn).to_html(),
            frames.turns(conn, ids["chat"]).to_html(),
        ]
        # a damaged projection: verify's report shows the hostile values it found
        conn.execute("UPDATE chats SET title = ?", (HOSTILE[5] + "!",))
        conn.commit()
        report = rpkit.verify(conn)
        assert not report.ok
        html.append(_html_of(report))
    from rpkit.widgets import AffinityExplorer, RewindPanel

    panel = RewindPanel(db, tmp_path)
    panel.preview_button.click()
    assert panel.last_error is None, panel.status
    html.append(panel.status_line.value)
    for out in panel.output.outputs:
        html.append(out.get("data", {}).get("text/html", ""))
    html.append(AffinityExplorer(db).status_line.value)
    joined = "\n".join(html)
    assert MARK in joined  # the hostile text is shown...
    for raw in ("<script", "<img", "<SCRIPT"):
        assert raw not in joined  # ...escaped, never as markup


# -- restore takes only rpkit snapshots -----------------------------------------


def _snapshot(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "history.db"
    rpkit.demo.build_demo(db, events=120, seed=3)
    with rpkit.open_db(db) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path / "kept", kind="manual")
    return db, snap


def _edit_snapshot(snap: Path, *statements: str) -> Path:
    con = sqlite3.connect(snap)
    con.execute("PRAGMA foreign_keys = OFF")
    for stmt in statements:
        con.execute(stmt)
    con.commit()
    con.close()
    return snap


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda s: _edit_snapshot(s, "DROP TABLE memories"), ["memories"]),
        (
            lambda s: _edit_snapshot(s, "ALTER TABLE event_log ADD COLUMN extra TEXT"),
            ["event_log"],
        ),
        (
            lambda s: _edit_snapshot(
                s,
                "PRAGMA ignore_check_constraints = ON",
                "UPDATE event_log SET superseded_by = id - 1, hidden = 1 WHERE id = 50",
            ),
            ["does not fit", "CHECK constraint"],
        ),
        (
            lambda s: _edit_snapshot(
                s,
                "UPDATE event_log SET cause_id = 5 WHERE id = 60",
                "DELETE FROM event_log WHERE id = 5",
            ),
            ["does not fit", "FOREIGN KEY"],
        ),
        (
            lambda s: _edit_snapshot(
                s, "UPDATE rpkit_meta SET value = '1' WHERE key = 'schema_version'"
            ),
            ["schema version 1"],
        ),
        (
            lambda s: _edit_snapshot(
                s, "CREATE TABLE extra_payload (x)", "DROP TABLE projection_undo"
            ),
            ["projection_undo"],
        ),
    ],
    ids=[
        "missing-table",
        "extra-column",
        "broken-check",
        "dangling-cause",
        "older-schema",
        "swapped-table",
    ],
)
def test_restore_refuses_a_snapshot_with_the_wrong_content(tmp_path, damage, words):
    db, snap = _snapshot(tmp_path)
    damage(snap)
    before = file_state(db)
    with pytest.raises(rpkit.InvalidSnapshotError) as info:
        rpkit.restore_snapshot(db_path=db, data_dir=tmp_path, snapshot=snap)
    assert snap.name in str(info.value)
    for word in words:
        assert word in str(info.value)
    assert file_state(db) == before


def test_restore_refuses_what_is_not_an_rpkit_snapshot(tmp_path):
    db, snap = _snapshot(tmp_path)
    before = file_state(db)
    foreign = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE event_log (id, payload)")
    con.execute("CREATE TABLE rpkit_meta (key, value)")
    con.execute("INSERT INTO rpkit_meta VALUES ('snapshot_kind', 'manual')")
    con.commit()
    con.close()
    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(snap.read_bytes()[:4096])
    plain = tmp_path / "plain.sqlite"
    shutil.copyfile(db, plain)
    for bad in (foreign, cut, plain):
        with pytest.raises(rpkit.InvalidSnapshotError) as info:
            rpkit.restore_snapshot(db_path=db, data_dir=tmp_path, snapshot=bad)
        assert bad.name in str(info.value)
    assert file_state(db) == before
    assert not (tmp_path / "snapshots").exists() or not os.listdir(tmp_path / "snapshots")
    # planted among the snapshots, none of them is listed (and listing does not fail)
    (tmp_path / "snapshots").mkdir(exist_ok=True)
    for bad in (foreign, cut, plain):
        shutil.copyfile(bad, tmp_path / "snapshots" / f"planted-{bad.name}")
    assert rpkit.list_snapshots(tmp_path).empty


def test_history_text_is_drawn_literally_in_charts(tmp_path):
    """A bot id with ``$...$`` is a name, not a formula: the chart draws it as written."""
    import matplotlib

    matplotlib.use("Agg")
    from rpkit import plots

    names = ["$x^$", r"$\frac{1}$", "a$b"]
    with rpkit.open_db(tmp_path / "h.db") as conn:
        for name in names:
            rpkit.append(conn, "bot_created", {"bot_id": name, "name": name})
            rpkit.append(conn, "edge_update", {"src": name, "dst": "you", "delta": 1.0})
        ax = plots.affinity(frames.affinity(conn))
    ax.figure.savefig(tmp_path / "chart.png")
    shown = {t.get_text() for t in ax.get_legend().get_texts()}
    assert all(any(name in s for s in shown) for name in names)


def test_the_tutorials_never_evaluate_data_or_ship_scripts():
    """The notebooks' code evaluates no data; their stored outputs carry no script."""
    notebooks = sorted((PACKAGE.parent / "notebooks").glob("*.ipynb"))
    assert notebooks
    found = []
    for nb in notebooks:
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                for word in ("eval(", "exec(", "pickle", "__import__", "marshal"):
                    if word in source:
                        found.append(f"{nb.name}: {word}")
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if any("javascript" in mime for mime in data):
                    found.append(f"{nb.name}: a javascript output")
                html = "".join(data.get("text/html", []))
                if "<script" in html.lower():
                    found.append(f"{nb.name}: a <script> in an HTML output")
    assert found == []
