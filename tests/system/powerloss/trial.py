"""Recording an operation, the reference states, and the checker run on each crash state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import rpkit
from rpkit.corpus.builder import HISTORIES
from rpkit.corpus.dataset import PART, TMP, list_histories
from rpkit.operations import read_snapshot_meta
from rpkit.store.sqlite import sqlite3

from ...helpers import ROOT
from .crashstates import crash_states, read_trace
from .operations import Operation
from .recorder import Call, parse, traced_env, tree

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT COUNT(*) FROM event_log").fetchone()
print("ready", flush=True)
sys.stdin.read()
conn.close()
"""


@dataclass
class Recorded:
    op: Operation
    start: dict[str, bytes | None]
    end: dict[str, bytes | None]
    calls: list[Call]

    @property
    def returned_at(self) -> int:
        marks = [i for i, c in enumerate(self.calls) if c.op == "K" and c.path == "returned"]
        assert len(marks) == 1, "the operation did not return"
        return marks[0]


def record(op: Operation, tmp: Path, fault: str = "") -> Recorded:
    """Set the operation up, run it traced in a child process, read its trace."""
    root = tmp / "root"
    root.mkdir(parents=True)
    args = op.setup(root)
    holder = None
    if op.held:  # another process has the history open, as a notebook would
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(root / op.history)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "ready"
    try:
        start = tree(root)
        log = tmp / "trace"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.system.powerloss._child",
                op.name,
                str(root),
                json.dumps(args),
                fault,
            ],
            cwd=ROOT,
            env=traced_env(root, log),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        end = tree(root)
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=30)
    return Recorded(op, start, end, parse(log, root))


def materialize(files: dict[str, bytes | None], dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name, content in files.items():
        if content is None:
            (dest / name).mkdir(parents=True, exist_ok=True)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(content)
    return dest


def _log(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT * FROM event_log ORDER BY id").fetchall()


def _raw_log(path: Path) -> list[tuple]:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return _log(con)
    finally:
        con.close()


@dataclass
class References:
    before: list[tuple]
    after: list[tuple]
    snapshot_logs: list[list[tuple]]  # of every snapshot the start or the end holds
    artifacts: dict[str, bytes]  # a corpus's partitions and histories at the end
    listed: list[str]  # the histories the corpus lists at the end


def references(rec: Recorded, tmp: Path) -> References:
    """The logs before and after (each opened through open_db, as the checker opens states)."""
    logs = []
    snaps: list[list[tuple]] = []
    for label, files in (("before", rec.start), ("after", rec.end)):
        folder = materialize(files, tmp / f"ref-{label}")
        if rec.op.history is None:
            logs.append([])
        else:
            with rpkit.open_db(folder / rec.op.history) as conn:
                logs.append(_log(conn))
        snap_dir = folder / rec.op.data_dir / "snapshots"
        for path in sorted(snap_dir.glob("*.sqlite")) if snap_dir.is_dir() else []:
            snaps.append(_raw_log(path))
    artifacts, listed = {}, []
    if rec.op.corpus:
        out = tmp / "ref-after" / rec.op.corpus
        artifacts = {str(p.relative_to(tmp / "ref-after")): p.read_bytes() for p in _artifacts(out)}
        listed = list_histories(out)
    return References(logs[0], logs[1], snaps, artifacts, listed)


def _artifacts(out: Path) -> list[Path]:
    """What a corpus lists: its partitions and (of a build) its histories."""
    if not out.is_dir():
        return []
    found = [*out.rglob(PART), *(out / HISTORIES).glob("*.db")]
    return sorted(p for p in found if TMP not in p.relative_to(out).parts)


@dataclass
class Tally:
    op: str
    states: int = 0
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def inconsistent(self) -> int:
        return self.outcomes["inconsistent"]

    def line(self) -> str:
        seen = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return f"{self.op}: {self.states} states ({seen}), inconsistent {self.inconsistent}"


def check_state(
    folder: Path, op: Operation, ref: References, returned: bool
) -> tuple[str, list[str]]:
    """Check one crash state; return its outcome (before, after, step) and any problems."""
    if op.history is None:
        problems = _check_corpus(folder, op.corpus, ref, returned)
        return ("inconsistent" if problems else "whole"), problems
    problems: list[str] = []
    try:
        with rpkit.open_db(folder / op.history) as conn:
            log = _log(conn)
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            report = rpkit.verify(conn)
    except Exception as exc:  # the first promise: every state opens
        return "inconsistent", [f"open_db: {type(exc).__name__}: {exc}"]
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    if not report.ok:
        problems.append(f"verify: {report!r}")
    new = ref.after[len(ref.before) :]
    if log == ref.after:
        outcome = "after"
    elif log == ref.before:
        outcome = "before"
    elif (
        op.steps
        and ref.after[: len(ref.before)] == ref.before
        and log in (ref.before + new[:j] for j in range(len(new) + 1))
    ):
        outcome = "step"
    else:
        outcome = "neither"
        problems.append(
            f"the log ({len(log)} events) is neither the state before ({len(ref.before)}) "
            f"nor after ({len(ref.after)})"
        )
    if returned and log != ref.after:
        problems.append(f"the operation had returned, but the log is {outcome}")
    snap_dir = folder / op.data_dir
    listed = rpkit.list_snapshots(snap_dir)
    kept = {r[0] for r in ref.after}
    removed = [r for r in ref.before if r[0] not in kept] or None
    covered = False
    for path, kind in zip(listed["path"], listed["kind"], strict=True):
        try:
            read_snapshot_meta(path, check=True)
            content = _raw_log(Path(path))
        except Exception as exc:
            problems.append(f"listed snapshot {Path(path).name} is not whole: {exc}")
            continue
        if content not in ref.snapshot_logs:
            problems.append(f"listed snapshot {Path(path).name} holds a log no snapshot held")
        # a whole-file copy holds the log before; a rewind record the events it removed
        covered = covered or (kind == op.snapshot_kind and content in (ref.before, removed))
    if op.snapshot_kind and outcome == "after" and ref.after != ref.before and not covered:
        problems.append(f"the after-state exists without its {op.snapshot_kind} snapshot")
    if op.corpus:
        problems += _check_corpus(folder, op.corpus, ref, returned)
    return ("inconsistent" if problems else outcome), problems


def _check_corpus(folder: Path, rel: str, ref: References, returned: bool) -> list[str]:
    """Durable: every partition (history) in place is whole; once it returned, all are there."""
    problems = []
    out = folder / rel
    found = {str(p.relative_to(folder)): p.read_bytes() for p in _artifacts(out)}
    for name, content in found.items():
        if ref.artifacts.get(name) != content:
            problems.append(f"{name} is not the file the operation wrote")
    if returned:
        missing = sorted(set(ref.artifacts) - set(found))
        if missing:
            problems.append(f"it had returned, but {len(missing)} files are gone: {missing[:3]}")
        listed = list_histories(out) if out.is_dir() else []
        if listed != ref.listed:
            problems.append(f"it had returned, but the corpus lists {listed}, not {ref.listed}")
    return problems


def run_trials(rec: Recorded, tmp: Path, *, seed: int, between: int, variants: int) -> Tally:
    """Every crash state of a recording, checked; the tally of outcomes."""
    ref = references(rec, tmp)
    trace = read_trace(rec.start, rec.calls)
    ret = rec.returned_at
    tally = Tally(rec.op.name)
    for n, state in enumerate(
        crash_states(trace, seed=seed, returned_at=ret, between=between, variants=variants)
    ):
        folder = tmp / f"state-{n}"
        state.write(folder)
        outcome, problems = check_state(folder, rec.op, ref, returned=state.point > ret)
        tally.states += 1
        tally.outcomes[outcome] += 1
        if problems and len(tally.problems) < 20:
            tally.problems.append(f"point {state.point}/{len(rec.calls)} {state.kind}: {problems}")
        shutil.rmtree(folder)
    return tally
