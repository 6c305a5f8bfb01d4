"""Concurrency: one process appends while others rewind, restore, catch up and read.

Seven real processes (``tests/_concurrency_child.py``) share one history file.
Bounded by counts (appends, rewinds, restores; the others stop when the appender
is done). Afterwards:

* nobody saw "database is locked" (or any other ``OperationalError``);
* the ids the appender was given are unique (also across restores);
* every event the appender wrote is in the final log with its text, or was
  removed by design: it is in a rewind's or a restore's own snapshot of the state
  it started from, and that rewind cut it (id past its target) or that restore
  replaced it;
* the final log holds nothing nobody wrote;
* every reader's read was a whole state: the projection equal to a rebuild of its
  log, no event retired by an event that no longer exists (a half-done rewind).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rpkit
from rpkit.store.sqlite import sqlite3

from ..helpers import ROOT

CHILD = Path(__file__).with_name("_concurrency_child.py")
ROLES = ["appender", "rewinder", "restorer", "importer", "catcher", "reader1", "reader2"]
EXPORT = ROOT / "data" / "exports" / "sillytavern" / "Mira - 2024-6-5@14h56m50s.jsonl"

pytestmark = pytest.mark.slow


def log_texts(path: Path) -> dict[int, str | None]:
    con = sqlite3.connect(path)
    try:
        return {
            i: json.loads(p).get("text")
            for i, p in con.execute("SELECT id, payload FROM event_log ORDER BY id")
        }
    finally:
        con.close()


def imported_ids(path: Path, file: str) -> set[int]:
    """Ids of the events an import of ``file`` wrote (each records its source)."""
    con = sqlite3.connect(path)
    try:
        return {
            i
            for (i,) in con.execute(
                "SELECT id FROM event_log WHERE json_extract(payload, '$.source.file') = ?",
                (file,),
            )
        }
    finally:
        con.close()


@pytest.mark.parametrize("seed", [4, 5])
def test_appender_rewinders_restorers_catch_up_and_readers(tmp_path, seed):
    db = tmp_path / "history.db"
    rpkit.demo.build_demo(db, events=200, seed=9)
    with rpkit.open_db(db) as conn:
        setup_head = rpkit.store.head_id(conn)
        chat = conn.execute("SELECT MIN(id) FROM chats").fetchone()[0]
        snapshot = rpkit.take_snapshot(conn, data_dir=tmp_path, kind="setup")
    setup_log = log_texts(db)
    cfg = {
        "db": str(db),
        "data_dir": str(tmp_path),
        "snapshot": str(snapshot),
        "chat_id": chat,
        "setup_head": setup_head,
        "done_flag": str(tmp_path / "appender.done"),
        "appends": 300,
        "rewinds": 8,
        "restores": 3,
        "seed": seed,
        "pause": 0.01,
        "roles": ROLES,
        "export": str(EXPORT),
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    procs = {
        role: subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                role,
                str(tmp_path / "config.json"),
                str(tmp_path / f"{role}.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ROLES
    }
    reports = {}
    for role, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{role} failed:\n{err}"
        reports[role] = json.loads((tmp_path / f"{role}.json").read_text())

    # Nobody saw "database is locked" or any other OperationalError.
    for role, report in reports.items():
        assert report["errors"] == [], f"{role}: {report['errors'][:5]}"

    written = reports["appender"]["written"]
    ids = [w["id"] for w in written]
    assert len(ids) == len(set(ids)), "an id was handed out twice"
    assert min(ids) > setup_head

    rewinds = reports["rewinder"]["rewinds"]
    restores = reports["restorer"]["restores"]
    assert rewinds and restores, (reports["rewinder"], reports["restorer"])
    cuts = []  # (log before the operation, ids the operation kept)
    for r in rewinds:
        before = log_texts(Path(r["snapshot"]))
        cuts.append((before, {i for i in before if i <= r["target"]}))
    for r in restores:
        cuts.append((log_texts(Path(r["pre"])), set(log_texts(Path(r["snapshot"])))))

    with rpkit.open_db(db) as conn:
        rpkit.catch_up(conn)
        assert rpkit.verify(conn).ok
    final = log_texts(db)
    lost = []
    removed_by_design = 0
    for w in written:
        if final.get(w["id"]) == w["text"]:
            continue
        assert w["id"] not in final, f"id {w['id']} holds another event than the one written"
        if any(before.get(w["id"]) == w["text"] and w["id"] not in kept for before, kept in cuts):
            removed_by_design += 1
        else:
            lost.append(w)
    assert lost == [], f"{len(lost)} appended events vanished: {lost[:5]}"
    ours = {w["id"]: w["text"] for w in written}
    [import_count] = reports["importer"]["imports"]
    imported = imported_ids(db, EXPORT.name)
    assert not imported & set(ours), "the import and the appender were given the same id"
    strangers = {
        i: t for i, t in final.items() if i > setup_head and ours.get(i) != t and i not in imported
    }
    assert strangers == {}
    assert {i: t for i, t in final.items() if i <= setup_head}.items() <= setup_log.items()

    reads = [reports[r] for r in ("reader1", "reader2")]
    assert [r["inconsistent"] for r in reads] == [[], []]
    assert all(r["reads"] > 0 for r in reads)
    print(
        f"\n[concurrency] {len(written)} events written ({removed_by_design} removed by "
        f"{len(rewinds)} rewinds and {len(restores)} restores, {len(written) - removed_by_design} "
        f"in the final log), {reports['rewinder']['stale']} stale previews refused, "
        f"{sum(r['reads'] for r in reads)} consistent reads, {reports['catcher']['runs']} catch-ups folding "
        f"{reports['catcher']['folded']} events, "
        f"{reports['appender'].get('edits_raced', 0)} edits raced with a rewind, an import of "
        f"{import_count} events ({len(imported)} left), 0 lock errors"
    )
