"""One role of the concurrency test, run as its own process with ``sys.executable``.

``python _concurrency_child.py ROLE CONFIG OUT``: ROLE is ``appender``, ``rewinder``,
``restorer``, ``importer``, ``catcher`` or ``reader`` (a trailing number runs a second
copy);
CONFIG is a JSON file written by the test;
OUT receives a JSON report. Every ``sqlite3.OperationalError`` (e.g. "database is
locked") is caught and reported, never retried; any other unexpected exception
ends the process with a traceback and a non-zero status.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import rpkit
from rpkit.store import atomic, get_meta, head_id
from rpkit.store.sqlite import sqlite3


def _done(cfg: dict) -> bool:
    return Path(cfg["done_flag"]).exists()


def _wait_for_others(cfg: dict) -> None:
    """Start appending once every other role is running (bounded: 60 s)."""
    folder = Path(cfg["done_flag"]).parent
    for _ in range(6000):
        if all((folder / f"{role}.ready").exists() for role in cfg["roles"]):
            break
        time.sleep(0.01)
    (folder / "go").touch()


def _wait_for_go(cfg: dict) -> None:
    go = Path(cfg["done_flag"]).with_name("go")
    for _ in range(6000):
        if go.exists():
            return
        time.sleep(0.01)


def appender(cfg: dict, report: dict) -> None:
    """Append steadily: turns through the API, a few raw rows as another program would, edits."""
    written = report["written"] = []
    chat = cfg["chat_id"]
    last_turn = None
    _wait_for_others(cfg)
    with rpkit.open_db(cfg["db"]) as conn:
        for i in range(cfg["appends"]):
            time.sleep(cfg["pause"])
            text = f"appender {i}"
            try:
                if i % 10 == 9 and last_turn is not None:
                    try:
                        new = rpkit.edit_turn(conn, last_turn, text)
                    except (rpkit.TurnError, rpkit.EventIdError):
                        report["edits_raced"] = report.get("edits_raced", 0) + 1
                        continue
                    written.append({"id": new, "text": text, "how": "edit"})
                    last_turn = new
                elif i % 7 == 3:  # a program that writes the log without projecting
                    cur = conn.execute(
                        "INSERT INTO event_log(ts, chat_id, kind, payload) VALUES (?, ?, ?, ?)",
                        (
                            "2026-02-01T00:00:00+00:00",
                            chat,
                            "user_turn",
                            json.dumps({"text": text}),
                        ),
                    )
                    conn.commit()
                    written.append({"id": cur.lastrowid, "text": text, "how": "raw"})
                else:
                    new = rpkit.append(conn, "user_turn", {"text": text}, chat_id=chat)
                    written.append({"id": new, "text": text, "how": "append"})
                    last_turn = new
            except sqlite3.OperationalError as exc:
                conn.rollback()
                report["errors"].append(f"append {i}: {exc}")
    Path(cfg["done_flag"]).touch()


def rewinder(cfg: dict, report: dict) -> None:
    """Preview, then rewind with the confirmed preview; a stale preview is refused and retried."""
    rng = random.Random(cfg["seed"])
    done = report["rewinds"] = []
    report["stale"] = 0
    attempts, retry = 0, False
    while len(done) < cfg["rewinds"] and attempts < cfg["rewinds"] * 40:
        attempts += 1
        time.sleep(rng.uniform(0.0, 0.05) if retry else rng.uniform(0.1, 0.5))
        retry = False
        if _done(cfg):
            break
        try:
            with rpkit.open_db(cfg["db"]) as conn:
                head = head_id(conn)
                target = rng.randint(max(cfg["setup_head"], head - 40), head)
                preview = rpkit.compute_rewind_preview(conn, target)
            try:
                snap = rpkit.execute_rewind(
                    db_path=cfg["db"],
                    data_dir=cfg["data_dir"],
                    after_event_id=target,
                    expected_preview=preview,
                )
            except rpkit.StalePreviewError:
                report["stale"] += 1
                retry = True
                continue
            done.append({"target": target, "snapshot": str(snap)})
        except sqlite3.OperationalError as exc:
            report["errors"].append(f"rewind: {exc}")
        if _done(cfg):
            break


def restorer(cfg: dict, report: dict) -> None:
    """Snapshot, let the others work a while, then restore ("undo" the recent past)."""
    rng = random.Random(cfg["seed"])
    done = report["restores"] = []
    first = True
    while len(done) < cfg["restores"] and not _done(cfg):
        try:
            if first:  # once, the snapshot taken before the appender started
                snap, first = Path(cfg["snapshot"]), False
            else:
                with rpkit.open_db(cfg["db"]) as conn:
                    snap = rpkit.take_snapshot(conn, data_dir=cfg["data_dir"], kind="manual")
            time.sleep(rng.uniform(0.3, 1.0))
            if _done(cfg):
                break
            pre = rpkit.restore_snapshot(db_path=cfg["db"], data_dir=cfg["data_dir"], snapshot=snap)
            done.append({"pre": str(pre), "snapshot": str(snap)})
        except sqlite3.OperationalError as exc:
            report["errors"].append(f"restore: {exc}")


def importer(cfg: dict, report: dict) -> None:
    """Import an export in the middle of it all (one transaction, like any writer)."""
    from rpkit.importers import import_file

    report["imports"] = []
    time.sleep(random.Random(cfg["seed"]).uniform(1.5, 3.0))
    try:
        done = import_file(cfg["db"], "sillytavern", cfg["export"])
        report["imports"].append(done.turns + done.chats + done.bots)
    except sqlite3.OperationalError as exc:
        report["errors"].append(f"import: {exc}")


def catcher(cfg: dict, report: dict) -> None:
    """Project what the raw writer appended, as a background worker of the app would."""
    report["folded"] = report["runs"] = 0
    while not _done(cfg) and report["runs"] < 5000:
        try:
            with rpkit.open_db(cfg["db"]) as conn:
                report["folded"] += rpkit.catch_up(conn)
            report["runs"] += 1
        except sqlite3.OperationalError as exc:
            report["errors"].append(f"catch_up: {exc}")
        time.sleep(0.005)


def _frames(conn: sqlite3.Connection, chat_id: int, bad: list[str]) -> int:
    """Read the notebook frames; the affinity timeline must end where ``edges`` is."""
    from rpkit import frames

    rows = len(frames.events(conn)) + len(frames.turns(conn, chat_id))
    last = frames.final_affinity(frames.affinity(conn))
    edges = {
        (s, d): (a, n)
        for s, d, a, n in conn.execute("SELECT src, dst, affinity, updates FROM edges")
    }
    for rec in last.itertuples():
        a, n = edges.get((rec.src, rec.dst), (None, None))
        if a is None or abs(a - rec.affinity) > 1e-9 or n != rec.updates:
            bad.append(f"affinity timeline of {rec.pair} ends at {rec.affinity}, edges has {a}")
    return rows + len(last)


def reader(cfg: dict, report: dict) -> None:
    """Read in one transaction at a time; every read must be a whole, consistent state."""
    bad = report["inconsistent"] = []
    report["reads"] = report["frame_rows"] = 0
    while not _done(cfg) and report["reads"] < 2000:
        try:
            with rpkit.open_db(cfg["db"]) as conn, atomic(conn, write=False):
                head = head_id(conn)
                at = get_meta(conn, "projected_at")
                check = rpkit.verify(conn)
                dangling = conn.execute(
                    "SELECT COUNT(*) FROM event_log WHERE superseded_by IS NOT NULL "
                    "AND superseded_by NOT IN (SELECT id FROM event_log)"
                ).fetchone()[0]
                if not check.differences.empty:
                    bad.append(f"projection differs from its log at {at}: {check!r}")
                if dangling:
                    bad.append(f"{dangling} events retired by events that no longer exist")
                if at > head:
                    bad.append(f"projection at {at} past the newest event {head}")
                if at == head and report["reads"] % 5 == 0:
                    then, now = rpkit.state_at(conn, head), rpkit.current_state(conn)
                    if not rpkit.diff_states(then, now).empty:
                        bad.append(f"state_at({head}) differs from the live tables")
                    report["frame_rows"] += _frames(conn, cfg["chat_id"], bad)
            report["reads"] += 1
        except sqlite3.OperationalError as exc:
            report["errors"].append(f"read: {exc}")


def main() -> None:
    role, config, out = sys.argv[1:4]
    rpkit.set_progress(False)
    cfg = json.loads(Path(config).read_text())
    report: dict = {"role": role, "pid": os.getpid(), "errors": []}
    Path(cfg["done_flag"]).with_name(f"{role}.ready").touch()
    if role != "appender":
        _wait_for_go(cfg)
    try:
        globals()[role.rstrip("0123456789")](cfg, report)
    finally:
        Path(out).write_text(json.dumps(report))


if __name__ == "__main__":
    main()
