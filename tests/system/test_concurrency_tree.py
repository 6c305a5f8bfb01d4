"""Concurrency: a process appends to chat D while chat C is rewound, undone and forked.

Afterwards nobody saw "database is locked" (or any other ``OperationalError``),
every turn the appender was told it wrote is in the final log with its text,
chat C reads exactly as it did before the rewinds (each was undone), every fork
reads as C up to its turn, and ``verify`` is clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

import rpkit
from rpkit import frames

from ..helpers import log_rows

pytestmark = pytest.mark.slow

APPENDS = 60
ROUNDS = 6

APPENDER = textwrap.dedent(
    """
    import json, sys
    import rpkit
    rpkit.set_progress(False)
    db, chat, out, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    written, errors = [], []
    for i in range(n):
        try:
            with rpkit.open_db(db) as conn:
                written.append(
                    (rpkit.append(conn, "user_turn", {"text": f"d {i}"}, chat_id=chat), f"d {i}")
                )
        except Exception as exc:  # the test asserts there are none
            errors.append(f"{type(exc).__name__}: {exc}")
    with open(out, "w") as fh:
        json.dump({"written": written, "errors": errors}, fh)
    """
)


def _appended(db, chat: int) -> bool:
    with rpkit.open_db(db) as conn:
        found = conn.execute(
            "SELECT 1 FROM event_log WHERE chat_id = ? AND json_extract(payload, '$.text') = 'd 0'",
            (chat,),
        )
        return found.fetchone() is not None


def test_append_in_one_chat_while_another_is_rewound_undone_and_forked(tmp_path):
    db = tmp_path / "history.db"
    rpkit.demo.build_demo(db, events=200, seed=9)
    with rpkit.open_db(db) as conn:
        chat_c, chat_d = 1, 2
        c_rows = [r for r in log_rows(conn) if r[2] == chat_c]
        c_turns = frames.turns(conn, chat_c, include_retired=False)
        point = rpkit.rewind_point(conn, int(c_turns["event_id"].iloc[len(c_turns) // 2]))
    out = tmp_path / "appender.json"
    appender = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(db), str(chat_d), str(out), str(APPENDS)]
    )
    errors, forks, overlapped = [], [], 0
    try:
        deadline = time.monotonic() + 120
        while not _appended(db, chat_d) and time.monotonic() < deadline:
            time.sleep(0.05)  # start once the appender is writing
        i = 0
        while i < ROUNDS or appender.poll() is None:
            overlapped += appender.poll() is None
            i += 1
            try:
                snap = rpkit.execute_rewind(
                    db_path=db, data_dir=tmp_path, after_event_id=point, chat_id=chat_c
                )
                rpkit.undo_rewind(db_path=db, data_dir=tmp_path, snapshot=snap)
                with rpkit.open_db(db) as conn:
                    turn = int(c_turns["event_id"].iloc[(i * 7) % len(c_turns)])
                    forks.append((rpkit.fork_chat(conn, turn), turn))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        assert appender.wait(timeout=600) == 0
    report = json.loads(out.read_text())
    assert errors == [] and report["errors"] == []
    assert overlapped >= 2, "the rounds should run while the appender writes"
    print(f"\n[concurrency] {i} rounds of rewind, undo and fork, {overlapped} while appending")
    assert len(report["written"]) == APPENDS
    with rpkit.open_db(db) as conn:
        texts = {r[0]: json.loads(r[4]).get("text") for r in log_rows(conn)}
        for event_id, text in report["written"]:
            assert texts.get(event_id) == text
        assert [r for r in log_rows(conn) if r[2] == chat_c] == c_rows
        full = frames.turns(conn, chat_c, include_retired=False)
        for fork, turn in forks:
            cut = full[
                full["position"] <= int(full.loc[full["event_id"] == turn, "position"].iloc[0])
            ]
            got = frames.turns(conn, fork, include_retired=False)
            assert got["text"].tolist() == cut["text"].tolist()
        assert rpkit.verify(conn).ok
