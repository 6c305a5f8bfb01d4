"""Exporting histories into a corpus: one Dask task per history.

``export(["a.db", "b.db"], "corpus")`` writes each history's ``events``,
``turns``, ``affinity`` and ``chats`` frames into its partitions
(``corpus/<table>/history=<stem>/``), replacing an earlier export of the same
file atomically, partition by partition.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from .. import frames
from ..display import counted
from ..operations import open_db
from ..store import atomic
from .dataset import (
    TABLES,
    TMP,
    check_out,
    history_file_name,
    list_histories,
    recorded_source,
    write_partitions,
)
from .engine import run_tasks
from .errors import HistoryNameError, SourceError
from .paths import FILE, WRITABLE, absolute, check_workers, need

PathArg = str | PathLike[str]


def history_frames(conn: Any) -> dict[str, pd.DataFrame]:
    """A history's four corpus tables as pandas frames, read in one transaction.

    ``events`` is ``frames.events(conn, include_retired=True)`` (retired events
    kept and flagged), ``turns`` is ``frames.transcripts`` (every chat's ``frames.turns``),
    ``affinity`` is ``frames.affinity(conn)`` and ``chats`` is ``frames.chats(conn)``
    (the same columns, lineage and turn counts included).
    """
    with atomic(conn, write=False):
        return {
            "events": frames.events(conn, include_retired=True),
            "turns": frames.transcripts(conn),
            "affinity": frames.affinity(conn),
            "chats": frames.chats(conn),
        }


@dataclass
class ExportReport:
    """What an ``export`` wrote: rows per table and history."""

    out: Path
    histories: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        rows = self.histories
        total = {t: int(rows[t].sum()) for t in TABLES} if len(rows) else dict.fromkeys(TABLES, 0)
        counts = ", ".join(f"{v} {k}" for k, v in total.items())
        histories = counted(len(rows), "history", "histories")
        return f"ExportReport({histories} into {self.out.name}/: {counts})"

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>" + self.histories.to_html(index=False)


def export_history(db: str, out: str, name: str, durable: bool = False) -> dict[str, Any]:
    """Export one history file into the corpus at ``out`` (a Dask task); rows per table."""
    need(db, "history", FILE)
    need(Path(out) / TMP, "corpus folder", WRITABLE)
    with open_db(db) as conn:
        tables = history_frames(conn)
    # chats last: a history is listed once all four are there
    write_partitions(Path(out), name, {t: tables[t] for t in TABLES}, source=db, durable=durable)
    return {"history": name, **{t: len(tables[t]) for t in TABLES}}


def _failed(args: tuple[Any, ...], reason: str) -> dict[str, Any]:
    raise SourceError(f"exporting {args[0]} failed: {reason}")


def plan_export(
    histories: Iterable[PathArg], out: Path, *, replace: bool = False, durable: bool = False
) -> list[tuple[str, str, str]]:
    """Check the histories and the corpus folder; the (db, out, name) of each task."""
    paths = [Path(h) for h in histories]
    for p in paths:
        if not p.is_file():
            raise SourceError(f"history {p} does not exist (or is not a file); pass .db files")
    by_name: dict[str, Path] = {}
    for p in paths:
        name = history_file_name(p)
        if name in by_name:
            raise HistoryNameError(
                f"two histories are named {name!r} ({by_name[name]} and {p}); a corpus names "
                "a history by its file's stem: rename one of them"
            )
        by_name[name] = p
    check_out(out, durable=durable)
    existing = set(list_histories(out))
    for name, p in by_name.items():
        if name in existing and not replace:
            before = recorded_source(out, name)
            if before is not None and Path(before).resolve() != p.resolve():
                raise HistoryNameError(
                    f"the corpus already holds a history {name!r} exported from {before}; "
                    f"{p} would replace it: rename the file, or pass replace=True"
                )
    return [(str(p.resolve()), str(out), name) for name, p in by_name.items()]


def export(
    histories: Iterable[PathArg],
    out: PathArg,
    *,
    client: Any = None,
    replace: bool = False,
    durable: bool = False,
) -> ExportReport:
    """Export history files into the corpus folder ``out``, one Dask task per history.

    A history is named by its file's stem; two with one name are refused, and
    so is a name the corpus already holds from another file (unless
    ``replace``). Re-exporting a history replaces its partitions atomically.
    ``durable`` fsyncs each partition, so that it also survives a power cut.
    No client: Dask's local scheduler (processes); ``client``: its cluster,
    whose workers must see the histories and ``out`` at the same paths
    (``WorkerPathError`` names a worker that does not).
    """
    out = absolute(out)
    paths = [absolute(h) for h in histories]
    planned = plan_export(paths, out, replace=replace, durable=durable)
    tasks = [(*task, durable) for task in planned]
    needs = [(task[0], "history", FILE) for task in tasks]
    check_workers(client, [*needs, (out / TMP, "corpus folder", WRITABLE)])
    size = sum(Path(task[0]).stat().st_size for task in tasks)
    rows = run_tasks(export_history, tasks, client=client, failed=_failed, input_bytes=size)
    frame = pd.DataFrame(rows, columns=["history", *TABLES])
    return ExportReport(out, frame.astype(dict.fromkeys(TABLES, "int64")))
