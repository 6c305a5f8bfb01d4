"""Pruning snapshots: a preview first, the newest record of each chat kept, files gone whole."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import rpkit
from rpkit.cli import main

from ..helpers import file_state


def _state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "snapshots").iterdir())}


@pytest.fixture
def many(demo_path, tmp_path) -> dict:
    """Two chat rewinds of each of two chats, a global rewind and a manual copy."""
    made = {}
    with rpkit.open_db(demo_path) as conn:
        chats = [r[0] for r in conn.execute("SELECT id FROM chats ORDER BY id LIMIT 2")]
        made["copy"] = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    for chat in chats:
        for _ in range(2):
            with rpkit.open_db(demo_path) as conn:
                last = conn.execute(
                    "SELECT MAX(id) FROM event_log WHERE chat_id = ? AND kind = 'user_turn'",
                    (chat,),
                ).fetchone()[0]
            made.setdefault(chat, []).append(
                rpkit.execute_rewind(
                    db_path=demo_path, data_dir=tmp_path, after_event_id=last - 1, chat_id=chat
                )
            )
    with rpkit.open_db(demo_path) as conn:
        head = rpkit.store.head_id(conn)
    made["global"] = rpkit.execute_rewind(
        db_path=demo_path, data_dir=tmp_path, after_event_id=head - 3
    )
    made["chats"] = chats
    return made


def test_a_preview_changes_nothing_and_confirm_removes_exactly_it(many, tmp_path):
    before = _state(tmp_path)
    preview = rpkit.prune_snapshots(data_dir=tmp_path, keep=0)
    assert _state(tmp_path) == before
    # the newest record of each chat and of the history stay; the rest goes
    a, b = many["chats"]
    assert set(preview["path"]) == {many["copy"], many[a][0], many[b][0]}
    gone = rpkit.prune_snapshots(data_dir=tmp_path, keep=0, confirm=True)
    assert list(gone["path"]) == list(preview["path"])
    assert set(_state(tmp_path)) == {many[a][1].name, many[b][1].name, many["global"].name}
    assert not list((tmp_path / "snapshots").glob(".*"))


def test_keep_and_older_than_and_names(many, tmp_path):
    a, _b = many["chats"]
    assert list(rpkit.prune_snapshots(data_dir=tmp_path, keep=4)["path"]) == [
        many["copy"],
        many[a][0],
    ]
    assert rpkit.prune_snapshots(data_dir=tmp_path, older_than=timedelta(days=1)).empty
    named = rpkit.prune_snapshots(data_dir=tmp_path, snapshots=[many[a][1].name, many["global"]])
    assert set(named["path"]) == {many[a][1], many["global"]}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"keep": -1}, "keep=-1"),
        ({"keep": 2.5}, "keep=2.5"),
        ({"keep": "3"}, "keep='3'"),
        ({"keep": True}, "keep=True"),
        ({"older_than": 3}, "older_than=3"),
        ({}, "needs keep="),
        ({"snapshots": ["../h.db"]}, "not in the snapshots folder"),
        ({"snapshots": ["nothing.sqlite"]}, "not a snapshot listed"),
    ],
)
def test_bad_prunes_are_refused_with_nothing_changed(many, tmp_path, demo_path, kwargs, words):
    before, db = _state(tmp_path), file_state(demo_path)
    with pytest.raises(rpkit.PruneError, match=words):
        rpkit.prune_snapshots(data_dir=tmp_path, confirm=True, **kwargs)
    assert _state(tmp_path) == before and file_state(demo_path) == db


def test_pruning_a_path_outside_the_folder_is_refused(many, tmp_path, demo_path):
    before, db = _state(tmp_path), file_state(demo_path)
    with pytest.raises(rpkit.PruneError, match="not in the snapshots folder"):
        rpkit.prune_snapshots(
            db_path=demo_path, data_dir=tmp_path, snapshots=[demo_path], confirm=True
        )
    assert _state(tmp_path) == before and file_state(demo_path) == db


def _cli(tmp_path, *args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_cli_lists_kinds_and_sizes_and_prunes_after_a_preview(many, tmp_path, demo_path):
    listing = _cli(tmp_path, "snapshots", demo_path, "--data-dir", tmp_path)
    assert listing.exit_code == 0, listing.output
    lines = listing.output.strip().splitlines()
    assert len(lines) == 7 and lines[-1].startswith("6 snapshots, ")
    assert sum(" record " in line for line in lines) == 5 and " copy " in lines[0]
    assert "global" in lines[-2] and "removed      3" in lines[-2]
    assert all(re.search(r"\d+(\.\d)? KB", line) for line in lines)
    before = _state(tmp_path)
    shown = _cli(tmp_path, "snapshots", demo_path, "--data-dir", tmp_path, "--prune", "--keep", "0")
    assert shown.exit_code == 0 and "would remove 3 snapshots" in shown.output
    assert _state(tmp_path) == before
    done = _cli(
        tmp_path, "snapshots", demo_path, "--data-dir", tmp_path, "--prune", "--keep", "0", "--yes"
    )
    assert done.exit_code == 0 and "removed 3 snapshots" in done.output
    assert len(_state(tmp_path)) == 3


@pytest.mark.parametrize("keep", ["-1", "two", "1.5"])
def test_the_cli_refuses_a_bad_keep_unchanged(many, tmp_path, demo_path, keep):
    before = _state(tmp_path)
    r = _cli(
        tmp_path, "snapshots", demo_path, "--data-dir", tmp_path, "--prune", "--keep", keep, "--yes"
    )
    assert r.exit_code == 1 and f"--keep {keep!r}" in r.output
    assert _state(tmp_path) == before
