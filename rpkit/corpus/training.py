"""Training data from a whole corpus: ``messages`` or ``preferences`` rows, history by history, on Dask.

``export_training(corpus, out, "preferences")`` reads each history's
``turns``, ``chats`` and (a few columns of) ``events`` partitions in a Dask
task, makes the same rows ``rpkit.exports`` makes of one history, and writes
them as ``OUT/history=<name>/part-0.parquet``. A task handles a batch of
histories one at a time and returns only counts, so no process ever holds the
corpus (or more than one history's rows). Every file has the export's declared
schema, so ``datasets.load_dataset("parquet", data_dir=OUT)`` reads the folder
as one dataset (the ``history`` column names each row's history). The dataset
is written into a temporary folder beside ``OUT`` and renamed into place when
every task is done: ``OUT`` is whole or absent.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from ..display import counted
from ..exports import check_names
from ..exports.errors import ExportExistsError, ExportPathError, UnknownExportError
from ..exports.messages import COLUMNS as MESSAGE_COLUMNS
from ..exports.messages import check_paths, message_rows
from ..exports.preferences import COLUMNS as PREFERENCE_COLUMNS
from ..exports.preferences import check_context, preference_rows
from ..exports.rows import to_arrow_table
from ..exports.tree import EVENT_COLUMNS, tree_of_events
from .analysis import batches
from .dataset import PART, partition_dir, read_partition
from .engine import run_tasks
from .errors import SourceError
from .reader import open_corpus

PathArg = str | PathLike[str]
TRAINING = {"messages": MESSAGE_COLUMNS, "preferences": PREFERENCE_COLUMNS}


@dataclass
class TrainingReport:
    """What ``export_training`` wrote: rows per history."""

    kind: str
    out: Path
    histories: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        rows = int(self.histories["rows"].sum()) if len(self.histories) else 0
        n = counted(len(self.histories), "history", "histories")
        return (
            f"TrainingReport({counted(rows, 'row')} of {self.kind} from {n} into {self.out.name}/)"
        )


def history_rows(corpus: Path, name: str, kind: str, options: dict[str, Any]) -> pd.DataFrame:
    """One history's ``kind`` rows, from its corpus partitions."""
    turns = read_partition(corpus, "turns", name)
    chats = read_partition(corpus, "chats", name)
    events = read_partition(corpus, "events", name, EVENT_COLUMNS)
    tree = tree_of_events(name, turns, chats, events, names=options.get("names"))
    if kind == "messages":
        return message_rows(
            tree, paths=options["paths"], include_retired=options["include_retired"]
        )
    return preference_rows(
        tree, include_user_edits=options["include_user_edits"], context=options["context"]
    )


def training_part(
    corpus: str, out: str, names: list[str], kind: str, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Write the rows of a batch of histories, one at a time (a Dask task); rows per history."""
    done = []
    for name in names:
        rows = history_rows(Path(corpus), name, kind, options)
        folder = partition_dir(Path(out), "", name)
        folder.mkdir(parents=True)
        pq.write_table(to_arrow_table(rows, TRAINING[kind]), folder / PART)
        done.append({"history": name, "rows": len(rows)})
        del rows
    return done


def _failed(args: tuple[Any, ...], reason: str) -> list[dict[str, Any]]:
    raise SourceError(f"exporting training rows of {', '.join(args[2])} failed: {reason}")


def export_training(
    corpus: PathArg,
    out: PathArg,
    kind: str = "messages",
    *,
    client: Any = None,
    paths: str = "live",
    include_retired: bool = False,
    include_user_edits: bool = False,
    context: int | None = None,
    names: object = None,
    replace: bool = False,
    batch: int = 20,
) -> TrainingReport:
    """Write a corpus's ``messages`` or ``preferences`` rows as a partitioned Parquet dataset ``out``.

    The options are those of ``rpkit.exports.messages`` (``paths``,
    ``include_retired``) and ``rpkit.exports.preferences``
    (``include_user_edits``, ``context``), and ``names``. ``out`` must not
    exist unless ``replace``. One Dask task per ``batch`` histories; no client:
    Dask's local scheduler, ``client``: its cluster.
    """
    if kind not in TRAINING:
        raise UnknownExportError(
            f"unknown training export {kind!r}; use one of: {', '.join(TRAINING)}"
        )
    options = {
        "paths": check_paths(paths),
        "include_retired": bool(include_retired),
        "include_user_edits": bool(include_user_edits),
        "context": check_context(context),
        "names": check_names(names) or None,
    }
    source = open_corpus(corpus)
    out = Path(out)
    if out.exists() and not replace:
        raise ExportExistsError(
            f"{out} exists; pass replace=True (--replace) to write over it, or name another folder"
        )
    if out.exists() and not out.is_dir():
        raise ExportPathError(f"{out} is a file; export-training writes a folder: name one")
    if not out.parent.is_dir():
        raise ExportPathError(f"the folder {out.parent} does not exist; create it first")
    temp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    temp.mkdir()
    try:
        size = sum(
            (partition_dir(source.out, "turns", n) / PART).stat().st_size for n in source.histories
        )
        tasks = [
            (str(source.out), str(temp), names_, kind, options)
            for names_ in batches(source.histories, batch)
        ]
        done = run_tasks(training_part, tasks, client=client, failed=_failed, input_bytes=size)
        if out.exists():
            aside = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
            os.rename(out, aside)
            os.rename(temp, out)
            shutil.rmtree(aside)
        else:
            os.rename(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    rows = pd.DataFrame([r for part in done for r in part], columns=["history", "rows"])
    return TrainingReport(kind, out, rows.astype({"rows": "int64"}))
