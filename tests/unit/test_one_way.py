"""One way to do each thing: the history check, the snapshot resolver, the CLI over the library."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
from click.testing import CliRunner

import rpkit
from rpkit import frames
from rpkit.cli import main
from rpkit.demo import build_demo

from ..helpers import file_state


def test_restore_to_a_mistyped_history_is_refused_and_creates_nothing(demo_path, tmp_path):
    with rpkit.open_db(demo_path) as conn:
        snap = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="manual")
    typo = tmp_path / "demoo.db"
    with pytest.raises(rpkit.NotADatabaseError, match="demoo.db does not exist"):
        rpkit.restore_snapshot(db_path=typo, data_dir=tmp_path, snapshot=snap)
    assert not typo.exists()


def test_a_rewind_of_a_mistyped_history_is_refused_the_same_way(tmp_path):
    with pytest.raises(rpkit.NotADatabaseError, match="not an existing history file"):
        rpkit.execute_rewind(db_path=tmp_path / "nope.db", data_dir=tmp_path, after_event_id=1)
    assert not (tmp_path / "nope.db").exists()


def test_demo_refuses_an_existing_file_with_an_rpkit_error(demo_path):
    before = file_state(demo_path)
    with pytest.raises(rpkit.HistoryExistsError, match="--force") as info:
        build_demo(demo_path)
    assert isinstance(info.value, rpkit.RpkitError)
    assert file_state(demo_path) == before


def test_classify_is_a_plain_function_and_the_classifiers_a_package():
    module = importlib.import_module("rpkit.classifiers")
    assert rpkit.classify is module.classify
    assert inspect.isfunction(rpkit.classify)
    assert module.VaderClassifier().name == "vader"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rpkit.classify")


def test_events_filters_by_kind_and_keeps_the_newest(demo_path):
    with rpkit.open_db(demo_path) as conn:
        every = frames.events(conn)
        turns = frames.events(conn, kind="user_turn")
        newest = frames.events(conn, newest=5)
        none = frames.events(conn, newest=0)
        with pytest.raises(rpkit.FrameError, match="no event has kind 'user_tunr'"):
            frames.events(conn, kind="user_tunr")
        with pytest.raises(rpkit.FrameError, match="newest"):
            frames.events(conn, newest=-1)
    assert turns["id"].tolist() == every.loc[every["kind"] == "user_turn", "id"].tolist()
    assert newest["id"].tolist() == every["id"].tolist()[-5:]
    assert newest.columns.tolist()[:7] == frames.EVENT_COLUMNS
    assert none.empty


def test_summary_counts_what_the_log_holds(demo_path):
    with rpkit.open_db(demo_path) as conn:
        about = frames.summary(conn)
        total, retired = conn.execute("SELECT COUNT(*), SUM(hidden) FROM event_log").fetchone()
        state = rpkit.current_state(conn)
    assert (about.events, about.retired) == (total, retired)
    assert about.head_event_id == about.projected_at
    assert about.chats["chat_id"].tolist() == state["chats"]["id"].tolist()
    assert about.chats["turns"].tolist() == state["chat_state"]["turn_count"].tolist()
    assert "<table>" in about._repr_html_()


def test_cli_events_and_info_print_what_the_library_returns(demo_path):
    runner = CliRunner()
    with rpkit.open_db(demo_path) as conn:
        newest = frames.events(conn, newest=3)
        about = frames.summary(conn)
    out = runner.invoke(main, ["events", str(demo_path), "--limit", "3"]).output.splitlines()
    assert [int(line.split()[0]) for line in out] == newest["id"].tolist()
    assert [line.split()[3] for line in out] == newest["kind"].astype(str).tolist()
    info = runner.invoke(main, ["info", str(demo_path)]).output
    assert f"events       {about.events} ({about.retired} retired)" in info
    for chat in about.chats.itertuples():
        assert f"{chat.turns:>5} turns  {chat.title}" in info


def test_numpy_ids_are_ids_everywhere_and_bools_are_not(demo_path):
    with rpkit.open_db(demo_path) as conn:
        turn = frames.turns(conn, 1)
        live = turn.loc[~turn["retired"], "event_id"].iloc[-1]
        assert isinstance(live, np.integer)
        assert rpkit.rewind_point(conn, live) >= int(live)
        hide = rpkit.append(conn, "turn_hidden", {"target": live}, chat_id=np.int64(1))
        assert conn.execute(
            "SELECT superseded_by FROM event_log WHERE id = ?", (int(live),)
        ).fetchone() == (hide,)
        for bad in (True, 3.0, "3"):
            with pytest.raises(rpkit.RpkitError):
                rpkit.append(conn, "turn_hidden", {"target": bad}, chat_id=1)
        with pytest.raises(rpkit.EventIdError):
            rpkit.state_at(conn, True)
