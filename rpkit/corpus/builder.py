"""Building a corpus from a large export: split into shards, one Dask task per shard.

Each task imports its shard into its own history file (``OUT/_histories/<shard>.db``,
written under a temporary name and renamed once imported and classified) and
exports it into the corpus. A task killed midway leaves a temporary file in
``OUT/_tmp`` (removed by the next build) and no history or partition; a rerun
skips the shards already in the corpus (exporting again one whose partitions
a power cut left unreadable) and completes the rest. The import goes through
``rpkit.importers.import_file(db, format, shard)``, so every format it knows
can be built.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from .. import importers
from ..classifiers import classify as classify_history
from ..display import counted
from ..durable import fsync_dir, make_dirs
from ..operations import open_db
from .dataset import (
    TMP,
    check_out,
    list_histories,
    readable,
    recorded_source,
    remove_stale_temps,
    temp_path,
)
from .engine import run_tasks
from .errors import CorpusArgumentError, HistoryNameError, SourceError, SourceFormatError
from .exporter import export_history
from .paths import ANY, WRITABLE, absolute, check_workers, need
from .shards import Split, split_source

PathArg = str | PathLike[str]
HISTORIES = "_histories"
SHARD_COLUMNS = ["shard", "status", "reason", "records", "turns", "events"]
STAGES = ["import_s", "classify_s", "export_s"]  # where each shard's time went


def _import(
    out: Path,
    fmt: str,
    name: str,
    shard: Path,
    classify: bool,
    skip_bad: bool,
    took: dict,
    durable: bool,
) -> None:
    db = out / HISTORIES / f"{name}.db"
    tmp = temp_path(out, name, ".db")
    try:
        start = time.perf_counter()
        importers.import_file(tmp, fmt, shard, skip_bad=skip_bad)
        took["import_s"] = time.perf_counter() - start
        if classify:
            with open_db(tmp) as conn:
                classify_history(conn)
            took["classify_s"] = time.perf_counter() - start - took["import_s"]
        os.replace(tmp, db)  # SQLite has synced the file; durable: the rename as well
        if durable:
            fsync_dir(db.parent)
    finally:
        for extra in ("", "-wal", "-shm", "-journal"):
            Path(f"{tmp}{extra}").unlink(missing_ok=True)


def build_shard(
    out: str,
    fmt: str,
    name: str,
    shard: str,
    records: int,
    classify: bool,
    skip_bad: bool,
    durable: bool = False,
) -> dict[str, Any]:
    """Import, classify and export one shard (a Dask task); a row of the build's summary."""
    root = Path(out)
    db = root / HISTORIES / f"{name}.db"
    took: dict[str, float] = {}
    try:
        need(root / TMP, "corpus folder", WRITABLE)
        if not db.exists():
            need(root / shard, "shard", ANY)
            _import(root, fmt, name, root / shard, classify, skip_bad, took, durable)
        start = time.perf_counter()
        rows = export_history(str(db.resolve()), out, name, durable)
        took["export_s"] = time.perf_counter() - start
    except Exception as exc:  # a shard that fails is reported; the others go on
        return _row(name, "failed", f"{type(exc).__name__}: {exc}", records)
    return _row(name, "done", "", records, rows["turns"], rows["events"], took)


def _row(
    name: str, status: str, reason: str, records: int, turns=None, events=None, took=None
) -> dict:
    row = dict(zip(SHARD_COLUMNS, (name, status, reason, records, turns, events), strict=True))
    return row | {stage: (took or {}).get(stage, float("nan")) for stage in STAGES}


@dataclass
class BuildReport:
    """What a ``build`` did: shards done, skipped (built before) and failed, with reasons.

    ``shards`` has a row per shard, with the seconds its import, classify and
    export took in its task (NaN for a stage it did not run).
    """

    out: Path
    shards: pd.DataFrame = field(repr=False)
    bad_records: list[tuple[str, str]] = field(default_factory=list, repr=False)
    duplicated: list[str] = field(default_factory=list, repr=False)  # where each repeat was

    def count(self, status: str) -> int:
        """How many shards have this status (``done``, ``skipped``, ``failed``)."""
        return int((self.shards["status"] == status).sum())

    @property
    def ok(self) -> bool:
        """True when no shard failed."""
        return self.count("failed") == 0

    def _lines(self) -> list[str]:
        lines = [
            f"{counted(len(self.shards), 'shard')} into {self.out.name}/: "
            f"{self.count('done')} done, {self.count('skipped')} skipped, "
            f"{self.count('failed')} failed"
        ]
        failed = self.shards[self.shards["status"] == "failed"]
        lines += [f"  {r.shard}: failed ({r.reason})" for r in failed.head(20).itertuples()]
        if self.bad_records:
            lines.append(f"  {counted(len(self.bad_records), 'bad record')} skipped:")
            lines += [f"    {where}: {why}" for where, why in self.bad_records[:20]]
        if self.duplicated:
            lines.append(
                f"  {counted(len(self.duplicated), 'duplicated record')} (a repeat of an "
                f"earlier one) left out: {', '.join(self.duplicated[:20])}"
            )
        return lines

    def __repr__(self) -> str:
        return "BuildReport(" + "\n".join(self._lines()) + ")"

    def _repr_html_(self) -> str:
        head = html.escape(self._lines()[0])
        return f"<p><b>BuildReport: {head}</b></p>" + self.shards.to_html(index=False)


def _check(source: Path, fmt: str, shard_size: object) -> None:
    shardable = [f.name for f in importers.FORMATS.values() if f.shards]
    if fmt not in shardable:
        raise SourceFormatError(
            f"unknown export format {fmt!r} for a build; use one of: {', '.join(shardable)}"
        )
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise CorpusArgumentError(
            f"shard_size must be a positive int, not {shard_size!r}; pass the number of "
            "records (files, conversations or lines) per shard, e.g. shard_size=1000"
        )
    if not source.exists():
        raise SourceError(f"the source {source} does not exist; pass an export file or folder")


def _size(source: Path) -> int:
    if source.is_file():
        return source.stat().st_size
    return sum(p.stat().st_size for p in source.rglob("*") if p.is_file())


def _plan(out: Path, split: Split) -> tuple[list[Any], list[dict[str, Any]]]:
    done = set(list_histories(out))
    todo, skipped = [], []
    for shard in split.shards:
        db = (out / HISTORIES / f"{shard.name}.db").resolve()
        if shard.name in done:
            before = recorded_source(out, shard.name)
            if before is not None and before != str(db):
                raise HistoryNameError(
                    f"the corpus already holds a history {shard.name!r} exported from {before}; "
                    "build into another folder"
                )
            if db.exists() and readable(out, shard.name):  # else: exported again
                skipped.append(_row(shard.name, "skipped", "already in the corpus", shard.records))
                continue
        todo.append(shard)
    return todo, skipped


def build(
    source: PathArg,
    out: PathArg,
    *,
    format: str,
    shard_size: int = 1000,
    classify: bool = True,
    client: Any = None,
    skip_bad: bool = False,
    durable: bool = False,
) -> BuildReport:
    """Turn a large export into a corpus: split it, import, classify and export each shard.

    ``format`` is an importer's (``rpkit.importers.FORMATS``); ``source`` a
    folder of chat files (SillyTavern), one JSON export (streamed) or a
    JSON-lines file; ``shard_size`` records (files, conversations or lines) per shard.
    Bad records are refused, or skipped and listed with ``skip_bad``.
    ``durable`` fsyncs each partition, as in ``export``, and each history
    file's rename into ``_histories``. No client: Dask's local scheduler
    (processes); ``client``: its cluster, whose workers must see ``out`` at
    the same path (``WorkerPathError`` names a worker that does not).
    """
    source, out = absolute(source), absolute(out)
    _check(source, format, shard_size)
    check_out(out, durable=durable)
    check_workers(client, [(out / TMP, "corpus folder", WRITABLE)])  # before writing shards
    remove_stale_temps(out)
    split = split_source(source, out, format, shard_size, skip_bad)
    if durable:
        make_dirs(out / HISTORIES)
    else:
        (out / HISTORIES).mkdir(exist_ok=True)
    todo, skipped = _plan(out, split)
    args = [
        (str(out), format, s.name, s.path, s.records, classify, skip_bad, durable) for s in todo
    ]
    rows = run_tasks(
        build_shard,
        args,
        client=client,
        failed=lambda a, why: _row(a[2], "failed", why, a[4]),
        input_bytes=_size(source),
    )
    by_name = {r["shard"]: r for r in [*rows, *skipped]}
    frame = pd.DataFrame([by_name[s.name] for s in split.shards], columns=SHARD_COLUMNS + STAGES)
    frame = frame.astype({"records": "int64", "turns": "Int64", "events": "Int64"})
    frame = frame.astype(dict.fromkeys(STAGES, "float64"))
    return BuildReport(out, frame, list(split.bad), list(split.duplicated))
